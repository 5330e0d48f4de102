"""``make-dataset verify``: re-read every shard a manifest points to and check it against the manifest.

Checks per shard: the tar exists, reads to the end, and has the size and sha256 recorded in its
``_stats.json``; its sample count equals the ``ok`` rows of the shard's own Parquet. Per manifest
row: every member listed in ``members`` is in the tar, the HQ and LQ members hash to
``hq_sha256`` / ``lq_sha256``, and the ``.json`` member names the same key and HQ hash.
Any problem makes the command exit non-zero.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import click
import pandas as pd
import pyarrow.parquet as pq

from .manifest import STATS_SUFFIX, read_manifest

MAX_LISTED = 30


@dataclass
class VerifyReport:
    manifest: str
    rows: int = 0
    shards_checked: int = 0
    samples_checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def format(self) -> str:
        head = (f"{self.manifest}: {self.rows} rows, {self.shards_checked} shards, "
                f"{self.samples_checked} samples checked")
        if self.ok:
            return head + "\nOK: every shard and member matches the manifest"
        lines = [head, f"FAILED: {len(self.problems)} problem(s)"]
        lines += [f"  - {p}" for p in self.problems[:MAX_LISTED]]
        if len(self.problems) > MAX_LISTED:
            lines.append(f"  ... and {len(self.problems) - MAX_LISTED} more")
        return "\n".join(lines)


def read_tar_members(path: Path) -> tuple[dict[str, dict[str, bytes | str]], str | None]:
    """``key -> {suffix: sha256 hex}`` (and the raw ``json`` member), plus a read error if any."""
    samples: dict[str, dict[str, bytes | str]] = {}
    try:
        with tarfile.open(path, mode="r|") as tar:
            for info in tar:
                if not info.isfile():
                    continue
                fh = tar.extractfile(info)
                data = fh.read() if fh is not None else b""
                if len(data) != info.size:
                    raise tarfile.ReadError(f"member {info.name} is cut short")
                name = info.name.rsplit("/", 1)[-1]
                key, _, suffix = name.partition(".")
                entry = samples.setdefault(key, {})
                entry[suffix] = hashlib.sha256(data).hexdigest()
                if suffix == "json":
                    entry["__json__"] = data
    except (tarfile.TarError, OSError, EOFError) as exc:
        return samples, f"{type(exc).__name__}: {exc}"
    return samples, None


def _check_stats(tar: Path, label: str, problems: list[str]) -> None:
    stats_file = tar.with_name(tar.name[: -len(".tar")] + STATS_SUFFIX)
    try:
        stats = json.loads(stats_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        problems.append(f"{label}: no readable {stats_file.name} (shard never completed?)")
        return
    size = tar.stat().st_size
    if "tar_bytes" in stats and stats["tar_bytes"] != size:
        problems.append(f"{label}: size {size} bytes, but {stats_file.name} records {stats['tar_bytes']}")
    if "tar_sha256" in stats:
        digest = hashlib.sha256(tar.read_bytes()).hexdigest()
        if digest != stats["tar_sha256"]:
            problems.append(f"{label}: sha256 differs from the one recorded in {stats_file.name}")


def _check_counts(tar: Path, label: str, samples: dict, problems: list[str]) -> None:
    parquet = tar.with_suffix(".parquet")
    if not parquet.is_file():
        problems.append(f"{label}: shard Parquet {parquet.name} is missing")
        return
    shard_rows = pq.read_table(parquet, columns=["key", "status"]).to_pandas()
    expected = set(shard_rows.loc[shard_rows["status"] == "ok", "key"])
    if len(samples) != len(expected):
        problems.append(f"{label}: {len(samples)} samples in the tar, {len(expected)} ok rows in {parquet.name}")
    extra = sorted(set(samples) - expected)
    if extra:
        problems.append(f"{label}: {len(extra)} sample(s) not listed in {parquet.name}, e.g. {extra[0]}")


def _check_row(row: dict, samples: dict, label: str, problems: list[str]) -> None:
    key = row["key"]
    members = json.loads(row["members"])
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
            if meta.get("key") != key or (row["hq_sha256"] and meta.get("hq_sha256") != row["hq_sha256"]):
                problems.append(f"{label}: {key}.json disagrees with the manifest (key or hq_sha256)")
        except ValueError:
            problems.append(f"{label}: {key}.json is not valid JSON")


def verify_manifest(path: str | Path, on_progress: Callable[[int], None] | None = None) -> VerifyReport:
    """Check every shard and stored sample of a manifest; problems are collected, not raised."""
    report = VerifyReport(manifest=str(path))
    frame = read_manifest(path, status=None)
    report.rows = len(frame)
    dup = frame["key"][frame["key"].duplicated()]
    if len(dup):
        report.problems.append(f"manifest: {len(dup)} duplicate key(s), e.g. {dup.iloc[0]}")
    stored = frame[frame["members"].notna() & (frame["status"] == "ok")]
    no_shard = frame["shard_path"].isna() & frame["members"].notna()
    if no_shard.any():
        report.problems.append(f"manifest: {int(no_shard.sum())} stored row(s) without a shard path")
    for shard_path, rows in stored.groupby("shard_path", sort=True):
        tar = Path(shard_path)
        label = str(rows["shard"].iloc[0])
        report.shards_checked += 1
        if not tar.is_file():
            report.problems.append(f"{label}: shard is missing ({len(rows)} sample(s) lost)")
            if on_progress:
                on_progress(len(rows))
            continue
        _check_stats(tar, label, report.problems)
        samples, error = read_tar_members(tar)
        if error:
            report.problems.append(f"{label}: unreadable or truncated tar ({error})")
        _check_counts(tar, label, samples, report.problems)
        for row in rows.to_dict("records"):
            _check_row(row, samples, label, report.problems)
            report.samples_checked += 1
        if on_progress:
            on_progress(len(rows))
    return report


def _count_stored(path: str) -> int:
    frame = pd.read_parquet(path, columns=["members", "status"])
    return int((frame["members"].notna() & (frame["status"] == "ok")).sum())


@click.command("verify")
@click.option("--manifest", "manifests", multiple=True, required=True, type=click.Path(exists=True, dir_okay=False),
              help="Manifest to check (repeatable).")
def command(manifests: tuple[str, ...]) -> None:
    """Re-read every shard of a manifest and check member hashes and counts; non-zero exit on mismatch."""
    from tqdm import tqdm

    failed = False
    for path in manifests:
        with tqdm(total=_count_stored(path), desc=f"verifying {Path(path).name}", unit="sample",
                  dynamic_ncols=True) as bar:
            report = verify_manifest(path, on_progress=bar.update)
        click.echo(report.format())
        failed |= not report.ok
    if failed:
        raise SystemExit(1)
