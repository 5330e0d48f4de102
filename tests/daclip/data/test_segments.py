"""Streams restart at checkpoints from the step's seed, with loader workers started once per run."""

from __future__ import annotations

import os
from itertools import islice

import torch

from daclip.data.segments import SegmentedStream, segment_starts, segmented_batches, stream_seed


def test_segments_start_at_the_resume_step_then_at_multiples():
    assert list(islice(segment_starts(0, 5), 4)) == [0, 5, 10, 15]
    assert list(islice(segment_starts(7, 5), 4)) == [7, 10, 15, 20]


class _Numbers:
    """Segment pipeline: the seed, then an index, plus the pid that produced it."""

    def __init__(self, seed: int):
        self.seed = seed

    def __iter__(self):
        for i in range(10_000):
            yield torch.tensor([self.seed, i, os.getpid()])


def _batches(workers: int, start: int, every: int, n: int) -> list[torch.Tensor]:
    stream = SegmentedStream(_Numbers, seed=3, start=start, every=every)
    loader = torch.utils.data.DataLoader(stream, batch_size=2, num_workers=workers,
                                         persistent_workers=workers > 0)
    return list(islice(segmented_batches(loader, start, every, per_step=1), n))


def test_each_segment_is_seeded_from_its_start_step():
    batches = _batches(workers=0, start=0, every=3, n=7)
    seeds = [int(b[0, 0]) for b in batches]
    assert seeds == [stream_seed(3, 0)] * 3 + [stream_seed(3, 3)] * 3 + [stream_seed(3, 6)]
    assert [int(b[0, 1]) for b in batches[:4]] == [0, 2, 4, 0]  # a new segment reads from its start


def test_a_resumed_stream_reads_what_the_uninterrupted_one_reads():
    whole = _batches(workers=0, start=0, every=3, n=9)
    resumed = _batches(workers=0, start=6, every=3, n=3)
    assert all(torch.equal(a[:, :2], b[:, :2]) for a, b in zip(whole[6:], resumed))


def test_workers_persist_across_segments_and_give_the_same_batches():
    in_process = _batches(workers=0, start=0, every=2, n=6)
    with_worker = _batches(workers=1, start=0, every=2, n=6)
    assert all(torch.equal(a[:, :2], b[:, :2]) for a, b in zip(in_process, with_worker))
    pids = {int(b[0, 2]) for b in with_worker}
    assert len(pids) == 1 and pids != {os.getpid()}  # one worker process served all three segments
