"""A training stream that restarts at checkpoints while its loader workers live for the whole run.

A trainer's data stream restarts at every checkpoint with a seed derived from the step it
restarts at, so a run resumed from a checkpoint reads exactly what an uninterrupted run reads.
Rebuilding the DataLoader for that restarted its worker processes every checkpoint (and every
epoch); instead the loader is built once with ``persistent_workers`` and each segment is one
``iter(loader)``: every worker's copy of :class:`SegmentedStream` counts its ``__iter__`` calls
and builds segment k's pipeline from segment k's seed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import torch


def stream_seed(seed: int, step: int) -> int:
    """Seed of the data-stream segment that starts at ``step`` (stable across resumes)."""
    return int(np.random.SeedSequence([seed, step]).generate_state(1)[0] & 0x7FFFFFFF)


def segment_starts(start: int, every: int) -> Iterator[int]:
    """Steps at which the stream (re)starts: ``start``, then every multiple of ``every`` after it."""
    step = start
    while True:
        yield step
        step = (step // every + 1) * every


class SegmentedStream(torch.utils.data.IterableDataset):
    """``make(seed)`` builds one segment's sample pipeline; the k-th ``__iter__`` call of this
    object (in a worker or in the main process) iterates segment k of ``segment_starts``."""

    def __init__(self, make: Callable[[int], Iterable[Any]], seed: int, start: int, every: int):
        self.make = make
        self.seed = seed
        self.start = start
        self.every = every
        self._calls = 0

    def seed_of(self, segment: int) -> int:
        starts = segment_starts(self.start, self.every)
        for _ in range(segment):
            next(starts)
        return stream_seed(self.seed, next(starts))

    def __iter__(self) -> Iterator[Any]:
        segment, self._calls = self._calls, self._calls + 1
        return iter(self.make(self.seed_of(segment)))


def segmented_batches(loader: Any, start: int, every: int, per_step: int) -> Iterator[Any]:
    """Batches for steps ``start, start+1, ...``: one ``iter(loader)`` per segment, ``per_step``
    batches (micro-batches) per step. ``loader`` must wrap a :class:`SegmentedStream` built with
    the same ``start`` and ``every``."""
    starts = segment_starts(start, every)
    begin = next(starts)
    while True:
        end = next(starts)
        batches = iter(loader)
        for _ in range((end - begin) * per_step):
            yield next(batches)
        begin = end
