"""Dataset building: list and decode clean photos, degrade, caption, write WebDataset shards
and Parquet manifests, and the ``make-dataset`` CLI. Never imports ``daclip``.

Roles, one module each:

- the shared build driver: ``build`` (plan -> check/overwrite -> distribute -> assemble ->
  sizes and run record -> summary), ``job`` (the typed ``ShardJob`` interface and the one
  worker), ``distribute`` (distributors: the local spawn pool; ``--part i/N`` / ``slurm``),
  ``distribute_ray`` (``--distributor ray``: one Ray task per job, the cluster session),
  ``shards`` (done markers, resume check, ``--overwrite``, ``sizes.json``), ``assemble`` (shard
  Parquets -> one manifest), ``build_cli`` (options, progress bars and errors of the build
  commands);
- ``synthesize``: ``sources`` (reader: list, hash, dedup, number the shards before work),
  ``worker`` (``ShardSpec`` job: decode -> degrade -> encode one shard group), ``synthesize``
  (listing -> plan, the command);
- ``ingest``: ``pairs`` (pair LQ/GT files, rank variants), ``ingest_worker`` (``IngestSpec`` job:
  one shard of pairs), ``ingest`` (listing -> plan, the command);
- shared by both workers: ``writers`` (tar + Parquet + stats, atomic), ``rows`` (the row base and
  the one error row), ``manifest`` (the one schema, keys, atomic Parquet I/O, ``read_manifest``);
- ``validate``: the one manifest validator behind ``read_manifest`` (schema, types, keys,
  degradation names, member names, shard names, merge pairing; one ``ManifestError``);
- tools: ``merge``, ``verify``, ``stats``, ``export`` (DA-CLIP's CSV), ``preview`` (contact
  sheets), ``degrade`` (one image);
- captions: ``caption`` (config, the run, the command), ``caption_plan`` (which images, where),
  ``captioner`` (BLIP, lazily imported), ``caption_store`` (``captions.parquet`` and the join),
  ``caption_ray`` (``--distributor ray``: a pool of BLIP actors);
- ``common`` (the low shared layer: ``files`` (atomic writes with the umask's mode, ``safe_join``,
  ``open_regular``), ``locks`` (one run per output folder, stale temporary files), ``tars`` (the
  safe tar reader), ``images`` (the one decoder, pixel limit checked from headers), ``cli`` (click
  helpers and the error boundary), devices, model sources) and ``cli`` (the ``make-dataset``
  group, subcommands imported lazily).

Trust: manifests and shards may come from anyone. They are read only through ``read_manifest``
(validated), the safe tar reader and the guarded decoder; they may point anywhere to *read*,
never decide where anything is *written*.
"""
