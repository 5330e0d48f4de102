"""``make-dataset merge``: combine per-task (and per-part) manifests into train and val manifests.

Shard paths are rewritten relative to each output manifest's folder. ``--balance`` equalises the
number of ``ok`` samples per degradation within each split, keeping a deterministic subset
(rows ranked by the sha256 of their key). Failed rows are kept (they never reach a loader,
which reads ``status == "ok"``) so the merged manifests still account for every input.

train and val are one commit: both are written to temporary files first, then renamed, and
both carry the same merge id (a hash of the inputs and options) and each other's name in their
Parquet metadata. A run killed between the two renames leaves a new train beside an old val;
:func:`pipelines.manifest.schema.read_manifest` sees their ids differ and refuses both until merge is
rerun. The same path for ``--train`` and ``--val`` is refused.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import click
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..common.cli import manifest_inputs
from ..common.files import file_sha256, open_regular
from ..common.locks import output_locks
from ..manifest.schema import COLUMNS, read_manifest, write_manifest
from ..manifest.validate import MERGE_ID, MERGE_PARTNER, REQUIRED

log = logging.getLogger(__name__)


@dataclass
class MergeReport:
    inputs: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "path: why"
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # output -> degradation -> ok rows
    rows: dict[str, int] = field(default_factory=dict)  # output -> all rows
    dropped_duplicates: int = 0
    dropped_by_balance: int = 0

    def format(self) -> str:
        lines = [f"merged {len(self.inputs)} manifest(s)"]
        lines += [f"  skipped {s}" for s in self.skipped]
        if self.dropped_duplicates:
            lines.append(f"  dropped {self.dropped_duplicates} duplicate row(s) (same key)")
        if self.dropped_by_balance:
            lines.append(f"  --balance dropped {self.dropped_by_balance} ok row(s)")
        for out, per_task in self.counts.items():
            detail = ", ".join(f"{task} {n}" for task, n in sorted(per_task.items())) or "no ok rows"
            lines.append(f"{out}: {self.rows[out]} rows; ok per degradation: {detail}")
        return "\n".join(lines)


def _is_manifest(path: Path) -> bool:
    """A Parquet file with the manifest columns (False for e.g. ``captions.parquet``); a file that
    is not Parquet at all is read (and refused) by the validator."""
    try:
        with open_regular(path) as handle:
            names = set(pq.read_schema(handle).names)
    except (OSError, pa.ArrowException, ValueError):
        return True
    return all(name in names for name in REQUIRED)


def _merge_id(paths: Sequence[Path], options: object) -> str:
    """Deterministic id of one merge: the inputs' contents and the options."""
    digest = hashlib.sha256(repr(options).encode("utf-8"))
    for path in paths:
        digest.update(file_sha256(path).encode("ascii"))
    return digest.hexdigest()[:32]


def _commit(parts: Sequence[tuple[pd.DataFrame, Path]], merge_id: str) -> None:
    """Write every output to a temporary file, then rename them all (see the module docstring)."""
    staged: list[tuple[Path, Path]] = []
    try:
        for frame, out in parts:
            partners = [other for _, other in parts if other != out]
            meta = {MERGE_ID: merge_id.encode("ascii")}
            if partners:
                meta[MERGE_PARTNER] = os.path.relpath(partners[0], out.parent).encode("utf-8")
            tmp = out.with_name(f".{out.name}.merge-{os.getpid()}.tmp")
            write_manifest(frame, tmp, metadata=meta)
            staged.append((tmp, out))
        for tmp, out in staged:
            os.replace(tmp, out)
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)


def _rank(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def balance(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Keep the same number of ok rows for every degradation present (the smallest count)."""
    ok = frame[frame["status"] == "ok"]
    if ok.empty:
        return frame, 0
    target = int(ok.groupby("degradation").size().min())
    ranked = ok.assign(_rank=ok["key"].map(_rank)).sort_values(["degradation", "_rank"], kind="mergesort")
    keep = ranked.groupby("degradation", sort=False).head(target).drop(columns="_rank")
    out = pd.concat([keep, frame[frame["status"] != "ok"]], ignore_index=True)
    return out, len(ok) - len(keep)


def merge(
    inputs: Sequence[str | os.PathLike],
    train: str | os.PathLike = "manifests/train.parquet",
    val: str | os.PathLike | None = "manifests/val.parquet",
    balance_counts: bool = False,
) -> MergeReport:
    if val is not None and Path(train).resolve() == Path(val).resolve():
        raise ValueError(f"--train and --val are the same file ({train}); give two paths")
    with output_locks({Path(p).parent: 0 for p in (train, val) if p is not None}):
        return _merge(inputs, Path(train), None if val is None else Path(val), balance_counts)


def _merge(inputs: Sequence[str | os.PathLike], train: Path, val: Path | None, balance_counts: bool) -> MergeReport:
    report = MergeReport()
    outputs = {p.resolve() for p in (train, val) if p is not None}
    frames, used = [], []
    for raw in inputs:
        path = Path(raw)
        if path.resolve() in outputs:
            report.skipped.append(f"{path}: it is an output of this merge")
            continue
        if not _is_manifest(path):
            report.skipped.append(f"{path}: not a sample manifest (e.g. captions.parquet)")
            continue
        frames.append(read_manifest(path, status=None))
        report.inputs.append(str(path))
        used.append(path)
    if not frames:
        raise ValueError("no sample manifests to merge")
    frame = pd.concat(frames, ignore_index=True)
    frame = frame.sort_values(["key", "shard_path"], kind="mergesort", na_position="last")
    before = len(frame)
    frame = frame.drop_duplicates("key", keep="first")
    report.dropped_duplicates = before - len(frame)
    targets = [("train", train)] + ([("val", val)] if val is not None else [])
    unassigned = frame[~frame["split"].isin([name for name, _ in targets])]
    if len(unassigned):
        report.skipped.append(f"{len(unassigned)} row(s) of split(s) {sorted(set(unassigned['split'].astype(str)))} "
                              "without an output")
    parts = []
    for split, out in targets:
        part = frame[frame["split"] == split]
        if balance_counts:
            part, dropped = balance(part)
            report.dropped_by_balance += dropped
        part = part.copy()
        base = out.resolve().parent
        relative = {p: Path(os.path.relpath(p, base)).as_posix() for p in part["shard_path"].dropna().unique()}
        part["shard"] = part["shard_path"].map(relative).astype(object)
        part["shard"] = part["shard"].where(part["shard"].notna(), None)
        parts.append((part[list(COLUMNS)], out))
        ok = part[part["status"] == "ok"]
        report.counts[str(out)] = {str(k): int(v) for k, v in ok.groupby("degradation").size().items()}
        report.rows[str(out)] = len(part)
    _commit(parts, _merge_id(used, (balance_counts, [out.name for _, out in targets])))
    return report


@click.command("merge")
@manifest_inputs(click.Path(exists=True, dir_okay=False), required=True,
                 help="Manifest to combine (repeatable; also positional).")
@click.option("--train", default="manifests/train.parquet", show_default=True, type=click.Path(dir_okay=False))
@click.option("--val", default="manifests/val.parquet", show_default=True, type=click.Path(dir_okay=False))
@click.option("--balance", "balance_counts", is_flag=True,
              help="Equalise ok samples per degradation within each split (deterministic subset).")
def command(manifests: tuple[str, ...], train: str, val: str, balance_counts: bool) -> None:
    """Combine task/part manifests into train and val manifests."""
    report = merge(manifests, train=train, val=val, balance_counts=balance_counts)
    click.echo(report.format())
