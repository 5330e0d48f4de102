"""Stream decoded (LQ, HQ, caption, degradation) samples from manifests into training.

The pipeline is a visible list of small stages (webdataset building blocks, our safe tar reader):

    shard list (resampled, or fixed order) -> split by node -> split by worker -> count shards
    -> tar members (regular, size-checked: pipelines.common.tars) -> samples grouped by key
    -> keep keys the manifest lists -> decode (pixel limit) + join

Every stream counts what it reads (:class:`daclip.data.health.StreamHealth`): bad samples are
logged and skipped up to ``max_bad_fraction``, and a full pass over the shards with nothing usable
stops the run with a message instead of spinning forever.

Captions and degradations come from the manifest, never from the tar, so re-captioning a
dataset never rewrites shards. A row's label (:mod:`degradations.labels`: one type, an ``a+b``
mixture or ``unknown``) becomes two fields of each sample: ``label``, the class index of a
single-type row (``NO_LABEL``, -1, for mixtures and unknown), and ``target``, the multi-hot
vector over ``degradations.NAMES`` (all zeros for unknown). Rows without an HQ member (LQ-only
ingested photos) yield no ``hq``. Keys that a manifest does not list (another split, failed
rows) are skipped, so train and val manifests can share shards.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import webdataset as wds

from degradations import index_of
from degradations.labels import multi_hot, split_label
from pipelines.common.images import DEFAULT_MAX_PIXELS, decode_rgb
from pipelines.common.remote import is_url
from pipelines.common.tars import TarSamples
from pipelines.manifest.schema import read_manifest

from .health import DEFAULT_MAX_BAD_FRACTION, StreamHealth, check_shards

log = logging.getLogger(__name__)

NO_LABEL = -1  # ``label`` of a mixture or unknown row: no single class index


@dataclass(frozen=True)
class SampleInfo:
    degradation: str  # the manifest's label: a type, an a+b mixture, or unknown
    caption: str | None
    shard: str  # absolute tar path
    has_hq: bool = True  # False for LQ-only rows (ingested real photos without a clean image)

    @property
    def types(self) -> tuple[str, ...]:
        return split_label(self.degradation)


@dataclass(frozen=True)
class ShardIndex:
    """What the manifests say: the shards to read and, per key, degradation and caption."""

    shards: tuple[str, ...]
    samples: dict[str, SampleInfo]

    @property
    def num_samples(self) -> int:
        return len(self.samples)

    @property
    def num_captioned(self) -> int:
        return sum(info.caption is not None for info in self.samples.values())

    @property
    def num_mixtures(self) -> int:
        return sum(len(info.types) > 1 for info in self.samples.values())

    @property
    def num_unknown(self) -> int:
        return sum(not info.types for info in self.samples.values())

    @property
    def num_with_hq(self) -> int:
        return sum(info.has_hq for info in self.samples.values())

    def by_degradation(self) -> dict[str, ShardIndex]:
        """One index per degradation, sorted by name.

        Shards hold one degradation each, so a single resampled stream with a bounded shuffle
        buffer yields batches of mostly one degradation; trainers mix these per-type streams.
        """
        groups: dict[str, dict[str, SampleInfo]] = {}
        for key, info in self.samples.items():
            groups.setdefault(info.degradation, {})[key] = info
        return {
            name: ShardIndex(shards=tuple(sorted({info.shard for info in samples.values()})), samples=samples)
            for name, samples in sorted(groups.items())
        }


def load_index(manifests: str | os.PathLike | Sequence[str | os.PathLike], split: str | None = None) -> ShardIndex:
    """Read one or several manifests (rows with status ok), optionally one split only."""
    paths = [manifests] if isinstance(manifests, (str, os.PathLike)) else list(manifests)
    samples: dict[str, SampleInfo] = {}
    shards: set[str] = set()
    for path in paths:
        frame = read_manifest(path)
        if split is not None:
            frame = frame[frame["split"] == split]
        for key, degradation, caption, shard, members in zip(
            frame["key"], frame["degradation"], frame["caption"], frame["shard_path"], frame["members"]
        ):
            text = caption if isinstance(caption, str) and caption.strip() else None
            samples[key] = SampleInfo(degradation=degradation, caption=text, shard=shard, has_hq=_has_hq(members))
            shards.add(shard)
    if not samples:
        raise ValueError(f"no usable rows (status ok{', split ' + split if split else ''}) in {paths}")
    # local shards are checked here; remote ones (s3://...) are streamed and fail when opened
    missing = sorted(s for s in shards if not is_url(s) and not os.path.exists(s))
    if missing:
        raise FileNotFoundError(f"{len(missing)} shard(s) listed in the manifest are missing, e.g. {missing[0]}")
    return ShardIndex(shards=tuple(sorted(shards)), samples=samples)


def _has_hq(members: str | None) -> bool:
    """Whether a row's ``members`` JSON lists an ``hq.*`` image (LQ-only ingested rows do not)."""
    if not isinstance(members, str):
        return True  # no member list recorded: the reader finds out when it opens the sample
    return any(m.startswith("hq.") for m in json.loads(members))


def label_targets(degradation: str) -> tuple[int, list[float]]:
    """``(class index or NO_LABEL, multi-hot over NAMES)`` of a manifest label.

    ``"rainy"`` -> ``(index of rainy, one-hot)``; ``"hazy+rainy"`` -> ``(NO_LABEL, two ones)``;
    ``"unknown"`` -> ``(NO_LABEL, all zeros)``.
    """
    types = split_label(degradation)
    return (index_of(types[0]) if len(types) == 1 else NO_LABEL), multi_hot(degradation)


def check_index(index: ShardIndex) -> ShardIndex:
    """Fail fast when the index's rows are not in their shards (see :func:`daclip.data.health.check_shards`)."""
    keys: dict[str, list[str]] = {}
    for key, info in index.samples.items():
        keys.setdefault(info.shard, []).append(key)
    check_shards(keys)
    return index



def split_by_degradation(
    manifests: str | os.PathLike | Sequence[str | os.PathLike], split: str | None = None
) -> dict[str, ShardIndex]:
    """One :class:`ShardIndex` per degradation (sorted by name) of the manifests' rows."""
    return load_index(manifests, split).by_degradation()


def _member(sample: dict[str, Any], stem: str) -> bytes:
    for suffix, value in sample.items():
        if suffix.startswith(stem + ".") and suffix.rsplit(".", 1)[-1] in ("png", "webp", "jpg", "jpeg"):
            return value
    raise KeyError(f"sample {sample.get('__key__')} has no {stem} image member")


class CountShards:
    """Stage: pass shard entries through, telling the stream's health each time one is opened."""

    def __init__(self, health: StreamHealth):
        self.health = health

    def __call__(self, shards: Iterable[Any]) -> Iterator[Any]:
        for shard in shards:
            self.health.opened_shard()
            yield shard


class CountListed:
    """Stage: pass raw samples through, counting those the manifest lists (before any shuffle
    buffer, so a stream whose shards hold none of the manifest's keys is caught after one pass)."""

    def __init__(self, samples: dict[str, SampleInfo], health: StreamHealth):
        self.samples = samples
        self.health = health

    def __call__(self, source: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for raw in source:
            self.health.count("listed" if raw.get("__key__") in self.samples else "unlisted")
            yield raw


class JoinManifest:
    """Stage: drop samples the manifest does not list; attach caption and label to the image members.

    Yields ``key, degradation, label, target, caption`` and the encoded ``lq`` (and ``hq``, for rows
    that have one) bytes; the
    :class:`Decode` stage (or a consumer decoding in threads) turns them into arrays. A class
    (not a closure) so that it pickles into DataLoader workers.
    """

    def __init__(self, samples: dict[str, SampleInfo], health: StreamHealth, with_hq: bool = True):
        self.samples = samples
        self.health = health
        self.with_hq = with_hq

    def __call__(self, source: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for raw in source:
            info = self.samples.get(raw.get("__key__"))
            if info is None:
                continue
            try:
                label, target = label_targets(info.degradation)
                sample = {
                    "key": raw["__key__"],
                    "lq": _member(raw, "lq"),
                    "degradation": info.degradation,
                    "label": label,
                    "target": target,
                    "caption": info.caption,
                }
                if self.with_hq and info.has_hq:
                    sample["hq"] = _member(raw, "hq")
            except KeyError as exn:  # a bad sample is counted and skipped, never kills training
                self.health.handler(exn)
                continue
            yield sample


def decode_sample(sample: dict[str, Any], health: StreamHealth,
                  max_pixels: int | None = DEFAULT_MAX_PIXELS) -> dict[str, Any] | None:
    """The sample with its ``lq``/``hq`` bytes decoded to HxWx3 uint8 RGB (each member's pixel
    count checked from its header first); None when a member does not decode (counted)."""
    try:
        decoded = {**sample, **{name: decode_rgb(sample[name], max_pixels)
                                for name in ("lq", "hq") if name in sample}}
    except ValueError as exn:  # ImageError: undecodable or over the pixel limit
        health.handler(exn)
        return None
    health.count("usable")
    return decoded


class Decode:
    """Stage: decode the image members (undecodable samples are counted and skipped)."""

    def __init__(self, health: StreamHealth, max_pixels: int | None = DEFAULT_MAX_PIXELS):
        self.health = health
        self.max_pixels = max_pixels

    def __call__(self, source: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for sample in source:
            decoded = decode_sample(sample, self.health, self.max_pixels)
            if decoded is not None:
                yield decoded


def sample_stream(
    index: ShardIndex,
    *,
    resampled: bool = True,
    seed: int = 0,
    shuffle_buffer: int = 256,
    with_hq: bool = True,
    decode: bool = True,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    max_bad_fraction: float = DEFAULT_MAX_BAD_FRACTION,
) -> wds.DataPipeline:
    """An iterable of decoded sample dicts: ``key, lq, hq, degradation, label, caption``
    (``decode=False``: ``lq``/``hq`` stay encoded bytes, for a consumer that decodes in threads
    with :func:`decode_sample` and the pipeline's ``health``).

    ``resampled=True`` draws shards with replacement forever (each rank and DataLoader worker
    with its own deterministic seed); the trainer decides the epoch length. ``resampled=False``
    reads every shard once, split across ranks and workers (evaluation).
    """
    urls = list(index.shards)
    health = StreamHealth(len(urls), max_bad_fraction=max_bad_fraction)
    if resampled:
        stages: list[Any] = [wds.ResampledShards(urls, seed=seed, deterministic=True)]
    else:
        stages = [wds.SimpleShardList(urls), wds.split_by_node, wds.split_by_worker]
    stages += [CountShards(health), TarSamples(handler=health.handler), CountListed(index.samples, health)]
    # at this point we have an iterator over raw samples of the shards assigned to this worker
    if shuffle_buffer > 1:
        stages.append(wds.shuffle(shuffle_buffer, initial=min(shuffle_buffer, 64), seed=seed))
    stages.append(JoinManifest(index.samples, health, with_hq=with_hq))
    if decode:
        stages.append(Decode(health, max_pixels))
    pipeline = wds.DataPipeline(*stages)
    pipeline.health = health
    return pipeline
