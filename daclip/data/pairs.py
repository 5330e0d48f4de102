"""Aligned (LQ, HQ) pairs for restoration: random patches, deterministic batches, validation crops.

Everything random here is a pure function of explicit seeds (:func:`derive_seed`), so the batch
of any training step can be rebuilt from ``(seed, rank, step)`` after a resume.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import torch

from pipelines.common.images import DEFAULT_MAX_PIXELS

from .health import DEFAULT_MAX_BAD_FRACTION
from .mixing import check_policy, types_for_step
from .shards import ShardIndex, decode_sample, sample_stream, split_by_degradation

__all__ = ["PatchBatches", "derive_seed", "load_val_samples", "random_patch_pair"]


def derive_seed(*parts: int) -> int:
    """A 63-bit seed from integers (run seed, rank, step, purpose...), stable across processes."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1, dtype=np.uint64)[0] >> 1)


def random_patch_pair(
    lq: np.ndarray, hq: np.ndarray, patch: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The same random crop of LQ and HQ (reflect-padded if smaller), then a random flip/transposition."""
    if lq.shape != hq.shape:
        raise ValueError(f"LQ {lq.shape} and HQ {hq.shape} are not aligned")
    h, w = lq.shape[:2]
    if h < patch or w < patch:
        ph, pw = max(0, patch - h), max(0, patch - w)
        mode = "reflect" if ph < h and pw < w else "edge"
        lq = np.pad(lq, ((0, ph), (0, pw), (0, 0)), mode=mode)
        hq = np.pad(hq, ((0, ph), (0, pw), (0, 0)), mode=mode)
        h, w = lq.shape[:2]
    top = int(rng.integers(0, h - patch + 1))
    left = int(rng.integers(0, w - patch + 1))
    pair = [a[top : top + patch, left : left + patch] for a in (lq, hq)]
    hflip, vflip, transpose = (bool(b) for b in rng.integers(0, 2, 3))
    out = []
    for a in pair:
        if hflip:
            a = a[:, ::-1]
        if vflip:
            a = a[::-1]
        if transpose:
            a = a.transpose(1, 0, 2)
        out.append(np.ascontiguousarray(a))
    return out[0], out[1]


class PatchBatches:
    """Deterministic batches ``(lq, hq)`` (B x 3 x P x P float in [0, 1]) for steps ``start..``.

    The types of step s's samples come from the ``mix`` policy as a pure function of the step
    (:func:`~daclip.data.mixing.types_for_step`: ``round-robin`` takes types in turn, sample i of
    step s being type ``(s * B + i) % n``; ``weighted`` draws them in proportion to the types'
    sample counts from a generator seeded by the step). Each type has its own resampled shard stream, restarted every ``segment`` steps with a seed derived from
    ``(seed, rank, segment, type)``, so the batch of any step can be reproduced from a checkpoint.
    """

    def __init__(self, indexes: dict[str, ShardIndex], batch_size: int, patch: int, seed: int, rank: int,
                 segment: int, shuffle_buffer: int, mix: str = "round-robin", decode_threads: int = 0,
                 max_pixels: int | None = DEFAULT_MAX_PIXELS, max_bad_fraction: float = DEFAULT_MAX_BAD_FRACTION):
        self.indexes = indexes
        self.names = sorted(indexes)
        self.batch_size = batch_size
        self.patch = patch
        self.seed = seed
        self.rank = rank
        self.segment = segment
        self.shuffle_buffer = shuffle_buffer
        self.mix = check_policy(mix)
        self.decode_threads = decode_threads
        self.max_pixels = max_pixels
        self.max_bad_fraction = max_bad_fraction
        self.weights = [indexes[name].num_samples for name in self.names]

    def _streams(self, segment: int) -> dict[str, Iterator[dict[str, Any]]]:
        """One raw (undecoded) resampled stream per type; each carries its ``decode`` function."""
        streams = {}
        for i, name in enumerate(self.names):
            pipeline = sample_stream(self.indexes[name], resampled=True, shuffle_buffer=self.shuffle_buffer,
                                     seed=derive_seed(self.seed, self.rank, segment, i), decode=False,
                                     max_bad_fraction=self.max_bad_fraction)
            streams[name] = DecodableStream(iter(pipeline), partial(decode_sample, health=pipeline.health,
                                                                max_pixels=self.max_pixels))
        return streams

    def step_types(self, step: int) -> list[str]:
        """The degradation type of each sample of step ``step``'s batch, in batch order."""
        rng = np.random.default_rng(derive_seed(self.seed, self.rank, step, 3)) if self.mix == "weighted" else None
        return [self.names[i] for i in types_for_step(self.mix, step, self.batch_size, self.weights, rng)]

    def __call__(self, start: int) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
        pool = ThreadPoolExecutor(self.decode_threads) if self.decode_threads > 0 else None
        try:
            yield from self._batches(start, pool)
        finally:
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)

    def _batches(self, start: int, pool: ThreadPoolExecutor | None) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
        step = start
        segment = step // self.segment
        streams = self._streams(segment)
        for s in range(segment * self.segment, start):  # mid-segment resume: replay the stream
            take_decoded(streams, self.step_types(s), pool)
        while True:
            if step // self.segment != segment:
                segment = step // self.segment
                streams = self._streams(segment)
            rng = np.random.default_rng(derive_seed(self.seed, self.rank, step, 1))
            lqs, hqs = [], []
            for sample in take_decoded(streams, self.step_types(step), pool):
                lq, hq = random_patch_pair(sample["lq"], sample["hq"], self.patch, rng)
                lqs.append(lq)
                hqs.append(hq)
            yield step, _batch(lqs), _batch(hqs)
            step += 1


@dataclass(frozen=True)
class DecodableStream:
    """A raw sample stream and the function that decodes (and counts) its samples."""

    samples: Iterator[dict[str, Any]]
    decode: Callable[[dict[str, Any]], dict[str, Any] | None]

    def __next__(self) -> dict[str, Any]:
        return next(self.samples)


def take_decoded(streams: dict[str, DecodableStream], names: list[str],
                 pool: ThreadPoolExecutor | None = None) -> list[dict[str, Any]]:
    """The next decodable sample of each type in ``names``, in order, decoded in ``pool`` (threads:
    image decoding releases the GIL). Undecodable samples are skipped exactly as a decoding stream
    skips them, so the result does not depend on the number of threads."""
    wanted = Counter(names)
    decoded: dict[str, deque] = {name: deque() for name in wanted}
    missing = dict(wanted)
    while missing:
        raws = [(name, next(streams[name])) for name, count in missing.items() for _ in range(count)]
        jobs = [(streams[name].decode, raw) for name, raw in raws]
        samples = (pool.map if pool is not None else map)(_call, jobs)
        for (name, _), sample in zip(raws, samples):
            if sample is not None:
                decoded[name].append(sample)
        missing = {name: wanted[name] - len(decoded[name]) for name in wanted if len(decoded[name]) < wanted[name]}
    return [decoded[name].popleft() for name in names]


def _call(job: tuple[Callable[[dict[str, Any]], Any], dict[str, Any]]) -> Any:
    decode, raw = job
    return decode(raw)


def _batch(images: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float().div(255)


def load_val_samples(manifests: Sequence[str], split: str | None, n: int, crop: int) -> list[dict[str, Any]]:
    """Up to ``n`` validation pairs, spread over degradations, centre-cropped to ``crop``."""
    per_type = split_by_degradation(manifests, split)
    quota = max(1, math.ceil(n / max(1, len(per_type))))
    out: list[dict[str, Any]] = []
    for name in sorted(per_type):
        for taken, sample in enumerate(sample_stream(per_type[name], resampled=False, shuffle_buffer=0), 1):
            h, w = sample["lq"].shape[:2]
            top, left = max(0, (h - crop) // 2), max(0, (w - crop) // 2)
            sample = {**sample, "lq": sample["lq"][top : top + crop, left : left + crop],
                      "hq": sample["hq"][top : top + crop, left : left + crop]}
            out.append(sample)
            if taken >= quota:
                break
    return out[:n] if len(out) > n else out
