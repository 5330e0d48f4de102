"""DataLoaders of model-ready batches from a :class:`~daclip.data.shards.ShardIndex` (DA-CLIP training and evaluation).

The stream, in order: per-degradation resampled shard streams (train) mixed by :class:`MixedStream`,
or every listed sample once (eval) -> :class:`~daclip.data.transforms.ToTensors` -> :func:`collate`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from .shards import ShardIndex, sample_stream
from .transforms import ToTensors

__all__ = ["MixedStream", "collate", "make_loader"]


def collate(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack a list of :class:`ToTensors` outputs into a batch."""
    batch: dict[str, Any] = {
        "key": [s["key"] for s in samples],
        "image": torch.stack([s["image"] for s in samples]),
        "label": torch.tensor([s["label"] for s in samples], dtype=torch.long),
        "has_caption": torch.tensor([s["has_caption"] for s in samples], dtype=torch.bool),
        "text": torch.stack([s["text"] for s in samples]),
    }
    if samples and "hq" in samples[0]:
        batch["hq"] = torch.stack([s["hq"] for s in samples])
    return batch


class MixedStream(torch.utils.data.IterableDataset):
    """Interleave several endless sample streams at random, then apply ``stage``.

    Shards are written one degradation per folder, so a single resampled shard stream with a
    bounded shuffle buffer yields batches of mostly one degradation (the loss then swings with
    whichever shard is open). Drawing every sample from a stream chosen at random, weighted by
    its number of samples, gives batches that mix degradations as the data set does. The choice
    uses a generator seeded per (seed, rank, worker).
    """

    def __init__(self, streams: list, weights: list[float], seed: int, stage):
        self.streams = streams
        self.weights = np.asarray(weights, dtype=np.float64) / float(np.sum(weights))
        self.seed = seed
        self.stage = stage

    def __iter__(self) -> Iterator[dict[str, Any]]:
        import webdataset as wds

        rank, _, worker, _ = wds.utils.pytorch_worker_info()
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, rank, worker, 1]))
        iterators = [iter(stream) for stream in self.streams]

        def mixed() -> Iterator[dict[str, Any]]:
            while True:
                yield next(iterators[int(rng.choice(len(iterators), p=self.weights))])

        return self.stage(mixed())


def make_loader(
    index: ShardIndex,
    *,
    image_size: int,
    tokenizer: Any,
    batch_size: int,
    seed: int = 0,
    train: bool = True,
    with_hq: bool = False,
    workers: int = 0,
    shuffle_buffer: int = 256,
    mix_degradations: bool = True,
) -> DataLoader:
    """A DataLoader of batches from a :class:`~daclip.data.shards.ShardIndex`.

    ``train=True``: resampled shards (endless; the caller fixes the epoch length), shuffled,
    random crops; with ``mix_degradations`` and several degradations, one stream per
    degradation, mixed by :class:`MixedStream` in proportion to their sample counts. ``train=False``:
    every listed sample once (split across ranks and workers), deterministic val transform, last batch may be short.
    """
    stage = ToTensors(image_size, tokenizer, seed=seed, train=train, with_hq=with_hq)
    groups = list(index.by_degradation().values()) if train and mix_degradations else []
    if len(groups) > 1:
        buffer = max(16, shuffle_buffer // len(groups))
        streams = [
            sample_stream(group, resampled=True, seed=seed + k, shuffle_buffer=buffer, with_hq=with_hq)
            for k, group in enumerate(groups)
        ]
        dataset = MixedStream(streams, [group.num_samples for group in groups], seed, stage)
    else:
        dataset = sample_stream(
            index, resampled=train, seed=seed, shuffle_buffer=shuffle_buffer if train else 0, with_hq=with_hq
        )
        dataset.append(stage)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        num_workers=workers,
        collate_fn=collate,
        worker_init_fn=_one_thread if workers else None,
        persistent_workers=False,
    )


def _one_thread(_: int) -> None:
    torch.set_num_threads(1)
