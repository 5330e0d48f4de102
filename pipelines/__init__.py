"""Dataset building: list and decode clean photos, degrade, caption, write WebDataset shards
and Parquet manifests, and the ``make-dataset`` CLI. Never imports ``daclip``."""
