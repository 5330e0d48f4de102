"""``make-dataset stats``: counts per task and split, sizes and errors of one or more manifests.

Without arguments it reads the per-task manifests in ``manifests/`` (``<task>.parquet`` and
``<task>.part-i-of-N.parquet``, ``<task>.ingested.parquet``; mixture tasks as ``a--b.parquet``, ``mix``,
``wild``), not the merged ``train``/``val`` files, so nothing is counted twice.
Rows are de-duplicated by key when several given manifests overlap. Counts are per label (a mixture
such as ``hazy+rainy`` is its own row) and, under ``types``, per component type (a mixture counts
once for each of its types). Ingested photos without ground truth may be labelled ``unknown``
(``unknown.ingested.parquet``); ``without_hq`` counts ok rows with no clean image (LQ only).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
import pandas as pd

import degradations
from degradations import mixtures
from degradations.labels import UNKNOWN, join_label, split_label

from ..common import remote
from ..common.cli import OldSpellings, manifest_inputs
from ..manifest.schema import read_manifest, task_from_slug

TOP_ERRORS = 10


def is_task_stem(stem: str) -> bool:
    """True for a synthesize/ingest task name as files spell it: a type, ``a--b``, ``mix``, ``wild``
    or ``unknown`` (ingested photos without ground truth)."""
    if stem == UNKNOWN:
        return True
    task = task_from_slug(stem)
    try:  # any canonical label counts: ingest keeps a folder's mixture as named, excluded pairs included
        return task in (mixtures.MIX, mixtures.WILD) or join_label(split_label(task)) == task
    except ValueError:
        return False


def task_manifests(folder: str | os.PathLike = "manifests") -> list[Path | str]:
    """Per-task manifests in a folder (or a URL): ``<task>[.ingested][.part-i-of-N].parquet``."""
    if remote.is_url(str(folder)):
        return [remote.join(str(folder), name) for name in remote.listdir(str(folder))
                if name.endswith(".parquet") and is_task_stem(name.split(".")[0])]
    out: list[Path | str] = []
    for path in sorted(Path(folder).glob("*.parquet")):
        if is_task_stem(path.stem.split(".")[0]):
            out.append(path)
    return out


def type_counts(frame: pd.DataFrame) -> dict[str, int]:
    """ok rows per component type (a mixture counts for each of its types), in ``NAMES`` order."""
    ok = frame.loc[frame["status"] == "ok", "degradations"]
    counts: Counter = Counter(name for parts in ok if parts is not None for name in parts)
    return {name: int(counts[name]) for name in degradations.NAMES if counts[name]}


def dataset_stats(paths: Sequence[str | os.PathLike]) -> dict[str, Any]:
    """Counts per task and split (ok / error), image sizes, shard bytes and error messages."""
    if not paths:
        raise ValueError("no manifests given (and none found)")
    frames = [read_manifest(p, status=None) for p in paths]
    frame = pd.concat(frames, ignore_index=True).drop_duplicates("key", keep="first")
    frame["split"] = frame["split"].fillna("none")
    result: dict[str, Any] = {
        "manifests": [str(p) for p in paths],
        "totals": {"rows": len(frame), "ok": int((frame["status"] == "ok").sum()),
                   "error": int((frame["status"] != "ok").sum()), "clean_images": int(frame["hq_sha256"].nunique()),
                   "without_hq": int(((frame["status"] == "ok") & frame["hq_sha256"].isna()).sum())},
        "tasks": {},
    }
    for task, rows in sorted(frame.groupby("degradation"), key=lambda kv: str(kv[0])):
        ok = rows[rows["status"] == "ok"]
        shards = sorted({p for p in rows["shard_path"] if isinstance(p, str)})
        sizes = [_size(p) for p in shards]  # None: missing
        size = sum(n for n in sizes if n is not None)  # shards holding this label (mix/wild shards hold several)
        splits = {}
        for split, part in rows.groupby("split"):
            splits[str(split)] = {"ok": int((part["status"] == "ok").sum()),
                                  "error": int((part["status"] != "ok").sum())}
        errors = Counter(rows.loc[rows["status"] != "ok", "error_message"].fillna("").tolist())
        result["tasks"][str(task)] = {
            "splits": splits,
            "ok": len(ok),
            "error": int(len(rows) - len(ok)),
            "clean_images": int(ok["hq_sha256"].nunique()),
            "without_hq": int(ok["hq_sha256"].isna().sum()),
            "captioned": int(ok["caption"].notna().sum()),
            "shards": len(shards),
            "missing_shards": sum(n is None for n in sizes),
            "shard_bytes": int(size),
            "width": _summary(ok["width"]),
            "height": _summary(ok["height"]),
            "errors": dict(errors.most_common(TOP_ERRORS)),
        }
    every_shard = {p for p in frame["shard_path"] if isinstance(p, str)}
    result["totals"]["shard_bytes"] = int(sum(n for n in map(_size, sorted(every_shard)) if n is not None))
    result["types"] = type_counts(frame)
    return result


def _size(path: str) -> int | None:
    """A shard's bytes (a local file or an object); None when it is missing."""
    if remote.is_url(path):
        fs, key = remote.filesystem(path)
        try:
            return int(fs.size(key))
        except FileNotFoundError:
            return None
    return os.path.getsize(path) if os.path.exists(path) else None


def _summary(values: pd.Series) -> dict[str, float] | None:
    values = values.dropna()
    if values.empty:
        return None
    return {"min": int(values.min()), "mean": round(float(values.mean()), 1), "max": int(values.max())}


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{int(size)} B"
        size /= 1024
    return f"{n} B"


def format_stats(stats: dict[str, Any]) -> str:
    splits = sorted({s for t in stats["tasks"].values() for s in t["splits"]})
    header = ["task"] + [f"{s} ok" for s in splits] + ["errors", "shards", "size", "mean WxH"]
    rows = []
    for task, t in stats["tasks"].items():
        wh = f"{t['width']['mean']:.0f}x{t['height']['mean']:.0f}" if t["width"] else "-"
        rows.append([task] + [str(t["splits"].get(s, {}).get("ok", 0)) for s in splits]
                    + [str(t["error"]), str(t["shards"]), _human(t["shard_bytes"]), wh])
    widths = [max(len(r[i]) for r in [header, *rows]) + 2 for i in range(len(header))]
    lines = ["".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in [header, *rows]]
    tot = stats["totals"]
    lines.append(f"total: {tot['rows']} rows, {tot['ok']} ok, {tot['error']} errors, "
                 f"{tot['clean_images']} clean images, {_human(tot['shard_bytes'])} of shards")
    if tot.get("without_hq"):
        lines.append(f"  {tot['without_hq']} ok rows have no clean image (LQ only, ingested without ground truth)")
    if any("+" in task for task in stats["tasks"]) and stats.get("types"):
        lines.append("ok per type (a mixture counts for each of its types): "
                     + ", ".join(f"{name} {n}" for name, n in stats["types"].items()))
    for task, t in stats["tasks"].items():
        for message, n in t["errors"].items():
            lines.append(f"  {task}: {n} x {message[:140]}")
        if t["missing_shards"]:
            lines.append(f"  {task}: {t['missing_shards']} shard file(s) missing (run make-dataset verify)")
    return "\n".join(lines)


@click.command("stats")
@manifest_inputs(help="Manifest to count (repeatable; also positional; default: the task manifests in --manifest-dir).")
@click.option("--manifest-dir", default="manifests", show_default=True, type=click.Path(file_okay=False),
              help="Where to find per-task manifests when none are given.")
@click.option("--out", "--json", "json_path", cls=OldSpellings, default=None, type=click.Path(dir_okay=False),
              help="Also write the stats here, as JSON.")
def command(manifests: tuple[str, ...], manifest_dir: str, json_path: str | None) -> None:
    """Counts per task and split, sizes and error counts."""
    paths = list(manifests) or task_manifests(manifest_dir)
    stats = dataset_stats(paths)  # errors: make-dataset's error boundary
    click.echo(format_stats(stats))
    if json_path:
        from ..common.files import write_json_atomic

        write_json_atomic(stats, json_path)
        click.echo(f"wrote {json_path}")


__all__ = ["command", "dataset_stats", "format_stats", "task_manifests"]
