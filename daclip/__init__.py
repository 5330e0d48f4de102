"""DA-CLIP models, streaming loaders, trainers, the IR-SDE restoration model and the
inference CLIs. Reads manifests through ``pipelines``; never the reverse."""
