"""Worker role of ``ingest``: one shard of existing LQ/GT pairs, as ``synthesize`` writes them.

Each pair is read, checked against the hash it was listed with, decoded (``images.load_image``)
and re-encoded; LQ/GT size mismatches are error rows unless ``--fix-size crop`` (both cropped to
the common top-left region, recorded); nothing is ever resized. Rows have ``origin="ingested"``
and ``params=null``. Every failure becomes a row, never an exception.

An LQ-only image (:attr:`Pair.lq_only`) is an ``ok`` row with no HQ: members ``lq.<fmt>`` and
``json`` only, ``hq_sha256`` null. Its key is ``make_key(label, lq_sha256, 0)`` and its split (for
``auto``) ``assign_split(lq_sha256)``, where ``lq_sha256`` hashes the LQ member as written: the
same pixels give the same key and split wherever and however often they are ingested.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..build.job import ShardStats
from ..build.rows import base_row, error_row
from ..build.sources import Source, source_id
from ..build.writers import Sample, TarShardWriter
from ..common import images
from ..common.files import read_regular
from ..distribute.progress import Progress
from ..manifest.schema import (
    SCHEMA_VERSION,
    assign_split,
    dumps_json,
    make_key,
    sha256_hex,
    shard_stem,
    task_slug,
)
from .pairing import Pair

ORIGIN = "ingested"
KIND = "ingested"


@dataclass(frozen=True)
class IngestConfig:
    image_format: str = "png"
    png_level: int = images.DEFAULT_PNG_LEVEL  # zlib level of PNG members (pixels do not depend on it)
    max_pixels: int | None = images.DEFAULT_MAX_PIXELS
    fix_size: str = "skip"  # "skip": mismatched pairs are error rows; "crop": crop both to the common size
    shard_size: int = 1000
    val_fraction: float = 0.0  # used by split "auto"

    def __post_init__(self) -> None:
        if self.image_format not in images.FORMATS:
            raise ValueError(f"--image-format must be one of {', '.join(images.FORMATS)}")
        if self.png_level not in images.PNG_LEVELS:
            raise ValueError("--png-level must be 0-9")
        if self.fix_size not in ("skip", "crop"):
            raise ValueError("--fix-size must be 'skip' or 'crop'")
        if self.shard_size < 1:
            raise ValueError("--shard-size must be at least 1")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError("--val-fraction must be in [0, 1)")


    def recorded(self) -> dict[str, Any]:
        """The config as recorded (run record, spec hash); the PNG level only where it is not the default."""
        cfg = asdict(self)
        if self.png_level == images.DEFAULT_PNG_LEVEL:
            del cfg["png_level"]
        return cfg


@dataclass(frozen=True)
class IngestSpec:
    """One job: shard ``shard_id`` of one task's pairs (``ShardJob``)."""

    task: str
    shard_id: int
    pairs: tuple[Pair, ...]
    config: IngestConfig
    out: str

    def stem(self, task: str) -> str:
        return shard_stem(task, self.shard_id, KIND)

    def folder(self, task: str) -> Path:
        return Path(self.out) / task_slug(task)

    def spec_hash(self, task: str) -> str:
        payload = {
            "schema_version": SCHEMA_VERSION,
            "kind": KIND,
            "task": task,
            "shard_id": self.shard_id,
            "config": self.config.recorded(),
            "pairs": [[p.split, p.lq.source, p.lq.sha256, p.gt.source if p.gt else None,
                       p.gt.sha256 if p.gt else None, p.variant, p.problem] + (["lq-only"] if p.lq_only else [])
                      for p in self.pairs],
        }
        return sha256_hex(dumps_json(payload).encode("utf-8"))

    @property
    def tasks(self) -> tuple[str, ...]:
        return (self.task,)

    @property
    def samples(self) -> int:
        return len(self.pairs)

    def run(self, tasks: tuple[str, ...], progress: Progress) -> dict[str, ShardStats]:
        return {task: process_ingest_shard(self, progress) for task in tasks}


def _decode(src: Source, max_pixels: int | None, what: str) -> np.ndarray | str:
    if src.error:
        return f"{what}: {src.error}"
    try:
        data = read_regular(src.path)
    except OSError as exc:
        return f"{what}: cannot read file: {exc.strerror or exc}"
    if sha256_hex(data) != src.sha256:
        return f"{what}: file changed after it was listed; rerun"
    try:
        return images.load_image(data, max_pixels=max_pixels)
    except images.ImageError as exc:
        return f"{what}: {exc}"
    except Exception as exc:
        return f"{what}: cannot decode image: {type(exc).__name__}: {exc}"


def _error(writer: TarShardWriter, pair: Pair, cfg: IngestConfig, message: str) -> None:
    split = assign_split(source_id(pair.lq), cfg.val_fraction) if pair.split == "auto" else pair.split
    writer.add_row(error_row(pair.task, ORIGIN, pair.lq, pair.variant, split, message))


def _write(writer: TarShardWriter, pair: Pair, cfg: IngestConfig, lq: np.ndarray, gt: np.ndarray | None,
           size_fix: dict[str, Any] | None = None) -> None:
    """Encode and store one ingested sample: LQ and GT, or the LQ alone (no ground truth). The key
    and the ``auto`` split come from the GT's hash, or the LQ's when there is no GT."""
    fmt = cfg.image_format
    lq_bytes = images.encode_image(lq, fmt, cfg.png_level)
    hq_bytes = None if gt is None else images.encode_image(gt, fmt, cfg.png_level)
    lq_sha = sha256_hex(lq_bytes)
    hq_sha = None if hq_bytes is None else sha256_hex(hq_bytes)
    identity = hq_sha or lq_sha
    key = make_key(pair.task, identity, pair.variant)
    if writer.has_key(key):
        _error(writer, pair, cfg, "duplicate: same LQ pixels as another image in this shard" if gt is None
               else "duplicate: same GT pixels and variant as another pair in this shard")
        return
    split = assign_split(identity, cfg.val_fraction) if pair.split == "auto" else pair.split
    height, width = lq.shape[:2]
    gt_source = None if pair.gt is None or gt is None else pair.gt
    meta = {"key": key, "degradation": pair.task, "origin": ORIGIN, "params": None, "split": split,
            "variant": pair.variant, "source": pair.lq.source, "source_sha256": pair.lq.sha256,
            "gt_source": gt_source and gt_source.source, "gt_source_sha256": gt_source and gt_source.sha256,
            "hq_sha256": hq_sha, "lq_sha256": lq_sha, "width": width, "height": height, "size_fix": size_fix,
            "image_format": fmt}
    members = {} if hq_bytes is None else {f"hq.{fmt}": hq_bytes}
    members.update({f"lq.{fmt}": lq_bytes, "json": dumps_json(meta).encode("utf-8")})
    row = base_row(pair.task, ORIGIN, pair.lq, pair.variant, split, hq_sha256=hq_sha, lq_sha256=lq_sha,
                   width=width, height=height, status="ok", error_message=None)
    writer.write(Sample(key=key, members=members, row=row))


def ingest_pair(pair: Pair, cfg: IngestConfig, gt_cache: dict[str, Any], writer: TarShardWriter) -> None:
    if pair.lq_only:  # an LQ image without ground truth: an ok row whose only image member is the LQ
        lq = _decode(pair.lq, cfg.max_pixels, "LQ")
        if isinstance(lq, str):
            _error(writer, pair, cfg, lq)
        else:
            _write(writer, pair, cfg, lq, None)
        return
    if pair.problem or pair.gt is None:
        _error(writer, pair, cfg, pair.problem or "no GT file")
        return
    if pair.gt.sha256 not in gt_cache:
        gt_cache.clear()  # pairs are ordered by GT: keep only the current one
        gt_cache[pair.gt.sha256] = _decode(pair.gt, cfg.max_pixels, "GT")
    gt = gt_cache[pair.gt.sha256]
    lq = _decode(pair.lq, cfg.max_pixels, "LQ")
    for value in (gt, lq):
        if isinstance(value, str):
            _error(writer, pair, cfg, value)
            return
    size_fix = None
    if gt.shape != lq.shape:
        (gh, gw), (lh, lw) = gt.shape[:2], lq.shape[:2]
        if cfg.fix_size == "skip":
            _error(writer, pair, cfg, f"size mismatch: LQ {lw}x{lh} vs GT {gw}x{gh} "
                                      "(--fix-size crop crops both to the common region)")
            return
        h, w = min(gh, lh), min(gw, lw)
        size_fix = {"lq": [lw, lh], "gt": [gw, gh], "cropped_to": [w, h]}
        gt, lq = np.ascontiguousarray(gt[:h, :w]), np.ascontiguousarray(lq[:h, :w])
    _write(writer, pair, cfg, lq, gt, size_fix)


def process_ingest_shard(spec: IngestSpec, progress: Progress) -> ShardStats:
    """Write one ingested shard (all its pairs); returns its stats."""
    writer = TarShardWriter(spec.folder(spec.task), spec.stem(spec.task))
    gt_cache: dict[str, Any] = {}
    try:
        for pair in spec.pairs:
            try:
                ingest_pair(pair, spec.config, gt_cache, writer)
            except Exception as exc:  # never lose a row
                _error(writer, pair, spec.config, f"cannot ingest pair: {type(exc).__name__}: {exc}")
            progress(1)
        return writer.close({"task": spec.task, "shard_id": spec.shard_id, "spec_hash": spec.spec_hash(spec.task),
                             "kind": KIND})
    except BaseException:
        writer.abort()
        raise
