"""The click edge of the build commands (``synthesize``, ``ingest``): the options they share,
``--part`` (``i/N`` or ``slurm``), progress bars, errors as click messages, and the summary.

Bars live only here; the driver reports progress through plain callbacks.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from ..common.cli import OldSpellings
from ..common.images import DEFAULT_PNG_LEVEL
from ..common.locks import OutputLocked
from ..distribute.local import WorkerDied
from ..distribute.parts import PART
from ..distribute.registry import DISTRIBUTOR, RAY_ADDRESS
from .plan import BuildOptions, BuildReport
from .resume import ConfigMismatch
from .summary import format_summary

PNG_LEVEL = click.option(
    "--png-level", default=DEFAULT_PNG_LEVEL, show_default=True, type=click.IntRange(0, 9),
    help="zlib level of PNG members: 0 stores (encodes about 2x faster, files about 1.9x larger); with the RLE "
         "strategy used, levels 1-9 give about the same size. HQ pixels never depend on it; "
         "like --image-format it is part of the recipe (keys and seeds come from the HQ member's hash), so each "
         "level gives its own byte-stable dataset; recorded in the run record when not the default.")
FOLLOW_SYMLINKS = click.option(
    "--follow-symlinks", is_flag=True,
    help="Read symlinked files and folders that lead outside the input folder (default: skip and count them).")


def build_options(shards: str, manifests: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--out --manifest-dir --workers --overwrite --part --distributor --ray-address --cpus-per-task``;
    ``shards`` / ``manifests`` name the files."""
    options = [
        click.option("--out", default="data", show_default=True, type=click.Path(file_okay=False),
                     help=f"Shard folder: {shards}"),
        click.option("--manifest-dir", "--manifests", "manifests", cls=OldSpellings, default="manifests",
                     show_default=True, type=click.Path(file_okay=False), help=f"Folder for {manifests}"),
        click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1),
                     help="Local processes; outputs do not depend on it."),
        click.option("--overwrite", is_flag=True, help="Delete this run's earlier outputs first."),
        PART,
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


def run_options(out: str, manifests: str, workers: int, part: tuple[int, int], overwrite: bool, distributor: str,
                ray_address: str | None, cpus_per_task: float) -> BuildOptions:
    """The :class:`~pipelines.build.plan.BuildOptions` of the options :func:`build_options` adds."""
    options = {"address": ray_address, "cpus_per_task": cpus_per_task} if distributor == "ray" else {}
    return BuildOptions(out=out, manifests=manifests, workers=workers, part=part, overwrite=overwrite,
                        command=invocation(), distributor=distributor, distributor_options=options)


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
