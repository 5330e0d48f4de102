"""Distributors by name, and the click options that pick one (``--distributor``, ``--ray-address``).

A distributor is a plain function ``(worker, specs, processes, initializer, on_progress, **options)``
that yields ``worker(spec, progress)`` for every spec, in any order. A new one (Spark, ...) is one
function beside :func:`~pipelines.distribute.local.run_local` and one entry in :data:`DISTRIBUTORS`
(and, for work that loads a model once per worker, such as captioning, one in :data:`ACTOR_POOLS`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import click

from .actors import map_ray
from .local import run_local
from .ray import run_ray

Distributor = Callable[..., Iterator[Any]]  # (worker, specs, processes, initializer, on_progress, **options)
ActorPool = Callable[..., Iterator[Any]]  # (make_worker, chunks, PoolOptions): stateful workers, see .actors

DISTRIBUTORS: Mapping[str, Distributor] = {"local": run_local, "ray": run_ray}
# where a model loaded once serves many chunks (caption); "local" is the command's own in-process loop
ACTOR_POOLS: Mapping[str, ActorPool] = {"ray": map_ray}


def get_distributor(name: str) -> Distributor:
    try:
        return DISTRIBUTORS[name]
    except KeyError:
        raise ValueError(f"unknown distributor {name!r}; choose from {', '.join(sorted(DISTRIBUTORS))}") from None


def get_actor_pool(name: str) -> ActorPool:
    try:
        return ACTOR_POOLS[name]
    except KeyError:
        raise ValueError(f"distributor {name!r} runs no actor pool; choose from {', '.join(sorted(ACTOR_POOLS))}"
                         ) from None


DISTRIBUTOR = click.option(
    "--distributor", default="local", show_default=True, type=click.Choice(list(DISTRIBUTORS)),
    help="local: processes on this machine; ray: a Ray cluster (pip install -e '.[ray]'). Same output bytes.")
RAY_ADDRESS = click.option(
    "--ray-address", default=None, help="Ray cluster to join (default: RAY_ADDRESS, else start a local one).")
