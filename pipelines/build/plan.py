"""The types the build driver and its commands share: what to build (:class:`BuildPlan`), how to
run it (:class:`BuildOptions`), what happened (:class:`BuildReport`), and the manifest's name."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..common.remote import as_path
from ..manifest.schema import task_slug
from .job import ShardJob


@dataclass(frozen=True)
class BuildPlan:
    """What a command hands the driver: every job of the run (all parts), ids fixed before work."""

    jobs: tuple[ShardJob, ...]
    tasks: tuple[str, ...]  # one manifest each, in this order
    kind: str = ""  # shard and manifest family: "" (synthesized) or "ingested"
    records: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # task -> the command's record fields
    notes: tuple[str, ...] = ()  # summary lines above the counts table
    details: tuple[str, ...] = ()  # summary lines below it
    unit: str = "samples"  # what a sample is called in the summary


@dataclass(frozen=True)
class BuildOptions:
    """How to run a plan; none of it changes the bytes of a shard."""

    out: Path | str = Path("data")  # a URL (``s3://...``) stays a string: see pipelines.build.staging
    manifests: Path | str = Path("manifests")
    workers: int = 1
    part: tuple[int, int] = (0, 1)
    overwrite: bool = False
    command: str | None = None  # recorded in the run record
    distributor: str = "local"
    distributor_options: Mapping[str, Any] = field(default_factory=dict)  # e.g. ray: address, cpus_per_task

    def __post_init__(self) -> None:  # a local folder as a Path, a URL as the string it is
        object.__setattr__(self, "out", as_path(self.out))
        object.__setattr__(self, "manifests", as_path(self.manifests))


@dataclass
class BuildReport:
    manifests: list[str] = field(default_factory=list)
    counts: dict[tuple[str, str, str], int] = field(default_factory=dict)  # (task, split, status) -> n
    errors: Counter = field(default_factory=Counter)  # error message -> n
    notes: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    unit: str = "samples"
    shards_written: int = 0
    shards_skipped: int = 0
    samples_done: int = 0  # samples in shards written by this run
    duration: float = 0.0


def manifest_stem(task: str, kind: str = "", part: tuple[int, int] = (0, 1)) -> str:
    """``<task>[.<kind>][.part-i-of-N]``: the manifest and run-record name (a mixture task as its
    :func:`~pipelines.manifest.schema.task_slug`, ``low-light--hazy``)."""
    index, count = part
    task = task_slug(task)
    stem = f"{task}.{kind}" if kind else task
    return stem if count == 1 else f"{stem}.part-{index}-of-{count}"
