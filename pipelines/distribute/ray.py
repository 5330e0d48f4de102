"""The Ray distributor: the same worker and work items as :func:`pipelines.distribute.local.run_local`,
run as one Ray task each on a cluster.

``run_ray(worker, specs, processes, initializer, on_progress, address=, cpus_per_task=)``
submits one task per spec (``num_cpus=cpus_per_task``; retried up to ``max_retries`` times when
its worker process or node dies) and yields the results in completion order, so the driver
(:mod:`pipelines.build.driver`) commits shards, manifests and run records exactly as it does for the
local pool. Shard bytes are fixed by the spec, and a retried task's writer removes the temporary
files of the attempt that died, so the output does not depend on the distributor.

Progress: each task reports its running sample count to one small tally actor (throttled, and
once more, synchronously, before it returns); the driver polls the tally and forwards the
increase to ``on_progress``. A retried attempt counts from zero again and the tally keeps the
maximum per task, so progress never counts a sample twice.

The cluster: ``address`` (``--ray-address``), else ``RAY_ADDRESS``, else a local cluster of
``processes`` CPUs on 127.0.0.1 (no dashboard, worker logs not forwarded), shut down at the
end. A caller that already called ``ray.init`` keeps its session. Ray is an optional extra:
without it :class:`RayUnavailable` says how to install it.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .progress import Progress, ignore_progress

S = TypeVar("S")
R = TypeVar("R")

INSTALL_HINT = "--distributor ray needs Ray: pip install -e '.[ray]' (or pip install ray)"
POLL_SECONDS = 0.2


class RayUnavailable(ValueError):
    pass


def import_ray(local: bool = False) -> Any:
    """``ray``, or :class:`RayUnavailable`. ``local``: a cluster we start stays on 127.0.0.1."""
    if local:  # read when ray is first imported: single-machine clusters bind the loopback address
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError:
        raise RayUnavailable(INSTALL_HINT) from None
    return ray


@contextlib.contextmanager
def ray_session(address: str | None = None, num_cpus: int = 1) -> Iterator[Any]:
    """Connect to ``address`` / ``RAY_ADDRESS``, or start a local cluster of ``num_cpus`` CPUs
    (shut down on the way out); an existing ``ray.init`` of the caller is used as it is."""
    address = address or os.environ.get("RAY_ADDRESS") or None
    ray = import_ray(local=address is None)
    if ray.is_initialized():
        yield ray
        return
    if address is None:
        ray.init(num_cpus=max(1, num_cpus), include_dashboard=False, log_to_driver=False)
    else:
        ray.init(address=address, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


class Tally:
    """Samples done per task key; a retry reports from zero again, so the maximum is kept."""

    def __init__(self) -> None:
        self.done: dict[int, int] = {}
        self.taken = 0

    def report(self, key: int, count: int) -> None:
        self.done[key] = max(self.done.get(key, 0), count)

    def take(self) -> int:
        now = sum(self.done.values())
        new, self.taken = now - self.taken, now
        return new


@dataclass
class TallyProgress:
    """The ``progress`` a Ray task gets: running count, sent at most every ``POLL_SECONDS``."""

    tally: Any  # actor handle of a Tally
    key: int
    count: int = 0
    sent: float = field(default=0.0)

    def __call__(self, n: int) -> None:
        self.count += n
        if time.monotonic() - self.sent >= POLL_SECONDS:
            self.tally.report.remote(self.key, self.count)
            self.sent = time.monotonic()

    def flush(self) -> None:
        import ray

        ray.get(self.tally.report.remote(self.key, self.count))


def run_task(worker: Callable[[S, Progress], R], spec: S, initializer: Callable[[], None] | None,
             progress: TallyProgress | None) -> R:
    """The body of one Ray task: per-process settings, the worker, the final progress count."""
    if initializer is not None:
        initializer()  # idempotent (thread counts), so running it per task is fine
    if progress is None:
        return worker(spec, ignore_progress)
    result = worker(spec, progress)
    progress.flush()
    return result


def run_ray(
    worker: Callable[[S, Progress], R],
    specs: Sequence[S],
    processes: int = 1,
    initializer: Callable[[], None] | None = None,
    on_progress: Progress | None = None,
    *,
    address: str | None = None,
    cpus_per_task: float = 1.0,
    max_retries: int = 3,
) -> Iterator[R]:
    """Yield ``worker(spec, progress)`` for every spec, run as Ray tasks, in completion order.

    ``processes`` sizes a local cluster (when there is no ``address``); at most twice as many
    tasks as the cluster can run at once are in flight, so the driver never holds them all.
    """
    if not specs:
        return
    with ray_session(address, processes) as ray:
        tally = ray.remote(num_cpus=0)(Tally).remote() if on_progress is not None else None
        remote = ray.remote(num_cpus=cpus_per_task, max_retries=max_retries)(run_task)
        slots = int(ray.cluster_resources().get("CPU", 1) / max(cpus_per_task, 1e-3))
        window = max(2, 2 * slots)
        todo = list(enumerate(specs))[::-1]
        running: dict[Any, S] = {}
        try:
            while todo or running:
                while todo and len(running) < window:
                    key, spec = todo.pop()
                    progress = TallyProgress(tally, key) if tally is not None else None
                    running[remote.remote(worker, spec, initializer, progress)] = spec
                done, _ = ray.wait(list(running), num_returns=1, timeout=POLL_SECONDS)
                if tally is not None and (new := ray.get(tally.take.remote())):
                    on_progress(new)
                for ref in done:
                    del running[ref]
                    yield ray.get(ref)
        finally:
            for ref in running:
                ray.cancel(ref, force=True)
