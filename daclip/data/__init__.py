"""From manifests to training batches (reads manifests and shards through ``pipelines``).

- ``shards``: :class:`ShardIndex` (``load_index``), decoded sample streams (``sample_stream``, ``JoinManifest``);
- ``transforms``: CLIP image transforms and the per-sample :class:`ToTensors` stage;
- ``loaders``: DA-CLIP DataLoaders (``make_loader``, ``MixedStream``, ``collate``);
- ``pairs``: aligned (LQ, HQ) patches and validation crops for restoration (``PatchBatches``);
- ``prefetch``: read an iterator ahead in a background thread.
"""
