"""Worker role: process one shard spec (a group of clean sources) into one shard per task.

For each source: read -> decode (``images.load_image``) -> bound the size (``--max-side`` /
``--crop``) -> encode the HQ member once; then for each task and variant: sample params with
``default_rng(task_seed(seed, hq_sha256, task, variant))`` (:mod:`degradations.mixtures`: a type,
an ``a+b`` mixture, ``mix`` or ``wild``) -> replay them -> encode LQ and side maps -> write. The
row's ``degradation`` is the sample's label (for ``mix``/``wild`` drawn per sample; ``unknown`` on
their error rows, whose mixture was never drawn). Every failure becomes a row (``status="error"``, ``error_message``), never an exception.
The function is pure in its spec: the same spec gives the same bytes in any process.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

import degradations
from degradations import mixtures
from degradations.labels import UNKNOWN

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

log = logging.getLogger(__name__)

ORIGIN = "synthesized"
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
    png_level: int = images.DEFAULT_PNG_LEVEL  # zlib level of PNG members (HQ pixels do not depend on it)
    max_side: int | None = None
    crop: int | None = None
    val_fraction: float = 0.0
    max_pixels: int | None = images.DEFAULT_MAX_PIXELS
    mix_size: tuple[int, int] = mixtures.DEFAULT_SIZES  # ``mix`` tasks only
    mix_from: tuple[str, ...] = mixtures.DEFAULT_POOL

    def __post_init__(self) -> None:
        if not self.tasks:
            raise ValueError("give at least one --task")
        for task in self.tasks:
            if mixtures.canonical_task(task) != task:
                raise ValueError(f"task {task!r} is not a canonical task name (a type, a+b, mix or wild)")
        if tuple(mixtures.parse_sizes(self.mix_size)) != tuple(self.mix_size):
            raise ValueError(f"--mix-size {self.mix_size!r} is not a (low, high) pair")
        if mixtures.parse_pool(self.mix_from) != tuple(self.mix_from):
            raise ValueError("--mix-from must list canonical names in the ordering rule")
        if mixtures.MIX in self.tasks:
            mixtures.check_mix(self.mix_from, self.mix_size)
        degradations.base.check_severity(self.severity)
        if self.variants < 1:
            raise ValueError("--variants must be at least 1")
        if self.shard_size < 1:
            raise ValueError("--shard-size must be at least 1")
        if self.seed < 0:
            raise ValueError("--seed must be non-negative")
        if self.image_format not in images.FORMATS:
            raise ValueError(f"--image-format must be one of {', '.join(images.FORMATS)}")
        if self.png_level not in images.PNG_LEVELS:
            raise ValueError("--png-level must be 0-9")
        for name in ("max_side", "crop", "max_pixels"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError("--val-fraction must be in [0, 1)")

    def recorded(self) -> dict[str, Any]:
        """The config as recorded (run record, spec hash); the mix settings only where ``mix`` is a task,
        the PNG level only where it is not the default (so datasets made before it keep their hash)."""
        cfg = asdict(self)
        if self.png_level == images.DEFAULT_PNG_LEVEL:
            del cfg["png_level"]
        if mixtures.MIX in self.tasks:
            cfg["mix_size"], cfg["mix_from"] = list(self.mix_size), list(self.mix_from)
        else:
            del cfg["mix_size"], cfg["mix_from"]
        return cfg


@dataclass(frozen=True)
class ShardSpec:
    """One unit of work and of retry: shard ``shard_id`` of every task, over ``sources``."""

    shard_id: int
    sources: tuple[Source, ...]
    config: SynthConfig
    out: str

    @property
    def tasks(self) -> tuple[str, ...]:
        return self.config.tasks

    @property
    def samples(self) -> int:
        return len(self.sources) * self.config.variants

    def stem(self, task: str) -> str:
        return shard_stem(task, self.shard_id)

    def folder(self, task: str) -> Path:
        return Path(self.out) / task_slug(task)

    def spec_hash(self, task: str) -> str:
        """Fingerprint of everything that decides this shard's bytes (checked on resume)."""
        cfg = self.config.recorded()
        cfg.pop("tasks")
        cfg.pop("shard_size")  # the sources list already pins the grouping
        if task != mixtures.MIX:  # other tasks of the run do not depend on the mix settings
            cfg.pop("mix_size", None)
            cfg.pop("mix_from", None)
        payload = {
            "schema_version": SCHEMA_VERSION,
            "task": task,
            "task_version": mixtures.task_version(task),
            "shard_id": self.shard_id,
            "sources": [[s.source, s.sha256] for s in self.sources],
            "config": cfg,
        }
        return sha256_hex(dumps_json(payload).encode("utf-8"))

    def run(self, tasks: tuple[str, ...], progress: Progress) -> dict[str, ShardStats]:
        return process_shard(self, tasks, progress)


@dataclass(frozen=True)
class PreparedHQ:
    arr: np.ndarray
    data: bytes
    sha256: str
    original_size: tuple[int, int]  # (width, height) after decoding and EXIF rotation


def prepare_hq(src: Source, cfg: SynthConfig) -> PreparedHQ | str:
    """Decode and size-bound one source and encode its HQ member; a string is an error message."""
    if src.error:
        return src.error
    try:
        data = read_regular(src.path)
    except OSError as exc:
        return f"cannot read file: {exc.strerror or exc}"
    if sha256_hex(data) != src.sha256:
        return "file changed after it was listed (sha256 differs); rerun to pick up the new contents"
    try:
        arr = images.load_image(data, max_pixels=cfg.max_pixels)
        original = (int(arr.shape[1]), int(arr.shape[0]))
        arr = images.bound_size(arr, cfg.max_side, cfg.crop)
        hq_bytes = images.encode_image(arr, cfg.image_format, cfg.png_level)
        if cfg.image_format in images.LOSSY_FORMATS:  # degrade exactly what the HQ member holds
            arr = images.decode_rgb(hq_bytes, max_pixels=cfg.max_pixels)
    except images.ImageError as exc:
        return str(exc)
    except Exception as exc:  # an unexpected decoder failure is still a recorded row
        return f"cannot decode image: {type(exc).__name__}: {exc}"
    return PreparedHQ(arr=arr, data=hq_bytes, sha256=sha256_hex(hq_bytes), original_size=original)


def _error_row(src: Source, task: str, variant: int, cfg: SynthConfig, message: str) -> dict[str, Any]:
    split = assign_split(source_id(src), cfg.val_fraction)
    label = mixtures.task_label(task) or UNKNOWN
    return error_row(task, ORIGIN, src, variant, split, message, label=label, severity=cfg.severity)


def make_sample(src: Source, hq: PreparedHQ, task: str, variant: int, cfg: SynthConfig) -> Sample:
    """Degrade one HQ image into one stored sample (members + manifest row)."""
    seed = mixtures.task_seed(cfg.seed, hq.sha256, task, variant)
    params = mixtures.sample_task(task, np.random.default_rng(seed), hq.arr.shape, cfg.severity,
                                  pool=cfg.mix_from, sizes=cfg.mix_size)
    result = degradations.replay(hq.arr, params)
    label = mixtures.label_of(params)
    if result.lq.shape != hq.arr.shape or result.lq.dtype != np.uint8:
        raise ValueError(f"LQ has shape {result.lq.shape} {result.lq.dtype}, expected {hq.arr.shape} uint8")
    fmt = cfg.image_format
    lq_bytes = images.encode_image(result.lq, fmt, cfg.png_level)
    members = {f"hq.{fmt}": hq.data, f"lq.{fmt}": lq_bytes}
    for name in sorted(result.maps):
        if "." in name or "/" in name or name in RESERVED_MEMBERS:
            raise ValueError(f"invalid side-map name {name!r}")
        ext, data = images.encode_map(result.maps[name], hq.arr.shape, cfg.png_level)
        members[f"{name}.{ext}"] = data
    key = make_key(task, hq.sha256, variant)
    split = assign_split(hq.sha256, cfg.val_fraction)
    lq_sha = sha256_hex(lq_bytes)
    height, width = hq.arr.shape[:2]
    params_json = dumps_json(params)
    meta = {
        "key": key,
        "degradation": label,
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
    if label != task:  # mix / wild: the sample's label differs from its task
        meta["task"] = task
    members["json"] = dumps_json(meta).encode("utf-8")
    row = base_row(label, ORIGIN, src, variant, split, severity=cfg.severity, hq_sha256=hq.sha256, lq_sha256=lq_sha,
                   width=width, height=height, params=params_json, seed=seed, status="ok", error_message=None)
    return Sample(key=key, members=members, row=row)


def process_shard(spec: ShardSpec, tasks: tuple[str, ...], progress: Progress) -> dict[str, ShardStats]:
    """Write shard ``spec.shard_id`` of each of ``tasks``, decoding each source once; task -> stats."""
    cfg = spec.config
    writers = {task: TarShardWriter(spec.folder(task), spec.stem(task)) for task in tasks}
    try:
        for src in spec.sources:
            hq = prepare_hq(src, cfg)
            for task in tasks:
                writer = writers[task]
                for variant in range(cfg.variants):
                    if isinstance(hq, str):
                        writer.add_row(_error_row(src, task, variant, cfg, hq))
                        continue
                    if writer.has_key(make_key(task, hq.sha256, variant)):
                        writer.add_row(_error_row(src, task, variant, cfg,
                                                  "duplicate: same HQ pixels as another input in this shard"))
                        continue
                    try:
                        sample = make_sample(src, hq, task, variant, cfg)
                    except Exception as exc:
                        log.debug("degradation failed", exc_info=True)
                        writer.add_row(_error_row(src, task, variant, cfg,
                                                  f"{task} failed: {type(exc).__name__}: {exc}"))
                        continue
                    writer.write(sample)
            progress(len(tasks) * cfg.variants)
        return {task: writers[task].close({"task": task, "shard_id": spec.shard_id, "spec_hash": spec.spec_hash(task)})
                for task in tasks}
    except BaseException:
        for writer in writers.values():
            writer.abort()
        raise
