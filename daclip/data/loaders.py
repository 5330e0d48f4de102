"""DataLoaders of model-ready batches from a :class:`~daclip.data.shards.ShardIndex` (DA-CLIP training and evaluation).

The stream, in order: per-degradation resampled shard streams (train) mixed by :class:`MixedStream`
under the run's ``--mix`` policy, or every listed sample once (eval) ->
:class:`~daclip.data.transforms.ToTensors` -> :func:`collate`.

Training loaders are built once per run: their workers persist, and the stream restarts at
every checkpoint from a seed derived from the step (:mod:`daclip.data.segments`).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset

from .mixing import StreamMixer
from .segments import SegmentedStream
from .shards import ShardIndex, sample_stream
from .transforms import ToTensors

__all__ = ["MixedStream", "collate", "eval_loader", "make_loader", "train_loader", "train_stream"]


def collate(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack a list of :class:`ToTensors` outputs into a batch."""
    batch: dict[str, Any] = {
        "key": [s["key"] for s in samples],
        "image": torch.stack([s["image"] for s in samples]),
        "label": torch.tensor([s["label"] for s in samples], dtype=torch.long),  # -1: mixture or unknown
        "target": torch.stack([s["target"] for s in samples]),  # B x 10 multi-hot (zeros: unknown)
        "has_caption": torch.tensor([s["has_caption"] for s in samples], dtype=torch.bool),
        "text": torch.stack([s["text"] for s in samples]),
    }
    if samples and "hq" in samples[0]:
        batch["hq"] = torch.stack([s["hq"] for s in samples])
        batch["has_hq"] = torch.tensor([s["has_hq"] for s in samples], dtype=torch.bool)
    return batch


class MixedStream(IterableDataset):
    """Interleave several endless sample streams (one per degradation), then apply ``stage``.

    Shards are written one degradation per folder, so a single resampled shard stream with a
    bounded shuffle buffer yields batches of mostly one degradation (the loss then swings with
    whichever shard is open). Each sample is drawn from the stream the mixing policy picks
    (:class:`~daclip.data.mixing.StreamMixer`, weighted by the streams' sample counts when
    ``weighted``), with a generator seeded per (seed, rank, worker).
    """

    def __init__(self, streams: list, weights: list[float], seed: int, stage, policy: str = "weighted"):
        self.streams = streams
        self.weights = list(weights)
        self.seed = seed
        self.stage = stage
        self.policy = policy

    def __iter__(self) -> Iterator[dict[str, Any]]:
        import webdataset as wds

        rank, _, worker, _ = wds.utils.pytorch_worker_info()
        mixer = StreamMixer(self.policy, self.weights,
                            np.random.default_rng(np.random.SeedSequence([self.seed, rank, worker, 1])))
        iterators = [iter(stream) for stream in self.streams]

        def mixed() -> Iterator[dict[str, Any]]:
            while True:
                yield next(iterators[mixer.next()])

        return self.stage(mixed())


def train_stream(seed: int, *, index: ShardIndex, image_size: int, tokenizer: Any, with_hq: bool = False,
                 shuffle_buffer: int = 256, mix: str = "weighted", **limits: Any) -> IterableDataset:
    """One training segment: resampled, shuffled, random crops; with several degradations, one
    stream per degradation, interleaved by :class:`MixedStream` under the ``mix`` policy.
    ``limits``: ``max_pixels`` and ``max_bad_fraction`` of :func:`~daclip.data.shards.sample_stream`."""
    stage = ToTensors(image_size, tokenizer, seed=seed, train=True, with_hq=with_hq)
    groups = list(index.by_degradation().values())
    if len(groups) > 1:
        buffer = max(16, shuffle_buffer // len(groups))
        streams = [
            sample_stream(group, resampled=True, seed=seed + k, shuffle_buffer=buffer, with_hq=with_hq, **limits)
            for k, group in enumerate(groups)
        ]
        return MixedStream(streams, [group.num_samples for group in groups], seed, stage, policy=mix)
    dataset = sample_stream(index, resampled=True, seed=seed, shuffle_buffer=shuffle_buffer, with_hq=with_hq,
                            **limits)
    dataset.append(stage)
    return dataset


def eval_stream(index: ShardIndex, *, image_size: int, tokenizer: Any, with_hq: bool = False,
                **limits: Any) -> IterableDataset:
    """Every listed sample once (split across ranks and workers), deterministic val transform."""
    dataset = sample_stream(index, resampled=False, shuffle_buffer=0, with_hq=with_hq, **limits)
    dataset.append(ToTensors(image_size, tokenizer, train=False, with_hq=with_hq))
    return dataset


def make_loader(dataset: IterableDataset, *, batch_size: int, workers: int = 0, persistent: bool = False) -> DataLoader:
    """Batches of ``dataset``; ``persistent`` keeps the worker processes between iterations."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        num_workers=workers,
        collate_fn=collate,
        worker_init_fn=_one_thread if workers else None,
        persistent_workers=persistent and workers > 0,
    )


def train_loader(index: ShardIndex, *, seed: int, start: int, every: int, batch_size: int, workers: int,
                 **stream: Any) -> DataLoader:
    """The run's one training loader: segments of :func:`train_stream` restarting at ``start`` and
    every multiple of ``every`` (one ``iter(loader)`` each), workers started once."""
    dataset = SegmentedStream(partial(train_stream, index=index, **stream), seed=seed, start=start, every=every)
    return make_loader(dataset, batch_size=batch_size, workers=workers, persistent=True)


def eval_loader(index: ShardIndex, *, batch_size: int, workers: int = 0, persistent: bool = False,
                **stream: Any) -> DataLoader:
    """Every sample of ``index`` once per ``iter``; ``persistent`` for a loader validated from many times."""
    return make_loader(eval_stream(index, **stream), batch_size=batch_size, workers=workers, persistent=persistent)


def _one_thread(_: int) -> None:
    torch.set_num_threads(1)
