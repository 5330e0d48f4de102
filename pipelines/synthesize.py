"""``make-dataset synthesize``: clean photos -> WebDataset shards + Parquet manifests.

Steps: list and hash the inputs (``sources``), plan the shards, check what is already done,
run the shard specs (``distribute`` + ``worker``), then assemble ``manifests/<task>.parquet``
(rows sorted by key, shard paths relative to the manifest), ``manifests/<task>.json`` (command,
versions, seed, config) and ``<out>/<task>/sizes.json``. All of it deterministic and resumable.
"""

from __future__ import annotations

import logging
import os
import platform
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import pandas as pd
import pyarrow.parquet as pq

import degradations

from . import sources
from .common import images
from .common.files import write_json_atomic
from .distribute import WorkerDied, run_local, slurm_part
from .manifest import (
    SCHEMA_VERSION,
    SIZES_FILE,
    STATS_SUFFIX,
    make_key,
    shard_stem_pattern,
    write_manifest,
)
from .stats import format_run_counts
from .worker import (
    ShardSpec,
    SynthConfig,
    configure_process,
    process_shard,
    read_stats,
    set_progress_sink,
    shard_done,
)
from .writers import temp_files

log = logging.getLogger(__name__)

Progress = Callable[[int], None]


class ConfigMismatch(RuntimeError):
    """The output folder holds shards made with other inputs or settings."""


@dataclass
class SynthReport:
    manifests: list[str] = field(default_factory=list)
    counts: dict[tuple[str, str, str], int] = field(default_factory=dict)  # (task, split, status) -> n
    errors: Counter = field(default_factory=Counter)  # error message -> n
    duplicates: list[sources.Duplicate] = field(default_factory=list)
    n_listed: int = 0
    n_sources: int = 0
    shards_written: int = 0
    shards_skipped: int = 0
    samples_done: int = 0  # samples in shards written by this run
    duration: float = 0.0
    used_default_input: bool = False

    @property
    def images_per_second(self) -> float:
        return self.samples_done / self.duration if self.duration > 0 else 0.0


def parse_tasks(names: Sequence[str]) -> tuple[str, ...]:
    """Canonical task names from names/aliases, ``all`` -> every type; order of first mention."""
    out: list[str] = []
    for name in names:
        for part in str(name).split(","):
            part = part.strip()
            if not part:
                continue
            full = degradations.NAMES if part.lower() == "all" else (degradations.canonical_name(part),)
            out.extend(t for t in full if t not in out)
    if not out:
        raise ValueError("give at least one --task (a name, an alias, or 'all')")
    return tuple(out)


def manifest_stem(task: str, part: tuple[int, int]) -> str:
    index, count = part
    return task if count == 1 else f"{task}.part-{index}-of-{count}"


def library_versions() -> dict[str, str]:
    import cv2
    import numpy
    import PIL
    import pyarrow

    versions = {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "opencv": cv2.__version__,
        "pillow": PIL.__version__,
        "pyarrow": pyarrow.__version__,
        "pandas": pd.__version__,
    }
    try:
        from importlib.metadata import version

        versions["daclip-toolkit"] = version("daclip-toolkit")
    except Exception:
        versions["daclip-toolkit"] = "unknown"
    return versions


def _shard_files(folder: Path, stem: str) -> list[Path]:
    return [folder / f"{stem}{suffix}" for suffix in (".tar", ".parquet", STATS_SUFFIX)] + temp_files(folder, stem)


def remove_outputs(specs: Sequence[Any], tasks: Sequence[str], out: Path, manifests: Path, manifest_names: Sequence[str],
                   kind: str = "", whole_folder: bool = True) -> None:
    """``--overwrite``: delete what this run would write: every shard of this kind in the task
    folders (only this part's shards with ``--part``) and the manifests it writes."""
    for task in tasks:
        folder = out / task
        if whole_folder and folder.is_dir():
            pattern = shard_stem_pattern(task, kind)
            for path in folder.iterdir():
                stem = path.name.split(".", 1)[0].removesuffix(STATS_SUFFIX.split(".")[0])  # x_stats.json -> x
                if pattern.fullmatch(stem):
                    path.unlink()
        else:
            for spec in specs:
                for path in _shard_files(folder, spec.stem(task)):
                    path.unlink(missing_ok=True)
    for name in manifest_names:
        for path in (manifests / f"{name}.parquet", manifests / f"{name}.json"):
            path.unlink(missing_ok=True)


def check_existing(all_specs: Sequence[Any], tasks: Sequence[str], out: Path, kind: str = "") -> None:
    """Refuse to mix runs: every committed shard of this kind in the task folders must match this plan."""
    by_stem = {(task, spec.stem(task)): spec for spec in all_specs for task in tasks}
    problems = []
    for task in tasks:
        folder = out / task
        if not folder.is_dir():
            continue
        pattern = shard_stem_pattern(task, kind)
        for path in sorted(folder.glob(f"*{STATS_SUFFIX}")):
            stem = path.name[: -len(STATS_SUFFIX)]
            if not pattern.fullmatch(stem):
                continue
            spec = by_stem.get((task, stem))
            stats = read_stats(folder, stem) or {}
            if spec is None:
                problems.append(f"{path}: not part of this run's plan (other inputs or --shard-size?)")
            elif stats.get("spec_hash") != spec.spec_hash(task):
                problems.append(f"{path}: made with other inputs or settings")
    if problems:
        listing = "\n  ".join(problems[:5]) + ("\n  ..." if len(problems) > 5 else "")
        raise ConfigMismatch(
            f"{out} already holds shards from a different run:\n  {listing}\n"
            "Use --overwrite to replace them, or another --out."
        )


def synthesize(
    config: SynthConfig,
    input: str | os.PathLike | None = None,
    out: str | os.PathLike = "data",
    manifests: str | os.PathLike = "manifests",
    workers: int = 1,
    part: tuple[int, int] = (0, 1),
    overwrite: bool = False,
    command: str | None = None,
    on_hash_progress: Progress | None = None,
    on_progress: Progress | None = None,
    on_plan: Callable[[int, int], None] | None = None,
    on_listed: Progress | None = None,
) -> SynthReport:
    """Build (or resume) the dataset; returns counts for the summary. See the module docstring."""
    start = time.perf_counter()
    out, manifests = Path(out), Path(manifests)
    report = SynthReport(used_default_input=input is None)
    listed = sources.list_sources(input)
    if on_listed:
        on_listed(len(listed))
    plan = sources.build_plan(sources.hash_sources(listed, on_hash_progress), config.shard_size, config.variants)
    report.n_listed, report.n_sources, report.duplicates = plan.n_listed, len(plan.sources), list(plan.duplicates)
    for dup in plan.duplicates:
        log.info("duplicate input %s (same bytes as %s): processed once", dup.source, dup.duplicate_of)

    all_specs = [ShardSpec(i, group, config, str(out)) for i, group in enumerate(plan.groups)]
    specs = [s for s in all_specs if sources.in_part(s.shard_id, part)]
    if overwrite:
        remove_outputs(specs, config.tasks, out, manifests, [manifest_stem(t, part) for t in config.tasks],
                       whole_folder=part[1] == 1)
    check_existing(all_specs, config.tasks, out)
    if on_plan:
        on_plan(sum(len(s.sources) for s in specs) * config.variants * len(config.tasks), len(specs))

    pending = []
    for spec in specs:  # complete shards are skipped here, without starting a worker
        if all(shard_done(spec, task) is not None for task in config.tasks):
            report.shards_skipped += len(config.tasks)
            if on_progress:
                on_progress(len(spec.sources) * config.variants * len(config.tasks))
        else:
            pending.append(spec)
    for result in run_local(process_shard, pending, workers, initializer=configure_process,
                            on_progress=on_progress, progress_setter=set_progress_sink):
        for stats in result.tasks.values():
            if stats.get("skipped"):
                report.shards_skipped += 1
            else:
                report.shards_written += 1
                report.samples_done += int(stats.get("count", 0))

    for task in config.tasks:
        frame = assemble_task(task, specs, out, manifests)
        stem = manifest_stem(task, part)
        path = manifests / f"{stem}.parquet"
        write_manifest(frame, path)
        report.manifests.append(str(path))
        write_sizes(out / task)
        for (split, status), n in frame.groupby(["split", "status"], dropna=False).size().items():
            report.counts[(task, str(split), str(status))] = int(n)
        report.errors.update(frame.loc[frame["status"] != "ok", "error_message"].fillna("").tolist())
        write_json_atomic(
            run_record(task, config, input, out, manifests, part, plan, specs, frame, command, workers,
                       time.perf_counter() - start),
            manifests / f"{stem}.json",
        )
    report.duration = time.perf_counter() - start
    return report


def assemble_task(task: str, specs: Sequence[ShardSpec], out: Path, manifests: Path) -> pd.DataFrame:
    """Concatenate this run's shard Parquets; rewrite ``shard`` relative to the manifest folder."""
    frames = []
    for spec in sorted(specs, key=lambda s: s.shard_id):
        folder = spec.folder(task)
        frame = pq.read_table(folder / f"{spec.stem(task)}.parquet").to_pandas()
        rel = os.path.relpath(folder / f"{spec.stem(task)}.tar", manifests)
        frame["shard"] = Path(rel).as_posix()
        frames.append(frame)
    if not frames:
        from .manifest import empty_frame

        return empty_frame()
    return demote_hq_duplicates(pd.concat(frames, ignore_index=True))


def demote_hq_duplicates(frame: pd.DataFrame) -> pd.DataFrame:
    """Two different input files with identical pixels give the same key in different shards; keep the
    first (shard order) and turn the others into error rows (their samples stay unused in the tar)."""
    dup = frame["key"].duplicated(keep="first") & (frame["status"] == "ok")
    if not dup.any():
        return frame
    first_source = frame.drop_duplicates("key", keep="first").set_index("key")["source"]
    frame = frame.copy()
    for i in frame.index[dup]:
        key = frame.at[i, "key"]
        frame.loc[i, ["status", "members", "index_in_shard"]] = ["error", None, None]
        frame.at[i, "error_message"] = f"duplicate: same HQ pixels as {first_source[key]} (sample unused)"
        task, sha, variant = frame.at[i, "degradation"], frame.at[i, "source_sha256"], frame.at[i, "variant"]
        frame.at[i, "key"] = make_key(task, sha, int(variant), error=True)
    return frame


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


def run_record(task, config, input, out, manifests, part, plan, specs, frame, command, workers, duration) -> dict:
    cfg = config.recorded()
    cfg["tasks"] = [task]
    return {
        "schema_version": SCHEMA_VERSION,
        "task": task,
        "task_version": getattr(degradations.get(task), "version", 1),
        "seed": config.seed,
        "config": cfg,
        "input": None if input is None else str(input),
        "default_input": input is None,
        "out": os.path.relpath(out / task, manifests),
        "part": f"{part[0]}/{part[1]}",
        "shards": [f"{s.stem(task)}.tar" for s in specs],
        "n_inputs_listed": plan.n_listed,
        "n_unique_sources": len(plan.sources),
        "duplicates": [{"source": d.source, "duplicate_of": d.duplicate_of, "sha256": d.sha256}
                       for d in plan.duplicates],
        "rows": len(frame),
        "ok": int((frame["status"] == "ok").sum()) if len(frame) else 0,
        "errors": int((frame["status"] != "ok").sum()) if len(frame) else 0,
        "versions": library_versions(),
        # the only run-dependent fields: how this run was invoked (not what it produced)
        "run": {"command": command, "workers": workers, "duration_s": round(duration, 3)},
    }


def format_summary(report: SynthReport) -> str:
    """A one-screen summary: counts per task/split/status, errors, duplicates, speed."""
    lines = []
    if report.used_default_input:
        lines.append("input: bundled scikit-image photos (no --input given)")
    lines.append(
        f"inputs: {report.n_listed} listed, {report.n_sources} unique"
        + (f", {len(report.duplicates)} exact duplicate(s) processed once" if report.duplicates else "")
    )
    table, shard_line = format_run_counts(report.counts, report.errors, report.shards_written,
                                          report.shards_skipped, report.samples_done, report.duration, unit="images")
    lines += table
    for dup in report.duplicates[:5]:
        lines.append(f"  duplicate: {dup.source} == {dup.duplicate_of}")
    if len(report.duplicates) > 5:
        lines.append(f"  ... {len(report.duplicates) - 5} more duplicates (see the manifest .json)")
    lines += shard_line
    for path in report.manifests:
        lines.append(f"manifest: {path}")
    return "\n".join(lines)


@click.command("synthesize")
@click.option("--task", "tasks", multiple=True, required=True,
              help="Degradation name or alias (repeatable, comma-separated), or 'all'.")
@click.option("--input", "input_", default=None,
              help="Folder (recursive), glob, text file of paths, or Parquet with a 'path' column. "
                   "Default: the photos bundled with scikit-image.")
@click.option("--out", default="data", show_default=True, type=click.Path(file_okay=False),
              help="Shard folder: <out>/<task>/<task>-000000.tar ...")
@click.option("--manifests", default="manifests", show_default=True, type=click.Path(file_okay=False),
              help="Folder for <task>.parquet and <task>.json.")
@click.option("--variants", default=1, show_default=True, type=click.IntRange(min=1),
              help="Degraded variants per clean image and task.")
@click.option("--severity", default="medium", show_default=True, type=click.Choice(degradations.SEVERITIES))
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1),
              help="Local processes; outputs do not depend on it.")
@click.option("--shard-size", default=1000, show_default=True, type=click.IntRange(min=1),
              help="Samples per shard (rounded to whole clean images).")
@click.option("--image-format", default="png", show_default=True, type=click.Choice(images.FORMATS),
              help="HQ/LQ member format: lossless png (default), lossless webp, or jpg (quality 95).")
@click.option("--max-side", default=None, type=click.IntRange(min=1),
              help="Downscale HQ so its longest side is at most this (before degrading).")
@click.option("--crop", default=None, type=click.IntRange(min=1), help="Centre-crop HQ to at most CROP x CROP.")
@click.option("--val-fraction", default=0.0, show_default=True, type=click.FloatRange(0.0, 1.0, max_open=True),
              help="Fraction of clean images (by HQ hash) that go to the val split.")
@click.option("--max-pixels", default=images.DEFAULT_MAX_PIXELS, show_default=True, type=click.IntRange(min=1),
              help="Inputs with more pixels are recorded as errors (decompression-bomb guard).")
@click.option("--overwrite", is_flag=True, help="Delete this run's earlier outputs first.")
@click.option("--part", default=None, help="Process only partition i of N shards, e.g. 0/4, or 'slurm' (from the job array "
                   "variables); merge joins the parts.")
def command(tasks, input_, out, manifests, variants, severity, seed, workers, shard_size, image_format,
            max_side, crop, val_fraction, max_pixels, overwrite, part) -> None:
    """Degrade clean photos into WebDataset shards with Parquet manifests."""
    from tqdm import tqdm

    try:
        config = SynthConfig(tasks=parse_tasks(tasks), variants=variants, severity=severity, seed=seed,
                             shard_size=shard_size, image_format=image_format, max_side=max_side, crop=crop,
                             val_fraction=val_fraction, max_pixels=max_pixels)
        if part == "slurm":
            part = slurm_part()
            if part is None:
                raise ValueError("--part slurm needs SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT")
        part_tuple = sources.parse_part(part)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    bars: dict[str, Any] = {}

    def on_listed(n: int) -> None:
        bars["hash"] = tqdm(total=n, desc="hashing inputs", unit="file", dynamic_ncols=True)

    def on_hash(n: int) -> None:
        bars["hash"].update(n)

    def on_plan(total: int, n_shards: int) -> None:
        if "hash" in bars:
            bars["hash"].close()
        bars["samples"] = tqdm(total=total, desc=f"synthesizing ({n_shards} shard groups)", unit="img",
                               dynamic_ncols=True)

    def on_progress(n: int) -> None:
        bars["samples"].update(n)

    try:
        report = synthesize(config, input=input_, out=out, manifests=manifests, workers=workers, part=part_tuple,
                            overwrite=overwrite, command=" ".join(["make-dataset", *sys.argv[1:]]),
                            on_hash_progress=on_hash, on_progress=on_progress, on_plan=on_plan,
                            on_listed=on_listed)
    except (ConfigMismatch, ValueError, WorkerDied) as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:  # missing input, disk full ...: committed shards are kept
        raise click.ClickException(f"{exc}\n(completed shards are kept; rerun the same command to resume)") from None
    finally:
        for bar in bars.values():
            bar.close()
    click.echo(format_summary(report))


__all__ = ["ConfigMismatch", "SynthConfig", "SynthReport", "command", "format_summary", "parse_tasks", "synthesize"]
