"""``make-dataset caption``: BLIP captions of the clean images, joined into every manifest.

- ``command``: the click command;
- ``run``: ``caption_manifests``, the run as a visible list of steps;
- ``config``: ``CaptionConfig`` (what to caption), ``CaptionRuntime`` (how to run it), ``CaptionReport``;
- ``plan``: which images, and where their bytes are (``CaptionPlan``);
- ``blip``: BLIP (torch/transformers imported lazily), the shard dataset;
- ``store``: ``captions.parquet``, the join into the manifests, ``--captions-file`` import;
- ``ray``: ``--distributor ray``, a pool of BLIP actors.
"""
