"""Restoration batches: aligned patches, decode threads that change nothing, exact replay on resume."""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from daclip.data.pairs import PatchBatches, random_patch_pair, take_decoded
from daclip.data.shards import split_by_degradation
from pipelines.common.images import encode_image


def _stream(name: str, n: int, bad: set[int]):
    for i in range(n):
        img = np.full((4, 4, 3), i, np.uint8)
        data = b"not an image" if i in bad else encode_image(img)
        yield {"key": f"{name}_{i}", "lq": data, "hq": data}


def test_take_decoded_skips_bad_samples_the_same_way_with_or_without_threads():
    results = []
    for pool in (None, ThreadPoolExecutor(3)):
        streams = {"a": _stream("a", 20, bad={1, 2}), "b": _stream("b", 20, bad={0})}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            first = take_decoded(streams, ["a", "b", "a", "a"], pool)
            second = take_decoded(streams, ["b", "a"], pool)
        results.append([s["key"] for s in first + second])
    assert results[0] == results[1] == ["a_0", "b_1", "a_3", "a_4", "b_2", "a_5"]


def test_random_patch_pair_keeps_lq_and_hq_aligned():
    img = np.arange(20 * 30 * 3, dtype=np.uint8).reshape(20, 30, 3)
    lq, hq = random_patch_pair(img, img.copy(), 8, np.random.default_rng(0))
    assert lq.shape == (8, 8, 3) and np.array_equal(lq, hq)


def _batches(daclip_data, start: int, threads: int, mix: str, n: int):
    indexes = split_by_degradation([str(daclip_data["train"])])
    batches = PatchBatches(indexes, batch_size=3, patch=16, seed=0, rank=0, segment=4, shuffle_buffer=8, mix=mix,
                           decode_threads=threads)
    stream = batches(start)
    out = [next(stream) for _ in range(n)]
    stream.close()
    return out


def test_a_resumed_batch_stream_is_the_uninterrupted_one_for_any_thread_count(daclip_data):
    for mix in ("round-robin", "weighted"):
        whole = _batches(daclip_data, 0, threads=0, mix=mix, n=7)
        resumed = _batches(daclip_data, 5, threads=2, mix=mix, n=2)  # mid-segment: replays steps 4
        for (s1, lq1, hq1), (s2, lq2, hq2) in zip(whole[5:], resumed):
            assert s1 == s2 and torch.equal(lq1, lq2) and torch.equal(hq1, hq2)
