"""The dataset-build driver that ``synthesize`` and ``ingest`` share, and what both workers use.

- ``driver``: ``build`` (plan -> check/overwrite -> distribute -> assemble -> sizes and run record);
- ``plan``: ``BuildPlan`` (what to build), ``BuildOptions`` (how), ``BuildReport``, manifest names;
- ``job``: the typed ``ShardJob`` interface and the one worker ``run_work``;
- ``sources``: the reader (list and hash input files, ``Source``, ``source_id``);
- ``rows``: the row base and the one error row; ``writers``: tar + Parquet + stats, atomic;
- ``resume``: done markers, the plan check, ``--overwrite``, ``sizes.json``;
- ``assemble``: shard Parquets -> one manifest;
- ``staging``: ``--out`` / ``--manifest-dir`` on object storage (stage locally, publish whole objects);
- ``summary``: the end-of-run summary; ``options``: the click options, bars and errors of the build commands.
"""
