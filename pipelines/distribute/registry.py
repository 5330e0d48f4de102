"""Distributors by name, and the click options that pick one (``--distributor``, ``--ray-address``).

A distributor is a plain function ``(worker, specs, processes, initializer, on_progress, **options)``
that yields ``worker(spec, progress)`` for every spec, in any order. A new one (Spark, ...) is one
function beside :func:`~pipelines.distribute.local.run_local` and one entry in :data:`DISTRIBUTORS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import click

from .local import run_local
from .ray import run_ray

Distributor = Callable[..., Iterator[Any]]  # (worker, specs, processes, initializer, on_progress, **options)

DISTRIBUTORS: Mapping[str, Distributor] = {"local": run_local, "ray": run_ray}


def get_distributor(name: str) -> Distributor:
    try:
        return DISTRIBUTORS[name]
    except KeyError:
        raise ValueError(f"unknown distributor {name!r}; choose from {', '.join(sorted(DISTRIBUTORS))}") from None


DISTRIBUTOR = click.option(
    "--distributor", default="local", show_default=True, type=click.Choice(list(DISTRIBUTORS)),
    help="local: processes on this machine; ray: a Ray cluster (pip install -e '.[ray]'). Same output bytes.")
RAY_ADDRESS = click.option(
    "--ray-address", default=None, help="Ray cluster to join (default: RAY_ADDRESS, else start a local one).")
