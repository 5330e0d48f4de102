"""Dataset building: list and decode clean photos, degrade, caption, write WebDataset shards
and Parquet manifests, and the ``make-dataset`` CLI. Never imports ``daclip``.

Roles: ``sources`` (reader: list, hash, dedup, plan shard ids before work), ``images`` (the one
loader/encoder), ``worker`` (decode -> degrade -> encode one shard spec), ``writers`` (tar + Parquet
+ stats; null writer), ``distribute`` (local spawn pool; ``--part i/N`` for clusters),
``synthesize`` / ``ingest`` (the commands), ``merge`` / ``verify`` / ``stats`` (tools),
``manifest`` (the one schema and atomic I/O), ``caption`` / ``models`` (BLIP captions, model
sources), ``export`` (DA-CLIP's CSV), ``preview`` (contact sheets).
"""
