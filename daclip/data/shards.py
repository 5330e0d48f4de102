"""Stream decoded (LQ, HQ, caption, degradation) samples from manifests into training.

The pipeline is a visible list of small stages (webdataset building blocks):

    shard list (resampled, or fixed order) -> split by node -> split by worker
    -> tar members -> samples grouped by key -> keep keys the manifest lists -> decode + join

Captions and degradations come from the manifest, never from the tar, so re-captioning a
dataset never rewrites shards. Keys that a manifest does not list (another split, failed
rows) are skipped, so train and val manifests can share shards.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import webdataset as wds

from degradations import index_of
from pipelines.common.images import decode_rgb
from pipelines.manifest import read_manifest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SampleInfo:
    degradation: str
    caption: str | None
    shard: str  # absolute tar path


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
        frame = read_manifest(Path(path))
        if split is not None:
            frame = frame[frame["split"] == split]
        for key, degradation, caption, shard in zip(
            frame["key"], frame["degradation"], frame["caption"], frame["shard_path"]
        ):
            text = caption if isinstance(caption, str) and caption.strip() else None
            samples[key] = SampleInfo(degradation=degradation, caption=text, shard=shard)
            shards.add(shard)
    if not samples:
        raise ValueError(f"no usable rows (status ok{', split ' + split if split else ''}) in {paths}")
    missing = sorted(s for s in shards if not os.path.exists(s))
    if missing:
        raise FileNotFoundError(f"{len(missing)} shard(s) listed in the manifest are missing, e.g. {missing[0]}")
    return ShardIndex(shards=tuple(sorted(shards)), samples=samples)



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


class JoinManifest:
    """Stage: drop samples the manifest does not list; attach caption and label to the image members.

    Yields ``key, degradation, label, caption`` and the encoded ``lq`` (and ``hq``) bytes; the
    :class:`Decode` stage (or a consumer decoding in threads) turns them into arrays. A class
    (not a closure) so that it pickles into DataLoader workers.
    """

    def __init__(self, samples: dict[str, SampleInfo], with_hq: bool = True, handler=wds.warn_and_continue):
        self.samples = samples
        self.with_hq = with_hq
        self.handler = handler

    def __call__(self, source: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for raw in source:
            info = self.samples.get(raw.get("__key__"))
            if info is None:
                continue
            try:
                sample = {
                    "key": raw["__key__"],
                    "lq": _member(raw, "lq"),
                    "degradation": info.degradation,
                    "label": index_of(info.degradation),
                    "caption": info.caption,
                }
                if self.with_hq:
                    sample["hq"] = _member(raw, "hq")
            except Exception as exn:  # a bad sample is logged and skipped, never kills training
                if self.handler(exn):
                    continue
                raise
            yield sample


def decode_sample(sample: dict[str, Any], handler=wds.warn_and_continue) -> dict[str, Any] | None:
    """The sample with its ``lq``/``hq`` bytes decoded to HxWx3 uint8 RGB; None (after ``handler``)
    when a member does not decode."""
    try:
        return {**sample, **{name: decode_rgb(sample[name]) for name in ("lq", "hq") if name in sample}}
    except Exception as exn:
        if handler(exn):
            return None
        raise


class Decode:
    """Stage: decode the image members (undecodable samples are logged and skipped)."""

    def __init__(self, handler=wds.warn_and_continue):
        self.handler = handler

    def __call__(self, source: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for sample in source:
            decoded = decode_sample(sample, self.handler)
            if decoded is not None:
                yield decoded


def sample_stream(
    index: ShardIndex,
    *,
    resampled: bool = True,
    seed: int = 0,
    shuffle_buffer: int = 256,
    with_hq: bool = True,
    handler=wds.warn_and_continue,
    decode: bool = True,
) -> wds.DataPipeline:
    """An iterable of decoded sample dicts: ``key, lq, hq, degradation, label, caption``
    (``decode=False``: ``lq``/``hq`` stay encoded bytes, for a consumer that decodes in threads).

    ``resampled=True`` draws shards with replacement forever (each rank and DataLoader worker
    with its own deterministic seed); the trainer decides the epoch length. ``resampled=False``
    reads every shard once, split across ranks and workers (evaluation).
    """
    urls = list(index.shards)
    if resampled:
        stages: list[Any] = [wds.ResampledShards(urls, seed=seed, deterministic=True)]
    else:
        stages = [wds.SimpleShardList(urls), wds.split_by_node, wds.split_by_worker]
    stages.append(wds.tarfile_to_samples(handler=handler))
    # at this point we have an iterator over raw samples of the shards assigned to this worker
    if shuffle_buffer > 1:
        stages.append(wds.shuffle(shuffle_buffer, initial=min(shuffle_buffer, 64), seed=seed))
    stages.append(JoinManifest(index.samples, with_hq=with_hq, handler=handler))
    if decode:
        stages.append(Decode(handler))
    return wds.DataPipeline(*stages)
