"""Training loaders over the tiny synthesized data set (one shard set per degradation)."""

from __future__ import annotations

import torch

from daclip.controller.factory import get_tokenizer
from daclip.data.loaders import make_loader, train_stream
from daclip.data.shards import load_index

torch.set_num_threads(1)


def test_training_batches_mix_degradations_from_per_task_shards(daclip_data):
    manifests = (str(daclip_data["train"]),)
    stream = train_stream(0, index=load_index(manifests), image_size=64, tokenizer=get_tokenizer("tiny"))
    loader = make_loader(stream, batch_size=8)
    batches = iter(loader)
    mixed = [len(set(next(batches)["label"].tolist())) == 2 for _ in range(6)]
    assert sum(mixed) >= 5, "one shard per degradation must not give one-degradation batches"
