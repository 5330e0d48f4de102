"""``make-dataset verify``: re-read every shard a manifest points to and check it against the manifest.

Checks per shard: the tar exists, reads to the end through the safe tar reader (sparse, special
or oversized members are problems; members are hashed in chunks, never held whole), its image
members' headers are within ``--max-pixels``, and it has the size and sha256 recorded in its
``_stats.json``; its sample count equals the ``ok`` rows of the shard's own Parquet. Per manifest
row: every member listed in ``members`` is in the tar, the HQ and LQ members hash to
``hq_sha256`` / ``lq_sha256``, and the ``.json`` member names the same key and HQ hash (the LQ
hash for an ingested image without ground truth, which has no HQ member to check).
Any problem makes the command exit non-zero.
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import click
import pandas as pd
import pyarrow as pa

from ..common import remote
from ..common.cli import manifest_inputs
from ..common.files import file_sha256, read_regular
from ..common.images import DEFAULT_MAX_PIXELS, ImageError, check_pixels
from ..common.tars import DEFAULT_MAX_MEMBER_BYTES, iter_digests
from ..manifest.schema import (
    SCHEMA_VERSION,
    STATS_SUFFIX,
    manifest_version,
    read_manifest,
    read_schema_names,
    read_table,
)
from ..manifest.validate import ManifestError

MAX_LISTED = 30
HEAD_BYTES = 1 << 20  # kept of each member: all of a json member, the header of an image
IMAGE_SUFFIXES = frozenset({"png", "webp", "jpg", "jpeg"})


@dataclass
class VerifyReport:
    manifest: str
    rows: int = 0
    shards_checked: int = 0
    samples_checked: int = 0
    schema_version: int = SCHEMA_VERSION
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def format(self) -> str:
        head = (f"{self.manifest}: {self.rows} rows, {self.shards_checked} shards, "
                f"{self.samples_checked} samples checked")
        if self.schema_version < SCHEMA_VERSION:
            head += (f"\nnote: schema v{self.schema_version} (no degradations column; read as v{SCHEMA_VERSION}, "
                     "make-dataset migrate rewrites it)")
        if self.ok:
            return head + "\nOK: every shard and member matches the manifest"
        lines = [head, f"FAILED: {len(self.problems)} problem(s)"]
        lines += [f"  - {p}" for p in self.problems[:MAX_LISTED]]
        if len(self.problems) > MAX_LISTED:
            lines.append(f"  ... and {len(self.problems) - MAX_LISTED} more")
        return "\n".join(lines)


def read_tar_members(path: Path, max_pixels: int | None = DEFAULT_MAX_PIXELS,
                     max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES,
                     ) -> tuple[dict[str, dict[str, bytes | str]], list[str], str | None]:
    """``key -> {suffix: sha256 hex}`` (and the raw ``json`` member), the image members whose header
    is unreadable or over ``max_pixels``, and a read error if any. Members are hashed in chunks
    through the safe tar reader: memory stays at about one chunk whatever the shard holds."""
    samples: dict[str, dict[str, bytes | str]] = {}
    bad_images: list[str] = []
    try:
        for member in iter_digests(path, max_member_bytes, head_bytes=HEAD_BYTES):
            key, _, suffix = member.name.rsplit("/", 1)[-1].partition(".")
            entry = samples.setdefault(key, {})
            entry[suffix] = member.sha256
            if suffix == "json":
                entry["__json__"] = member.head if member.size <= HEAD_BYTES else b"{}"
            elif suffix.rsplit(".", 1)[-1] in IMAGE_SUFFIXES:
                try:
                    check_pixels(member.head, max_pixels)
                except ImageError as exc:
                    bad_images.append(f"{member.name}: {exc}")
    except (tarfile.TarError, OSError, EOFError) as exc:
        return samples, bad_images, f"{type(exc).__name__}: {exc}"
    return samples, bad_images, None


def _sibling(tar: Path | str, suffix: str) -> Path | str:
    """The shard's file with ``suffix`` in place of ``.tar`` (a local path or a URL)."""
    return (tar[: -len(".tar")] + suffix) if isinstance(tar, str) else tar.with_name(tar.name[: -len(".tar")] + suffix)


def _name(path: Path | str) -> str:
    return path.rsplit("/", 1)[-1] if isinstance(path, str) else path.name


def _size(path: Path | str) -> int:
    if isinstance(path, str):
        fs, key = remote.filesystem(path)
        return int(fs.size(key))
    return path.stat().st_size


def _is_file(path: Path | str) -> bool:
    return remote.exists(path) if isinstance(path, str) else path.is_file()


def _check_stats(tar: Path | str, label: str, problems: list[str]) -> None:
    stats_file = _sibling(tar, STATS_SUFFIX)
    try:
        stats = json.loads(read_regular(stats_file).decode("utf-8"))
        if not isinstance(stats, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError):
        problems.append(f"{label}: no readable {_name(stats_file)} (shard never completed?)")
        return
    size = _size(tar)
    if "tar_bytes" in stats and stats["tar_bytes"] != size:
        problems.append(f"{label}: size {size} bytes, but {_name(stats_file)} records {stats['tar_bytes']}")
    if "tar_sha256" in stats:
        try:
            digest = file_sha256(tar)
        except OSError as exc:
            problems.append(f"{label}: cannot read the tar ({exc})")
            return
        if digest != stats["tar_sha256"]:
            problems.append(f"{label}: sha256 differs from the one recorded in {_name(stats_file)}")


def _check_counts(tar: Path | str, label: str, samples: dict, problems: list[str]) -> None:
    parquet = _sibling(tar, ".parquet")
    if not _is_file(parquet):
        problems.append(f"{label}: shard Parquet {_name(parquet)} is missing")
        return
    try:
        shard_rows = read_table(parquet, columns=["key", "status"]).to_pandas()
    except (ManifestError, pa.ArrowException) as exc:
        problems.append(f"{label}: shard Parquet {_name(parquet)} is unreadable ({exc})")
        return
    expected = set(shard_rows.loc[shard_rows["status"] == "ok", "key"])
    if len(samples) != len(expected):
        problems.append(f"{label}: {len(samples)} samples in the tar, {len(expected)} ok rows in {_name(parquet)}")
    extra = sorted(set(samples) - expected)
    if extra:
        problems.append(f"{label}: {len(extra)} sample(s) not listed in {_name(parquet)}, e.g. {extra[0]}")


def _check_row(row: dict, samples: dict, label: str, problems: list[str]) -> None:
    key = row["key"]
    members = json.loads(row["members"])  # validated by read_manifest
    entry = samples.get(key)
    if entry is None:
        problems.append(f"{label}: sample {key} is missing")
        return
    missing = [m for m in members if m not in entry]
    if missing:
        problems.append(f"{label}: sample {key} lacks member(s) {', '.join(missing)}")
    for prefix, column in (("hq.", "hq_sha256"), ("lq.", "lq_sha256")):
        for suffix in members:
            if suffix.startswith(prefix) and suffix in entry and entry[suffix] != row[column]:
                problems.append(f"{label}: {key}.{suffix} sha256 does not match the manifest's {column}")
    raw = entry.get("__json__")
    if raw is not None:
        try:
            meta = json.loads(raw)
            image = "hq_sha256" if isinstance(row["hq_sha256"], str) else "lq_sha256"  # no HQ: LQ-only
            if not isinstance(meta, dict) or meta.get("key") != key or (
                    isinstance(row[image], str) and meta.get(image) != row[image]):
                problems.append(f"{label}: {key}.json disagrees with the manifest (key or {image})")
        except ValueError:
            problems.append(f"{label}: {key}.json is not valid JSON")


def verify_manifest(path: str | Path, on_progress: Callable[[int], None] | None = None,
                    max_pixels: int | None = DEFAULT_MAX_PIXELS, frame: pd.DataFrame | None = None) -> VerifyReport:
    """Check every shard and stored sample of a manifest; problems are collected, not raised
    (a manifest that fails validation raises :class:`~pipelines.manifest.validate.ManifestError`).
    ``frame``: the manifest already read with ``read_manifest(path, status=None)``."""
    report = VerifyReport(manifest=str(path))
    frame = read_manifest(path, status=None) if frame is None else frame
    report.schema_version = manifest_version(read_schema_names(path))
    report.rows = len(frame)
    dup = frame["key"][frame["key"].duplicated()]
    if len(dup):
        report.problems.append(f"manifest: {len(dup)} duplicate key(s), e.g. {dup.iloc[0]}")
    stored = frame[frame["members"].notna() & (frame["status"] == "ok")]
    no_shard = frame["shard_path"].isna() & frame["members"].notna()
    if no_shard.any():
        report.problems.append(f"manifest: {int(no_shard.sum())} stored row(s) without a shard path")
    for shard_path, rows in stored.groupby("shard_path", sort=True):
        tar = remote.as_path(shard_path)
        label = str(rows["shard"].iloc[0])
        report.shards_checked += 1
        if not _is_file(tar):
            report.problems.append(f"{label}: shard is missing ({len(rows)} sample(s) lost)")
            if on_progress:
                on_progress(len(rows))
            continue
        _check_stats(tar, label, report.problems)
        samples, bad_images, error = read_tar_members(tar, max_pixels)
        if error:
            report.problems.append(f"{label}: unreadable, truncated or unsafe tar ({error})")
        report.problems.extend(f"{label}: {bad}" for bad in bad_images)
        _check_counts(tar, label, samples, report.problems)
        for row in rows.to_dict("records"):
            _check_row(row, samples, label, report.problems)
            report.samples_checked += 1
        if on_progress:
            on_progress(len(rows))
    return report


@click.command("verify")
@manifest_inputs(required=True, help="Manifest to check (repeatable; also positional).")
@click.option("--max-pixels", default=DEFAULT_MAX_PIXELS, show_default=True, type=click.IntRange(min=1),
              help="Image members with more pixels (read from their headers) are problems.")
def command(manifests: tuple[str, ...], max_pixels: int) -> None:
    """Re-read every shard of a manifest and check member hashes and counts; non-zero exit on mismatch."""
    from tqdm import tqdm

    failed = False
    for path in manifests:
        frame = read_manifest(path, status=None)
        stored = int((frame["members"].notna() & (frame["status"] == "ok")).sum())
        with tqdm(total=stored, desc=f"verifying {Path(path).name}", unit="sample", dynamic_ncols=True) as bar:
            report = verify_manifest(path, on_progress=bar.update, max_pixels=max_pixels, frame=frame)
        click.echo(report.format())
        failed |= not report.ok
    if failed:
        raise SystemExit(1)
