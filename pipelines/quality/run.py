"""Score the clean images of manifests and write each manifest again with the scores as columns.

A scored manifest is the input's rows, in their order, with the schema's columns and after them
the ``q_*`` columns (null where a row has no clean image or it could not be scored) and
``q_reject`` (the reasons a ``--reject-if`` rule gave, null when kept). It is written under
``--out`` with the input's file name and Parquet metadata, atomically; shard paths are rewritten
relative to the new folder so the scored manifest reads like the original. The ``q_*`` columns are
optional: readers keep them (``read_manifest``), the schema version does not change, and writers
that conform frames to the schema (``merge``) drop them, so score after merging.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..common import remote
from ..common.files import write_atomic
from ..distribute.local import run_local
from ..distribute.progress import Progress
from ..manifest.schema import read_manifest, read_metadata, to_table
from .gate import Rule, reject_reasons
from .score import COLUMNS, FLOAT_COLUMNS
from .sources import ImageScore, clean_images, score_spec, specs_for

__all__ = ["REJECT", "ScoreReport", "score_manifests", "scored_table"]

REJECT = "q_reject"


@dataclass
class ScoreReport:
    written: list[str] = field(default_factory=list)
    images: int = 0  # distinct clean images
    scored: int = 0
    errors: list[str] = field(default_factory=list)  # "where: error", one per image that failed
    rows: int = 0
    rejected: int = 0  # rows
    dropped: int = 0  # rows left out of the written manifests
    not_judged: int = 0  # rows a rule could not judge (no scores)
    reasons: Counter = field(default_factory=Counter)  # reason -> rows

    def format(self) -> str:
        lines = [f"scored {self.scored} of {self.images} clean image(s); {len(self.errors)} could not be scored"]
        if self.reasons or self.rejected:
            verb = "dropped" if self.dropped else "marked (q_reject)"
            lines.append(f"rejected {self.rejected} of {self.rows} row(s), {verb}:")
            lines += [f"  {n} x {reason}" for reason, n in sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0]))]
        if self.not_judged:
            lines.append(f"{self.not_judged} row(s) without scores were kept unjudged")
        lines += [f"wrote {path}" for path in self.written]
        return "\n".join(lines)


def _score_frame(results: list[ImageScore]) -> pd.DataFrame:
    """One row per scored hash (hash order), every score column."""
    ok = sorted((r for r in results if r.scores is not None), key=lambda r: r.hq_sha256)
    frame = pd.DataFrame([{"hq_sha256": r.hq_sha256, **r.scores} for r in ok], columns=["hq_sha256", *COLUMNS])
    return frame.set_index("hq_sha256")


def scored_table(frame: pd.DataFrame, scores: pd.DataFrame, out_dir: Path) -> pa.Table:
    """The schema's columns of ``frame`` (shards relative to ``out_dir``), then the score columns."""
    base = frame.drop(columns=[c for c in frame.columns if c.startswith("q_")] + ["shard_path"], errors="ignore")
    base["shard"] = [_relative(p, out_dir) if isinstance(p, str) else None for p in frame["shard_path"]]
    table = to_table(base)
    joined = scores.reindex(frame["hq_sha256"].where(frame["hq_sha256"].notna(), "")).reset_index(drop=True)
    for name in FLOAT_COLUMNS:
        table = table.append_column(name, pa.array(joined[name].to_numpy(dtype=np.float64), pa.float64(),
                                                   mask=joined[name].isna().to_numpy()))
    table = table.append_column("q_phash", _strings(joined["q_phash"]))
    reject = frame[REJECT] if REJECT in frame.columns else pd.Series([None] * len(frame), dtype=object)
    return table.append_column(REJECT, _strings(reject))


def _strings(values: pd.Series) -> pa.Array:
    """Strings, and null for anything else (pandas turns missing values into NaN)."""
    return pa.array([v if isinstance(v, str) else None for v in values], pa.string())


def _relative(shard_path: str, out_dir: Path) -> str:
    return shard_path if remote.is_url(shard_path) else os.path.relpath(shard_path, out_dir.resolve())


def _outputs(paths: Sequence[str | os.PathLike], out_dir: Path) -> list[Path]:
    targets = [out_dir / (str(p).rsplit("/", 1)[-1]) for p in paths]
    for path, target in zip(paths, targets):
        if not remote.is_url(str(path)) and Path(path).resolve() == target.resolve():
            raise ValueError(f"{target} is the manifest being scored: give another --out folder")
    names = Counter(t.name for t in targets)
    if any(n > 1 for n in names.values()):
        raise ValueError(f"two manifests named {next(k for k, n in names.items() if n > 1)}: score them separately")
    return targets


def score_manifests(paths: Sequence[str | os.PathLike], out_dir: str | os.PathLike, rule: Rule | None = None,
                    drop: bool = False, workers: int = 1, on_progress: Progress | None = None,
                    on_start: Callable[[int], None] | None = None) -> ScoreReport:
    """Score every distinct clean image of ``paths`` once and write the scored manifests into
    ``out_dir``; with ``rule``, mark (or with ``drop``, leave out) the rows it rejects."""
    out_dir = Path(out_dir)
    targets = _outputs(paths, out_dir)
    frames = [read_manifest(p, status=None) for p in paths]
    images = clean_images(frames)
    if on_start is not None:
        on_start(len(images))
    results = [r for batch in run_local(score_spec, specs_for(images), workers, on_progress=on_progress)
               for r in batch]
    results.sort(key=lambda r: r.hq_sha256)
    report = ScoreReport(images=len(images), scored=sum(r.scores is not None for r in results),
                         errors=[f"{r.where}: {r.error}" for r in results if r.error])
    scores = _score_frame(results)
    for path, frame, target in zip(paths, frames, targets):
        _write_one(frame, scores, target, read_metadata(path), rule, drop, report)
    return report


def _write_one(frame: pd.DataFrame, scores: pd.DataFrame, target: Path, metadata: dict | None,
               rule: Rule | None, drop: bool, report: ScoreReport) -> None:
    report.rows += len(frame)
    if rule is not None:
        judged = scores.reindex(frame["hq_sha256"].where(frame["hq_sha256"].notna(), "")).reset_index(drop=True)
        reasons = reject_reasons(rule, judged)
        frame = frame.assign(**{REJECT: reasons.to_numpy()})
        report.not_judged += int(judged[rule.names].isna().any(axis=1).sum())
        rejected = reasons.notna().to_numpy()
        report.rejected += int(rejected.sum())
        report.reasons.update(r for row in reasons.dropna() for r in row.split("; "))
        if drop:
            frame, report.dropped = frame[~rejected].reset_index(drop=True), report.dropped + int(rejected.sum())
    table = scored_table(frame, scores, target.parent)
    if metadata:
        table = table.replace_schema_metadata(metadata)
    write_atomic(target, lambda tmp: pq.write_table(table, tmp, compression="zstd"))
    report.written.append(str(target))
