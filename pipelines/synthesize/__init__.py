"""``make-dataset synthesize``: clean photos -> degraded WebDataset shards + Parquet manifests.

- ``command``: the listing -> plan, ``synthesize`` (the typed function) and the click command;
- ``groups``: drop exact duplicates, cut the unique sources into shard groups (``SourceGroups``);
- ``worker``: the ``ShardSpec`` job: decode -> degrade -> encode one shard group.
"""
