"""``make-dataset synthesize``: clean photos -> WebDataset shards + Parquet manifests.

Synthesize supplies the listing to the shared driver (:mod:`pipelines.build.driver`): list and hash the
inputs (``sources``), drop exact duplicates, cut the unique sources into groups, one
:class:`~pipelines.synthesize.worker.ShardSpec` job each (shard ``i`` of every task, each source decoded
once). The driver checks what is already done, runs the jobs and assembles
``manifests/<task>.parquet`` (rows sorted by key, shard paths relative to the manifest),
``manifests/<task>.json`` (command, versions, seed, config) and ``<out>/<task>/sizes.json``.
All of it deterministic and resumable.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields

import click

import degradations
from degradations import mixtures

from ..build import sources
from ..build.driver import build
from ..build.options import FOLLOW_SYMLINKS, PNG_LEVEL, ProgressBars, build_options, run_command, run_options
from ..build.plan import BuildOptions, BuildPlan, BuildReport
from ..common import images
from ..distribute.progress import Progress
from .groups import Duplicate, SourceGroups, group_sources
from .worker import ShardSpec, SynthConfig

log = logging.getLogger(__name__)


@dataclass
class SynthReport(BuildReport):
    duplicates: list[Duplicate] = field(default_factory=list)
    n_listed: int = 0
    n_sources: int = 0
    used_default_input: bool = False


def parse_tasks(names: Sequence[str]) -> tuple[str, ...]:
    """Canonical tasks, in order of first mention: names/aliases, ``a+b`` mixtures (applied in the
    order written), ``mix``, ``wild``; ``all`` -> every type, ``cdd11`` -> the eleven CDD-11 tasks."""
    out: list[str] = []
    for name in names:
        for part in str(name).split(","):
            part = part.strip()
            if not part:
                continue
            lower = part.lower()
            if lower == "all":
                full: Sequence[str] = degradations.NAMES
            elif lower == mixtures.CDD11_TASK:
                full = mixtures.CDD11
            else:
                full = (mixtures.canonical_task(part),)
            out.extend(t for t in full if t not in out)
    if not out:
        raise ValueError("give at least one --task (a name, an alias, a+b, mix, wild, cdd11 or 'all')")
    return tuple(out)


def plan_synthesis(config: SynthConfig, input: str | os.PathLike | None, out: str, plan: SourceGroups,
                   skipped: Counter | None = None) -> BuildPlan:
    """One job per source group; run-record fields and summary lines of the listing (``skipped``:
    what the folder listing skipped, see :func:`pipelines.build.sources.walk_images`)."""
    for dup in plan.duplicates:
        log.info("duplicate input %s (same bytes as %s): processed once", dup.source, dup.duplicate_of)
    notes = ["input: bundled scikit-image photos (no --input given)"] if input is None else []
    notes.append(f"inputs: {plan.n_listed} listed, {len(plan.sources)} unique"
                 + (f", {len(plan.duplicates)} exact duplicate(s) processed once" if plan.duplicates else ""))
    note = sources.skipped_note(skipped or Counter(), "--input")
    if note:
        notes.append(note)
    details = [f"  duplicate: {dup.source} == {dup.duplicate_of}" for dup in plan.duplicates[:5]]
    if len(plan.duplicates) > 5:
        details.append(f"  ... {len(plan.duplicates) - 5} more duplicates (see the manifest .json)")
    return BuildPlan(
        jobs=tuple(ShardSpec(i, group, config, out) for i, group in enumerate(plan.groups)),
        tasks=config.tasks,
        records={task: _record_fields(task, config, input, plan) for task in config.tasks},
        notes=tuple(notes),
        details=tuple(details),
        unit="images",
    )


def _record_fields(task: str, config: SynthConfig, input: str | os.PathLike | None, plan: SourceGroups) -> dict:
    cfg = config.recorded()
    cfg["tasks"] = [task]
    return {
        "task_version": mixtures.task_version(task),
        "seed": config.seed,
        "config": cfg,
        "input": None if input is None else str(input),
        "default_input": input is None,
        "n_inputs_listed": plan.n_listed,
        "n_unique_sources": len(plan.sources),
        "duplicates": [{"source": d.source, "duplicate_of": d.duplicate_of, "sha256": d.sha256}
                       for d in plan.duplicates],
    }


def synthesize(
    config: SynthConfig,
    options: BuildOptions = BuildOptions(),
    input: str | os.PathLike | None = None,
    on_hash_progress: Progress | None = None,
    on_progress: Progress | None = None,
    on_plan: Callable[[int, int], None] | None = None,
    on_listed: Progress | None = None,
    follow_symlinks: bool = False,
) -> SynthReport:
    """Build (or resume) the dataset under ``options``; returns counts for the summary. See the module docstring."""
    start = time.perf_counter()
    skipped: Counter = Counter()
    listed = sources.list_sources(input, follow_symlinks=follow_symlinks, skipped=skipped)
    if on_listed:
        on_listed(len(listed))
    groups = group_sources(sources.hash_sources(listed, on_hash_progress), config.shard_size, config.variants)
    report = build(plan_synthesis(config, input, str(options.out), groups, skipped), options, on_plan=on_plan,
                   on_progress=on_progress, started=start)
    return SynthReport(**{f.name: getattr(report, f.name) for f in fields(report)},
                       duplicates=list(groups.duplicates), n_listed=groups.n_listed, n_sources=len(groups.sources),
                       used_default_input=input is None)


@click.command("synthesize")
@click.option("--task", "tasks", multiple=True, required=True,
              help="Degradation name or alias (repeatable, comma-separated), 'all', a mixture such as "
                   "lowlight+haze+rain (applied in that order), 'mix' (a mixture drawn per sample), 'wild' "
                   "(the high-order blur/resize/noise/JPEG chain) or 'cdd11' (the 11 CDD-11 tasks).")
@click.option("--input", "input_", default=None,
              help="Folder (recursive), glob, text file of paths, or Parquet with a 'path' column. "
                   "Default: the photos bundled with scikit-image.")
@build_options(shards="<out>/<task>/<task>-000000.tar ... (a mixture's '+' written '--')",
               manifests="<task>.parquet and <task>.json.")
@click.option("--mix-size", default="2-3", show_default=True,
              help="With --task mix: types per mixture, a number or a range LOW-HIGH.")
@click.option("--mix-from", default=None,
              help="With --task mix: comma-separated types to draw from (default: all but uncompleted).")
@click.option("--variants", default=1, show_default=True, type=click.IntRange(min=1),
              help="Degraded variants per clean image and task.")
@click.option("--severity", default="medium", show_default=True, type=click.Choice(degradations.SEVERITIES))
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--shard-size", default=1000, show_default=True, type=click.IntRange(min=1),
              help="Samples per shard (rounded to whole clean images).")
@click.option("--image-format", default="png", show_default=True, type=click.Choice(images.FORMATS),
              help="HQ/LQ member format: lossless png (default), lossless webp, or jpg (quality 95).")
@PNG_LEVEL
@click.option("--max-side", default=None, type=click.IntRange(min=1),
              help="Downscale HQ so its longest side is at most this (before degrading).")
@click.option("--crop", default=None, type=click.IntRange(min=1), help="Centre-crop HQ to at most CROP x CROP.")
@click.option("--val-fraction", default=0.0, show_default=True, type=click.FloatRange(0.0, 1.0, max_open=True),
              help="Fraction of clean images (by HQ hash) that go to the val split.")
@click.option("--max-pixels", default=images.DEFAULT_MAX_PIXELS, show_default=True, type=click.IntRange(min=1),
              help="Inputs with more pixels are recorded as errors (decompression-bomb guard).")
@FOLLOW_SYMLINKS
def command(tasks, input_, out, manifests, mix_size, mix_from, variants, severity, seed, workers, shard_size,
            image_format, png_level, max_side, crop, val_fraction, max_pixels, overwrite, part, distributor,
            ray_address, cpus_per_task, follow_symlinks) -> None:
    """Degrade clean photos into WebDataset shards with Parquet manifests."""
    try:
        config = SynthConfig(tasks=parse_tasks(tasks), variants=variants, severity=severity, seed=seed,
                             shard_size=shard_size, image_format=image_format, png_level=png_level, max_side=max_side,
                             crop=crop,
                             val_fraction=val_fraction, max_pixels=max_pixels,
                             mix_size=mixtures.parse_sizes(mix_size), mix_from=mixtures.parse_pool(mix_from))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    options = run_options(out, manifests, workers, part, overwrite, distributor, ray_address, cpus_per_task)
    run_command(lambda bars: synthesize(config, options, input=input_, on_hash_progress=bars.hashed,
                                        on_progress=bars.progress, on_plan=bars.planned, on_listed=bars.listed,
                                        follow_symlinks=follow_symlinks),
                ProgressBars("synthesizing ({shards} shard groups)", "img"))


__all__ = ["SynthReport", "command", "parse_tasks", "plan_synthesis", "synthesize"]
