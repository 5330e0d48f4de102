"""The local distributor: run work items through a worker function, here or in a process pool.

A distributor is a plain function of ``(worker, specs, processes, initializer, on_progress)``
that calls ``worker(spec, progress)`` for every spec and yields the results in any order;
outputs never depend on it, because shard ids and contents are fixed before any work starts.
The driver looks distributors up by name (:mod:`pipelines.distribute.registry`): :func:`run_local` here and
:func:`pipelines.distribute.ray.run_ray` (``--distributor ray``, keyword options from the driver).

``run_local`` uses the calling process (``processes <= 1``) or a ``spawn`` process pool
(``concurrent.futures``: a worker that dies, e.g. killed for memory, fails the run with a clear
error instead of hanging it; completed shards stay committed and a rerun resumes). Progress is
passed explicitly: in the pool, ``progress`` puts counts on a managed queue that this process
drains into ``on_progress``; no module holds it in a global.

Scale-out across machines is ``--part i/N`` or ``--part slurm`` (:mod:`pipelines.distribute.parts`).
"""

from __future__ import annotations

import multiprocessing
import queue
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, TypeVar

from .progress import Progress, ignore_progress

S = TypeVar("S")
R = TypeVar("R")


class WorkerDied(RuntimeError):
    pass


@dataclass(frozen=True)
class QueueProgress:
    """A picklable progress callback for pool workers: counts go onto a managed queue."""

    queue: Any  # a multiprocessing manager's Queue proxy (picklable, unlike ctx.Queue())

    def __call__(self, n: int) -> None:
        self.queue.put(n)


def run_local(
    worker: Callable[[S, Progress], R],
    specs: Sequence[S],
    processes: int = 1,
    initializer: Callable[[], None] | None = None,
    on_progress: Progress | None = None,
) -> Iterator[R]:
    """Yield ``worker(spec, progress)`` for every spec, in completion order.

    ``progress`` is ``on_progress`` itself in this process; in pool processes it forwards the
    counts to ``on_progress`` here.
    """
    if not specs:
        return
    if processes <= 1 or len(specs) == 1:
        if initializer is not None:
            initializer()
        for spec in specs:
            yield worker(spec, on_progress or ignore_progress)
        return
    ctx = multiprocessing.get_context("spawn")
    manager = ctx.Manager() if on_progress is not None else None
    progress_queue = manager.Queue() if manager is not None else None
    progress: Progress = QueueProgress(progress_queue) if progress_queue is not None else ignore_progress
    try:
        with ProcessPoolExecutor(max_workers=min(processes, len(specs)), mp_context=ctx,
                                 initializer=initializer) as pool:
            futures = {pool.submit(worker, spec, progress): spec for spec in specs}
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
    finally:
        if manager is not None:
            manager.shutdown()


def _drain(progress_queue: Any, on_progress: Progress | None, final: bool = False) -> None:
    if progress_queue is None or on_progress is None:
        return
    while True:
        try:
            on_progress(progress_queue.get(timeout=0.1) if final else progress_queue.get_nowait())
        except queue.Empty:
            return
