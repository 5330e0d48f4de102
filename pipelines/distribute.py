"""Distributor role: run shard specs through a worker function.

A distributor is a plain function of ``(worker, specs, processes)`` that yields results in any
order; outputs never depend on it, because shard ids and contents are fixed before any work
starts. ``run_local`` uses the calling process (``processes <= 1``) or a ``spawn`` process pool
(``concurrent.futures``: a worker that dies, e.g. killed for memory, fails the run with a clear
error instead of hanging it; completed shards stay committed and a rerun resumes).

Scale-out across machines is ``--part i/N`` (see :func:`pipelines.sources.in_part`): each
machine or SLURM array task runs ``synthesize --part $i/$N`` (``slurm_part`` reads the array
variables) and ``merge`` joins the manifests.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

S = TypeVar("S")
R = TypeVar("R")
Progress = Callable[[int], None]
ProgressSetter = Callable[[Progress | None], None]


class WorkerDied(RuntimeError):
    pass


def _init_process(progress_queue: Any, setter: ProgressSetter | None, initializer: Callable[[], None] | None) -> None:
    if initializer is not None:
        initializer()
    if setter is not None and progress_queue is not None:
        setter(progress_queue.put)


def run_local(
    worker: Callable[[S], R],
    specs: Sequence[S],
    processes: int = 1,
    initializer: Callable[[], None] | None = None,
    on_progress: Progress | None = None,
    progress_setter: ProgressSetter | None = None,
) -> Iterator[R]:
    """Yield ``worker(spec)`` for every spec, in completion order.

    ``progress_setter`` (a picklable module-level function) installs a per-sample progress
    callback inside each process; counts are forwarded to ``on_progress`` in this process.
    """
    if not specs:
        return
    if processes <= 1 or len(specs) == 1:
        if initializer is not None:
            initializer()
        if progress_setter is not None:
            progress_setter(on_progress)
        try:
            for spec in specs:
                yield worker(spec)
        finally:
            if progress_setter is not None:
                progress_setter(None)
        return
    ctx = multiprocessing.get_context("spawn")
    progress_queue = ctx.Queue() if on_progress is not None and progress_setter is not None else None
    with ProcessPoolExecutor(
        max_workers=min(processes, len(specs)),
        mp_context=ctx,
        initializer=_init_process,
        initargs=(progress_queue, progress_setter, initializer),
    ) as pool:
        futures = {pool.submit(worker, spec): spec for spec in specs}
        pending = set(futures)
        try:
            while pending:
                done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                _drain(progress_queue, on_progress)
                for future in done:
                    try:
                        yield future.result()
                    except BrokenProcessPool:
                        raise WorkerDied(
                            f"a worker process died while processing {futures[future]!r:.120}"
                            " (out of memory?); completed shards are kept, rerun to resume"
                        ) from None
            _drain(progress_queue, on_progress, final=True)
        except BaseException:
            for future in pending:
                future.cancel()
            raise


def _drain(progress_queue: Any, on_progress: Progress | None, final: bool = False) -> None:
    if progress_queue is None or on_progress is None:
        return
    while True:
        try:
            on_progress(progress_queue.get(timeout=0.1) if final else progress_queue.get_nowait())
        except queue.Empty:
            return


def slurm_part(env: dict[str, str] | None = None) -> str | None:
    """``"i/N"`` from a SLURM job array's environment, or None outside an array job."""
    env = dict(os.environ) if env is None else env
    task, count = env.get("SLURM_ARRAY_TASK_ID"), env.get("SLURM_ARRAY_TASK_COUNT")
    if task is None or count is None:
        return None
    first = int(env.get("SLURM_ARRAY_TASK_MIN", "0"))
    return f"{int(task) - first}/{int(count)}"


DISTRIBUTORS: dict[str, Callable[..., Iterator]] = {"local": run_local}
