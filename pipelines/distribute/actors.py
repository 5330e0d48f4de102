"""Stateful work on a cluster: a pool of workers that each load something once (a model), then
take chunks; found by name in :data:`pipelines.distribute.registry.ACTOR_POOLS`.

``map_ray(make_worker, chunks, options)`` builds ``options.actors`` Ray actors, each calling
``make_worker()`` once (restarted, their chunk retried, when their process dies), gives each chunk
to the next free one, and yields ``worker.process(chunk)`` in completion order. Stateless
per-item work (shards) goes through :data:`~pipelines.distribute.registry.DISTRIBUTORS` instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class ChunkWorker(Protocol):
    def process(self, chunk: Any) -> Any: ...


@dataclass(frozen=True)
class PoolOptions:
    """How big a pool is and what each worker asks for (``ray`` only; ``local`` has one worker)."""

    address: str | None = None  # Ray cluster (default: RAY_ADDRESS, else a local one)
    actors: int | None = None  # default: GPUs / gpus_per_actor, else the cluster's CPUs
    gpus_per_actor: float | None = None  # default: 1 when the cluster has GPUs, else 0


def map_ray(make_worker: Callable[[], ChunkWorker], chunks: Sequence[Any], options: PoolOptions) -> Iterator[Any]:
    from .ray import ray_session

    if not chunks:
        return
    with ray_session(options.address, max(1, options.actors or 1)) as ray:
        from ray.util import ActorPool

        resources = ray.cluster_resources()
        gpus = options.gpus_per_actor
        if gpus is None:
            gpus = 1 if resources.get("GPU", 0) >= 1 else 0
        if options.actors:
            count = options.actors
        elif gpus:
            count = int(resources.get("GPU", 0) // gpus)
        else:
            count = int(resources.get("CPU", 1))
        count = max(1, min(count, len(chunks)))
        actor = ray.remote(num_cpus=1, num_gpus=gpus, max_restarts=2, max_task_retries=2)(_Hosted)
        pool = ActorPool([actor.remote(make_worker) for _ in range(count)])
        yield from pool.map_unordered(lambda a, chunk: a.process.remote(chunk), chunks)


class _Hosted:
    """A Ray actor holding one worker built by ``make_worker`` (a picklable callable)."""

    def __init__(self, make_worker: Callable[[], ChunkWorker]):
        self.worker = make_worker()

    def process(self, chunk: Any) -> Any:
        return self.worker.process(chunk)
