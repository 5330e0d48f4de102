"""The click edge of the build commands (``synthesize``, ``ingest``): the options they share,
``--part`` (``i/N`` or ``slurm``), progress bars, errors as click messages, and the summary.

Bars live only here; the driver reports progress through plain callbacks.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from .build import BuildReport, format_summary
from .common.locks import OutputLocked
from .distribute import WorkerDied
from .shards import ConfigMismatch

FOLLOW_SYMLINKS = click.option(
    "--follow-symlinks", is_flag=True,
    help="Read symlinked files and folders that lead outside the input folder (default: skip and count them).")

DISTRIBUTOR = click.option(
    "--distributor", default="local", show_default=True, type=click.Choice(["local", "ray"]),
    help="local: processes on this machine; ray: a Ray cluster (pip install -e '.[ray]'). Same output bytes.")
RAY_ADDRESS = click.option(
    "--ray-address", default=None, help="Ray cluster to join (default: RAY_ADDRESS, else start a local one).")

PART_HELP = ("Process only partition i of N shards, e.g. 0/4, or 'slurm' (from the job array variables); "
             "merge joins the parts.")


def build_options(shards: str, manifests: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--out --manifests --workers --overwrite --part --distributor --ray-address --cpus-per-task``;
    ``shards`` / ``manifests`` name the files."""
    options = [
        click.option("--out", default="data", show_default=True, type=click.Path(file_okay=False),
                     help=f"Shard folder: {shards}"),
        click.option("--manifests", default="manifests", show_default=True, type=click.Path(file_okay=False),
                     help=f"Folder for {manifests}"),
        click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1),
                     help="Local processes; outputs do not depend on it."),
        click.option("--overwrite", is_flag=True, help="Delete this run's earlier outputs first."),
        click.option("--part", default=None, help=PART_HELP),
        DISTRIBUTOR,
        RAY_ADDRESS,
        click.option("--cpus-per-task", default=1.0, show_default=True, type=click.FloatRange(min=0.01),
                     help="With --distributor ray: CPUs Ray reserves for each shard task."),
    ]

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            fn = option(fn)
        return fn

    return decorate


def distribution(distributor: str, ray_address: str | None, cpus_per_task: float) -> dict[str, Any]:
    """The ``distributor`` / ``distributor_options`` arguments of ``synthesize`` and ``ingest``."""
    options = {"address": ray_address, "cpus_per_task": cpus_per_task} if distributor == "ray" else {}
    return {"distributor": distributor, "distributor_options": options}


def invocation() -> str:
    """The command line, for the run record."""
    return " ".join(["make-dataset", *sys.argv[1:]])


class ProgressBars:
    """tqdm bars of one build: hashing the inputs (optional), then samples."""

    def __init__(self, desc: str, unit: str):
        self.desc, self.unit = desc, unit  # desc may use {shards}
        self.bars: dict[str, Any] = {}

    def listed(self, n: int) -> None:
        from tqdm import tqdm

        self.bars["hash"] = tqdm(total=n, desc="hashing inputs", unit="file", dynamic_ncols=True)

    def hashed(self, n: int) -> None:
        self.bars["hash"].update(n)

    def planned(self, total: int, shards: int) -> None:
        from tqdm import tqdm

        if "hash" in self.bars:
            self.bars["hash"].close()
        self.bars["samples"] = tqdm(total=total, desc=self.desc.format(shards=shards), unit=self.unit,
                                    dynamic_ncols=True)

    def progress(self, n: int) -> None:
        self.bars["samples"].update(n)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def run_command(run: Callable[[ProgressBars], BuildReport], bars: ProgressBars) -> None:
    """Run a build with bars; errors become click messages; print the summary."""
    try:
        report = run(bars)
    except (ConfigMismatch, ValueError, WorkerDied, OutputLocked) as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:  # missing input, disk full ...: committed shards are kept
        raise click.ClickException(f"{exc}\n(completed shards are kept; rerun the same command to resume)") from None
    finally:
        bars.close()
    click.echo(format_summary(report))
