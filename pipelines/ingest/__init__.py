"""``make-dataset ingest``: existing LQ/GT folders (or LQ images alone) -> the same shards and manifests.

- ``command``: the listing -> plan, ``ingest`` (the typed function) and the click command;
- ``pairing``: list the folders, pair LQ with GT files, rank variants;
- ``worker``: the ``IngestSpec`` job: one shard of pairs.
"""
