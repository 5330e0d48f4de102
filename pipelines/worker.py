"""Worker role: process one shard spec (a group of clean sources) into one shard per task.

For each source: read -> decode (``images.load_image``) -> bound the size (``--max-side`` /
``--crop``) -> encode the HQ member once; then for each task and variant: sample params with
``default_rng(sub_seed(seed, hq_sha256, task, variant))`` -> apply -> encode LQ and side maps ->
write. Every failure becomes a row (``status="error"``, ``error_message``), never an exception.
The function is pure in its spec: the same spec gives the same bytes in any process.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import degradations

from .common import images
from .manifest import (
    SCHEMA_VERSION,
    assign_split,
    dumps_json,
    make_key,
    sha256_hex,
    shard_stem,
)
from .sources import Source, source_id
from .writers import WRITERS, Sample, stats_path

log = logging.getLogger(__name__)

ORIGIN = "synthesized"
_progress: Callable[[int], None] | None = None  # per-process sample counter (set by the distributor)
RESERVED_MEMBERS = frozenset({"hq", "lq", "json"})


@dataclass(frozen=True)
class SynthConfig:
    """Everything that decides the bytes of a synthesized dataset (worker count does not)."""

    tasks: tuple[str, ...]
    variants: int = 1
    severity: str = "medium"
    seed: int = 0
    shard_size: int = 1000
    image_format: str = "png"
    max_side: int | None = None
    crop: int | None = None
    val_fraction: float = 0.0
    max_pixels: int | None = images.DEFAULT_MAX_PIXELS

    def __post_init__(self) -> None:
        if not self.tasks:
            raise ValueError("give at least one --task")
        for task in self.tasks:
            if degradations.canonical_name(task) != task:
                raise ValueError(f"task {task!r} is not a canonical DA-CLIP name")
        degradations.base.check_severity(self.severity)
        if self.variants < 1:
            raise ValueError("--variants must be at least 1")
        if self.shard_size < 1:
            raise ValueError("--shard-size must be at least 1")
        if self.seed < 0:
            raise ValueError("--seed must be non-negative")
        if self.image_format not in images.FORMATS:
            raise ValueError(f"--image-format must be one of {', '.join(images.FORMATS)}")
        for name in ("max_side", "crop", "max_pixels"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError("--val-fraction must be in [0, 1)")

    def recorded(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ShardSpec:
    """One unit of work and of retry: shard ``shard_id`` of every task, over ``sources``."""

    shard_id: int
    sources: tuple[Source, ...]
    config: SynthConfig
    out: str
    writer: str = "tar"

    def stem(self, task: str) -> str:
        return shard_stem(task, self.shard_id)

    def folder(self, task: str) -> Path:
        return Path(self.out) / task

    def spec_hash(self, task: str) -> str:
        """Fingerprint of everything that decides this shard's bytes (checked on resume)."""
        cfg = self.config.recorded()
        cfg.pop("tasks")
        cfg.pop("shard_size")  # the sources list already pins the grouping
        deg = degradations.get(task)
        payload = {
            "schema_version": SCHEMA_VERSION,
            "task": task,
            "task_version": getattr(deg, "version", 1),
            "shard_id": self.shard_id,
            "sources": [[s.source, s.sha256] for s in self.sources],
            "config": cfg,
        }
        return sha256_hex(dumps_json(payload).encode("utf-8"))


@dataclass
class ShardResult:
    shard_id: int
    samples: int  # planned samples covered by this spec (all tasks)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)  # task -> stats (+ "skipped")


@dataclass(frozen=True)
class HQ:
    arr: np.ndarray
    data: bytes
    sha256: str
    original_size: tuple[int, int]  # (width, height) after decoding and EXIF rotation


def read_stats(folder: Path, stem: str) -> dict[str, Any] | None:
    try:
        return json.loads(stats_path(folder, stem).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def shard_done(spec: ShardSpec, task: str) -> dict[str, Any] | None:
    """The shard's stats if it is complete and was made from this exact spec, else None."""
    folder, stem = spec.folder(task), spec.stem(task)
    stats = read_stats(folder, stem)
    if stats is None or stats.get("spec_hash") != spec.spec_hash(task):
        return None
    if not (folder / f"{stem}.tar").is_file() or not (folder / f"{stem}.parquet").is_file():
        return None
    return stats


def prepare_hq(src: Source, cfg: SynthConfig) -> HQ | str:
    """Decode and size-bound one source and encode its HQ member; a string is an error message."""
    if src.error:
        return src.error
    try:
        data = Path(src.path).read_bytes()
    except OSError as exc:
        return f"cannot read file: {exc.strerror or exc}"
    if sha256_hex(data) != src.sha256:
        return "file changed after it was listed (sha256 differs); rerun to pick up the new contents"
    try:
        arr = images.load_image(data, max_pixels=cfg.max_pixels)
        original = (int(arr.shape[1]), int(arr.shape[0]))
        arr = images.bound_size(arr, cfg.max_side, cfg.crop)
        hq_bytes = images.encode_image(arr, cfg.image_format)
        if cfg.image_format in images.LOSSY_FORMATS:  # degrade exactly what the HQ member holds
            arr = images.decode_rgb(hq_bytes)
    except images.ImageError as exc:
        return str(exc)
    except Exception as exc:  # an unexpected decoder failure is still a recorded row
        return f"cannot decode image: {type(exc).__name__}: {exc}"
    return HQ(arr=arr, data=hq_bytes, sha256=sha256_hex(hq_bytes), original_size=original)


def _base_row(src: Source, task: str, variant: int, cfg: SynthConfig) -> dict[str, Any]:
    return {
        "degradation": task,
        "origin": ORIGIN,
        "source_sha256": src.sha256,
        "source": src.source,
        "severity": cfg.severity,
        "variant": variant,
        "caption": None,
    }


def error_row(src: Source, task: str, variant: int, cfg: SynthConfig, message: str) -> dict[str, Any]:
    sid = source_id(src)
    row = _base_row(src, task, variant, cfg)
    row.update(key=make_key(task, sid, variant, error=True), split=assign_split(sid, cfg.val_fraction),
               status="error", error_message=message)
    return row


def make_sample(src: Source, hq: HQ, task: str, variant: int, cfg: SynthConfig) -> Sample:
    """Degrade one HQ image into one stored sample (members + manifest row)."""
    seed = degradations.sub_seed(cfg.seed, hq.sha256, task, variant)
    params = degradations.sample_params(task, np.random.default_rng(seed), hq.arr.shape, cfg.severity)
    result = degradations.get(task).apply(hq.arr, params)
    if result.lq.shape != hq.arr.shape or result.lq.dtype != np.uint8:
        raise ValueError(f"LQ has shape {result.lq.shape} {result.lq.dtype}, expected {hq.arr.shape} uint8")
    fmt = cfg.image_format
    lq_bytes = images.encode_image(result.lq, fmt)
    members = {f"hq.{fmt}": hq.data, f"lq.{fmt}": lq_bytes}
    for name in sorted(result.maps):
        if "." in name or "/" in name or name in RESERVED_MEMBERS:
            raise ValueError(f"invalid side-map name {name!r}")
        ext, data = images.encode_map(result.maps[name], hq.arr.shape)
        members[f"{name}.{ext}"] = data
    key = make_key(task, hq.sha256, variant)
    split = assign_split(hq.sha256, cfg.val_fraction)
    lq_sha = sha256_hex(lq_bytes)
    height, width = hq.arr.shape[:2]
    params_json = dumps_json(params)
    meta = {
        "key": key,
        "degradation": task,
        "origin": ORIGIN,
        "params": params,
        "seed": seed,
        "severity": cfg.severity,
        "variant": variant,
        "split": split,
        "source": src.source,
        "source_sha256": src.sha256,
        "hq_sha256": hq.sha256,
        "lq_sha256": lq_sha,
        "width": width,
        "height": height,
        "original_width": hq.original_size[0],
        "original_height": hq.original_size[1],
        "max_side": cfg.max_side,
        "crop": cfg.crop,
        "image_format": fmt,
    }
    members["json"] = dumps_json(meta).encode("utf-8")
    row = _base_row(src, task, variant, cfg)
    row.update(split=split, hq_sha256=hq.sha256, lq_sha256=lq_sha, width=width, height=height,
               params=params_json, seed=seed, status="ok", error_message=None)
    return Sample(key=key, members=members, row=row)


def set_progress_sink(sink: Callable[[int], None] | None) -> None:
    """Install the callback that :func:`process_shard` calls with sample counts as it goes."""
    global _progress
    _progress = sink


def _tick(n: int) -> None:
    if _progress is not None and n:
        _progress(n)


def process_shard(spec: ShardSpec) -> ShardResult:
    """Write shard ``spec.shard_id`` of every task not already complete; return per-task stats."""
    cfg = spec.config
    result = ShardResult(shard_id=spec.shard_id, samples=len(spec.sources) * cfg.variants * len(cfg.tasks))
    todo = []
    for task in cfg.tasks:
        done = shard_done(spec, task) if spec.writer == "tar" else None
        if done is not None:
            result.tasks[task] = {**done, "skipped": True}
            _tick(len(spec.sources) * cfg.variants)
        else:
            todo.append(task)
    if not todo:
        return result
    writer_cls = WRITERS[spec.writer]
    writers = {task: writer_cls(spec.folder(task), spec.stem(task)) for task in todo}
    try:
        for src in spec.sources:
            hq = prepare_hq(src, cfg)
            for task in todo:
                writer = writers[task]
                for variant in range(cfg.variants):
                    if isinstance(hq, str):
                        writer.add_row(error_row(src, task, variant, cfg, hq))
                        continue
                    if writer.has_key(make_key(task, hq.sha256, variant)):
                        writer.add_row(error_row(src, task, variant, cfg,
                                                 "duplicate: same HQ pixels as another input in this shard"))
                        continue
                    try:
                        sample = make_sample(src, hq, task, variant, cfg)
                    except Exception as exc:
                        log.debug("degradation failed", exc_info=True)
                        writer.add_row(error_row(src, task, variant, cfg,
                                                 f"{task} failed: {type(exc).__name__}: {exc}"))
                        continue
                    writer.write(sample)
            _tick(len(todo) * cfg.variants)
        for task in todo:
            extra = {"task": task, "shard_id": spec.shard_id, "spec_hash": spec.spec_hash(task)}
            result.tasks[task] = {**writers[task].close(extra), "skipped": False}
    except BaseException:
        for writer in writers.values():
            writer.abort()
        raise
    return result


def configure_process() -> None:
    """Per-process settings for pool workers: one OpenCV thread (the pool gives parallelism)."""
    import cv2

    cv2.setNumThreads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
