"""The dataset-build driver that ``synthesize`` and ``ingest`` share.

The commands supply only their listing, as a :class:`BuildPlan` of typed jobs
(:class:`pipelines.build.job.ShardJob`); :func:`build` does the rest, one visible step each:

0. hold the output folders (:func:`lock_outputs`: one run at a time, stale temporary files removed);
1. keep this part's jobs (``--part i/N``: shard ``s`` belongs to part ``s % N``);
2. per task: ``--overwrite`` removes this run's earlier outputs, then the folder must hold no
   shards of another plan (:mod:`pipelines.build.resume`);
3. skip the shards already complete, distribute the rest (a distributor looked up by name in
   :mod:`pipelines.distribute.registry`) through the one worker :func:`pipelines.build.job.run_work`;
4. per task: assemble the manifest (:mod:`pipelines.build.assemble`), write it, ``sizes.json`` and
   the run record ``<manifest>.json``;
5. count everything into a :class:`~pipelines.build.plan.BuildReport`
   (:func:`pipelines.build.summary.format_summary` prints it).
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import time
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from ..common.files import write_json_atomic
from ..common.locks import output_locks
from ..common.remote import is_url
from ..distribute.parts import in_part
from ..distribute.progress import Progress
from ..distribute.registry import get_distributor
from ..manifest.schema import SCHEMA_VERSION, task_slug, write_manifest
from .assemble import assemble_task
from .job import ShardJob, Work, run_work
from .plan import BuildOptions, BuildPlan, BuildReport, manifest_stem
from .resume import check_existing, remove_shards, shard_done, write_sizes
from .staging import staged

log = logging.getLogger(__name__)


def configure_process() -> None:
    """Per-process settings for pool workers: one OpenCV thread (the pool gives parallelism)."""
    import cv2

    cv2.setNumThreads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def build(
    plan: BuildPlan,
    options: BuildOptions,
    on_plan: Callable[[int, int], None] | None = None,
    on_progress: Progress | None = None,
    started: float | None = None,
) -> BuildReport:
    """Run (or resume) ``plan``; ``on_plan(samples, shard jobs)`` once, ``on_progress(n)`` as samples
    are done (skipped shards included). ``started``: the clock of the run (listing included)."""
    start = time.perf_counter() if started is None else started
    if is_url(str(options.out)) or is_url(str(options.manifests)):  # object storage: see pipelines.build.staging

        with staged(plan, options) as (plan, options, stage), lock_outputs(options):
            report = _build(plan, options, on_plan, on_progress, start, on_result=stage.mirror_result)
            report.manifests = stage.publish_outputs(plan.tasks, report.manifests)
            return report
    with lock_outputs(options):
        return _build(plan, options, on_plan, on_progress, start)


def lock_outputs(options: BuildOptions) -> contextlib.AbstractContextManager:
    """Hold ``--out`` and ``--manifest-dir`` for this run (:mod:`pipelines.common.locks`): parts of one
    ``--part i/N`` run share them; a whole run first removes stale temporary files (``--out``
    and its task folders, ``--manifest-dir``)."""
    part = None if options.part[1] == 1 else f"part-{options.part[0]}-of-{options.part[1]}"
    return output_locks({options.out: 1, options.manifests: 0}, part)


def _build(plan: BuildPlan, options: BuildOptions, on_plan: Callable[[int, int], None] | None,
           on_progress: Progress | None, start: float,
           on_result: Callable[[dict, Sequence[ShardJob]], None] | None = None) -> BuildReport:
    distribute = get_distributor(options.distributor)
    report = BuildReport(notes=list(plan.notes), details=list(plan.details), unit=plan.unit)
    jobs = [job for job in plan.jobs if in_part(job.shard_id, options.part)]
    for task in plan.tasks:
        folder = options.out / task_slug(task)
        if options.overwrite:
            remove_shards([j for j in jobs if task in j.tasks], task, folder, plan.kind,
                          whole_folder=options.part[1] == 1)
            stem = manifest_stem(task, plan.kind, options.part)
            for path in (options.manifests / f"{stem}.parquet", options.manifests / f"{stem}.json"):
                path.unlink(missing_ok=True)
        check_existing([j for j in plan.jobs if task in j.tasks], task, folder, plan.kind)
    if on_plan:
        on_plan(sum(job.samples * len(job.tasks) for job in jobs), len(jobs))

    pending = []
    for job in jobs:  # complete shards are skipped here, without starting a worker
        todo = tuple(task for task in job.tasks if shard_done(job, task) is None)
        report.shards_skipped += len(job.tasks) - len(todo)
        if on_progress and len(todo) < len(job.tasks):
            on_progress(job.samples * (len(job.tasks) - len(todo)))
        if todo:
            pending.append(Work(job, todo))
    for result in distribute(run_work, pending, options.workers, initializer=configure_process,
                             on_progress=on_progress, **options.distributor_options):
        if on_result:
            on_result(result, jobs)
        for stats in result.values():
            report.shards_written += 1
            report.samples_done += int(stats.get("count", 0))

    for task in plan.tasks:
        _finish_task(task, [j for j in jobs if task in j.tasks], plan, options, report, start)
    report.duration = time.perf_counter() - start
    return report


def _finish_task(task: str, jobs: Sequence[ShardJob], plan: BuildPlan, options: BuildOptions,
                 report: BuildReport, start: float) -> None:
    """Manifest, ``sizes.json`` and run record of one task; its counts into ``report``."""
    frame = assemble_task(task, jobs, options.manifests)
    stem = manifest_stem(task, plan.kind, options.part)
    path = options.manifests / f"{stem}.parquet"
    write_manifest(frame, path)
    report.manifests.append(str(path))
    write_sizes(options.out / task_slug(task))
    for (split, status), n in frame.groupby(["split", "status"], dropna=False).size().items():
        report.counts[(task, str(split), str(status))] = int(n)
    report.errors.update(frame.loc[frame["status"] != "ok", "error_message"].fillna("").tolist())
    record = run_record(task, jobs, frame, options, time.perf_counter() - start)
    write_json_atomic({**record, **plan.records.get(task, {})}, options.manifests / f"{stem}.json")


def run_record(task: str, jobs: Sequence[ShardJob], frame: pd.DataFrame, options: BuildOptions,
               duration: float) -> dict[str, Any]:
    """The fields every run record has; the command adds its own (config, inputs, ...)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "task": task,
        "out": os.path.relpath(options.out / task_slug(task), options.manifests),
        "part": f"{options.part[0]}/{options.part[1]}",
        "shards": [f"{job.stem(task)}.tar" for job in jobs],
        "rows": len(frame),
        "ok": int((frame["status"] == "ok").sum()) if len(frame) else 0,
        "errors": int((frame["status"] != "ok").sum()) if len(frame) else 0,
        "versions": library_versions(),
        # the only run-dependent fields: how this run was invoked (not what it produced)
        "run": {"command": options.command, "workers": options.workers, "distributor": options.distributor,
                "duration_s": round(duration, 3)},
    }


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
