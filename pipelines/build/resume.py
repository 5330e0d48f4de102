"""What is already on disk for a run: done markers, the resume check, ``--overwrite``, ``sizes.json``.

A shard is complete when its ``_stats.json`` (written last) names the job's ``spec_hash`` and its
tar and Parquet exist. Shards of another plan refuse to mix (:class:`ConfigMismatch`) unless
``--overwrite`` removes them first. ``kind`` tells the shard families of one task folder apart
(``""`` synthesized, ``"ingested"``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from ..common.files import read_regular, write_json_atomic
from ..manifest.schema import SCHEMA_VERSION, SIZES_FILE, STATS_SUFFIX, shard_stem_pattern
from .job import ShardJob, ShardStats
from .writers import stats_path, temp_files


class ConfigMismatch(RuntimeError):
    """The output folder holds shards made with other inputs or settings."""


def read_stats(folder: Path, stem: str) -> ShardStats | None:
    try:
        stats = json.loads(read_regular(stats_path(folder, stem)).decode("utf-8"))
    except (OSError, ValueError):
        return None
    return stats if isinstance(stats, dict) else None


def shard_done(job: ShardJob, task: str) -> ShardStats | None:
    """The shard's stats if it is complete and was made from this exact job, else None."""
    folder, stem = job.folder(task), job.stem(task)
    stats = read_stats(folder, stem)
    if stats is None or stats.get("spec_hash") != job.spec_hash(task):
        return None
    if not (folder / f"{stem}.tar").is_file() or not (folder / f"{stem}.parquet").is_file():
        return None
    return stats


def _shard_files(folder: Path, stem: str) -> list[Path]:
    return [folder / f"{stem}{suffix}" for suffix in (".tar", ".parquet", STATS_SUFFIX)] + temp_files(folder, stem)


def remove_shards(jobs: Sequence[ShardJob], task: str, folder: Path, kind: str, whole_folder: bool) -> None:
    """``--overwrite``: delete every shard of this kind in the task folder, or (``--part``) only
    the shards of ``jobs``."""
    if whole_folder and folder.is_dir():
        pattern = shard_stem_pattern(task, kind)
        for path in folder.iterdir():
            stem = path.name.split(".", 1)[0].removesuffix(STATS_SUFFIX.split(".")[0])  # x_stats.json -> x
            if pattern.fullmatch(stem):
                path.unlink()
    elif not whole_folder:
        for job in jobs:
            for path in _shard_files(folder, job.stem(task)):
                path.unlink(missing_ok=True)


def check_existing(jobs: Sequence[ShardJob], task: str, folder: Path, kind: str) -> None:
    """Refuse to mix runs: every committed shard of this kind in the folder must match ``jobs``
    (the whole plan, every part)."""
    if not folder.is_dir():
        return
    by_stem = {job.stem(task): job for job in jobs}
    pattern = shard_stem_pattern(task, kind)
    problems = []
    for path in sorted(folder.glob(f"*{STATS_SUFFIX}")):
        stem = path.name[: -len(STATS_SUFFIX)]
        if not pattern.fullmatch(stem):
            continue
        job = by_stem.get(stem)
        stats = read_stats(folder, stem) or {}
        old = stats.get("schema_version", SCHEMA_VERSION)
        if isinstance(old, int) and old < SCHEMA_VERSION:
            problems.append(f"{path}: made by an older make-dataset (manifest schema v{old}, now v{SCHEMA_VERSION}); "
                            "it cannot be resumed: rerun with --overwrite (make-dataset migrate MANIFEST "
                            "updates the finished manifests of such a dataset for reading)")
        elif job is None:
            problems.append(f"{path}: not part of this run's plan (other inputs or --shard-size?)")
        elif stats.get("spec_hash") != job.spec_hash(task):
            problems.append(f"{path}: made with other inputs or settings")
    if problems:
        listing = "\n  ".join(problems[:5]) + ("\n  ..." if len(problems) > 5 else "")
        raise ConfigMismatch(
            f"{folder.parent} already holds shards from a different run:\n  {listing}\n"
            "Use --overwrite to replace them, or another --out."
        )


def write_sizes(folder: Path) -> None:
    """``<folder>/sizes.json`` (open_clip): every committed shard in the folder -> ok samples."""
    if not folder.is_dir():
        return
    sizes = {}
    for path in sorted(folder.glob(f"*{STATS_SUFFIX}")):
        stem = path.name[: -len(STATS_SUFFIX)]
        stats = read_stats(folder, stem)
        if stats is not None and (folder / f"{stem}.tar").is_file():
            sizes[f"{stem}.tar"] = int(stats.get("successes", 0))
    write_json_atomic(sizes, folder / SIZES_FILE)
