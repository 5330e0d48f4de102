"""``make-dataset ingest``: existing paired LQ/GT folders -> the same shards and manifests as ``synthesize``.

Two ways in:

- ``--root datasets/universal``: DA-CLIP's layout ``<split>/<type>/{LQ,GT}/*``; the split comes from
  the folder (``train``/``val``), ``<type>`` must be a DA-CLIP name or alias, or a mixture of them
  written ``a+b`` (the label, in that order; anything else is reported, never guessed).
- ``--task rainy --lq DIR --hq DIR [--split train|val|auto]`` for any other pair of folders;
  ``auto`` splits by HQ hash like ``synthesize``.

LQ images without ground truth (real photos) come in too, as ok rows with no HQ member:
``--lq DIR`` without ``--hq`` (label ``--task``: a type, alias, ``a+b`` mixture, or ``unknown``, the
default), and under ``--root`` every type folder with ``LQ/`` and no ``GT/`` (or images directly),
and every top folder that is not a split (``<root>/<label>/[LQ/]*``, split ``auto`` by LQ hash).
``--lq-only`` takes every folder as LQ-only (GT/ is not read). See :mod:`pipelines.ingest.pairing`.

Pairing and variants are :mod:`pipelines.ingest.pairing`' job, one shard of pairs is
:mod:`pipelines.ingest.worker`'s; this module lists, plans one :class:`IngestSpec` job per
``--shard-size`` pairs of a task, and hands them to the shared driver (:mod:`pipelines.build.driver`),
so writer, resume, atomicity, ``--overwrite`` and ``--part i/N`` / ``--part slurm`` are those of
``synthesize``. Shards are ``<out>/<task>/<task>-ingested-000000.tar``, manifests
``<manifests>/<task>.ingested.parquet``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import click

from ..build.driver import build
from ..build.options import FOLLOW_SYMLINKS, PNG_LEVEL, ProgressBars, build_options, run_command, run_options
from ..build.plan import BuildOptions, BuildPlan, BuildReport
from ..common import images
from ..common.cli import LocalOrURLFolder
from ..common.remote import as_path
from ..distribute.progress import Progress
from .pairing import (
    LQ_ONLY,
    Found,
    build_pairs,
    folder_label,
    list_daclip_tree,
    list_lq_folder,
    pair_folders,
    parse_label,
)
from .worker import KIND, ORIGIN, IngestConfig, IngestSpec

__all__ = ["LQ_ONLY", "IngestConfig", "IngestSpec", "command", "ingest", "list_daclip_tree", "pair_folders",
           "plan_ingest"]


def plan_ingest(found: Sequence[Found], config: IngestConfig, out: str, notes: list[str]) -> BuildPlan:
    """Hash and pair the listed files (notes grow), cut each task's pairs into shard jobs."""
    by_task = build_pairs(found, notes)
    jobs = []
    for task in sorted(by_task):
        pairs, size = by_task[task], config.shard_size
        jobs += [IngestSpec(task, i // size, tuple(pairs[i : i + size]), config, out)
                 for i in range(0, len(pairs), size)]
    record = {"origin": ORIGIN, "config": config.recorded(), "notes": list(notes)}
    return BuildPlan(jobs=tuple(jobs), tasks=tuple(sorted(by_task)), kind=KIND,
                     records={task: record for task in by_task}, notes=tuple(f"note: {n}" for n in notes),
                     unit="pairs")


def ingest(
    found: Sequence[Found],
    config: IngestConfig,
    options: BuildOptions = BuildOptions(),
    notes: list[str] | None = None,
    on_progress: Progress | None = None,
    on_plan: Callable[[int, int], None] | None = None,
) -> BuildReport:
    """Ingest listed pairs (see :func:`list_daclip_tree` / :func:`pair_folders`) into shards + manifests."""
    start = time.perf_counter()
    plan = plan_ingest(found, config, str(options.out), list(notes or []))
    return build(plan, options, on_plan=on_plan, on_progress=on_progress, started=start)


def list_inputs(root: str | None, task: str | None, lq_dir: str | None, hq_dir: str | None, split: str,
                pair_by: str, notes: list[str], follow_symlinks: bool = False, lq_only: bool = False) -> list[Found]:
    """``--root`` (DA-CLIP's tree), ``--task`` with ``--lq`` and ``--hq``, or ``--lq`` alone (LQ-only)."""
    if root is not None:
        if task or lq_dir or hq_dir:
            raise ValueError("give either --root, or --task with --lq and --hq")
        return list_daclip_tree(as_path(root), pair_by, notes, follow_symlinks, lq_only=lq_only)
    if lq_dir and (lq_only or not hq_dir):
        if hq_dir:
            raise ValueError("--lq-only ingests LQ images alone: drop --hq")
        found = list_lq_folder(parse_label(task or "unknown"), split, as_path(lq_dir), notes, follow_symlinks)
        if not found:
            raise FileNotFoundError(f"no image files in {lq_dir}")
        return found
    if not (task and lq_dir and hq_dir):
        raise ValueError("give --root DIR, --task NAME --lq DIR --hq DIR, or --lq DIR alone (LQ images without ground truth)")
    name = folder_label(task)
    found: list[Found] = [(name, split, s, lq, gt)
                          for s, lq, gt in pair_folders(name, split, as_path(lq_dir), as_path(hq_dir), pair_by, notes,
                                                        follow_symlinks)]
    if not found:
        raise FileNotFoundError(f"no image files in {lq_dir}")
    return found


@click.command("ingest")
@click.option("--root", type=click.Path(file_okay=False), default=None,
              help="DA-CLIP layout: <root>/<train|val>/<type>/{LQ,GT}/* (a folder or s3://bucket/prefix).")
@click.option("--task", default=None,
              help="Degradation of --lq/--hq (name or alias); of --lq alone also a+b or unknown (the default).")
@click.option("--lq", "lq_dir", type=LocalOrURLFolder, default=None,
              help="LQ folder or s3://bucket/prefix (without --hq: LQ-only images, no ground truth).")
@click.option("--hq", "--gt", "hq_dir", type=LocalOrURLFolder, default=None,
              help="GT (clean) folder (or s3://bucket/prefix).")
@click.option("--lq-only", is_flag=True,
              help="Every image is an LQ without ground truth: no pairing, GT/ folders are not read.")
@click.option("--split", default="auto", show_default=True, type=click.Choice(["train", "val", "auto"]),
              help="Split of --lq/--hq pairs; auto assigns by HQ hash (LQ hash without HQ) with --val-fraction.")
@click.option("--val-fraction", default=0.0, show_default=True, type=click.FloatRange(0.0, 1.0, max_open=True))
@click.option("--pair-by", default="name", show_default=True, type=click.Choice(["name", "sorted"]),
              help="Pair LQ and GT by file name, or by sorted order (DA-CLIP's loader; warned).")
@click.option("--fix-size", default="skip", show_default=True, type=click.Choice(["skip", "crop"]),
              help="LQ/GT size mismatch: record an error (skip) or crop both to the common region.")
@build_options(shards="<out>/<task>/<task>-ingested-000000.tar ...",
               manifests="<task>.ingested.parquet and <task>.ingested.json.")
@click.option("--shard-size", default=1000, show_default=True, type=click.IntRange(min=1), help="Pairs per shard.")
@click.option("--image-format", default="png", show_default=True, type=click.Choice(images.FORMATS))
@PNG_LEVEL
@click.option("--max-pixels", default=images.DEFAULT_MAX_PIXELS, show_default=True, type=click.IntRange(min=1))
@FOLLOW_SYMLINKS
def command(root, task, lq_dir, hq_dir, lq_only, split, val_fraction, pair_by, fix_size, out, manifests, workers,
            overwrite, part, distributor, ray_address, cpus_per_task, shard_size, image_format, png_level,
            max_pixels, follow_symlinks) -> None:
    """Bring existing paired LQ/GT datasets, or LQ images without ground truth, into shards and manifests."""
    notes: list[str] = []
    try:
        config = IngestConfig(image_format=image_format, png_level=png_level, max_pixels=max_pixels, fix_size=fix_size,
                              shard_size=shard_size, val_fraction=val_fraction)
        found = list_inputs(root, task, lq_dir, hq_dir, split, pair_by, notes, follow_symlinks, lq_only)
    except (ValueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from None
    options = run_options(out, manifests, workers, part, overwrite, distributor, ray_address, cpus_per_task)
    run_command(lambda bars: ingest(found, config, options, notes=notes, on_plan=bars.planned,
                                    on_progress=bars.progress),
                ProgressBars("ingesting", "pair"))
