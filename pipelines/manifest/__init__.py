"""The manifest: the one Parquet schema and the one validator.

- ``schema``: columns, keys and member names, shard names, atomic Parquet I/O, ``read_manifest``
  (every read validated);
- ``validate``: the validator behind ``read_manifest`` (schema, types, keys, degradation names,
  member names, shard names, merge pairing; one ``ManifestError``).
"""
