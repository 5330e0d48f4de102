"""The typed job interface between the dataset-build driver (``build``) and the commands.

A job is one unit of work and of retry: shard ``shard_id`` of each of its ``tasks``. ``synthesize``
(:class:`pipelines.synthesize.worker.ShardSpec`) and ``ingest`` (:class:`pipelines.ingest.worker.IngestSpec`)
each supply one job type; the driver never looks inside. Jobs are frozen dataclasses, so they
pickle into spawned pool processes, and ``run`` is pure in the job: the same job gives the same
bytes in any process.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..distribute.progress import Progress

ShardStats = dict[str, Any]  # a shard's ``_stats.json`` content


class ShardJob(Protocol):
    @property
    def shard_id(self) -> int: ...

    @property
    def tasks(self) -> tuple[str, ...]:
        """The tasks this job writes one shard for."""
        ...

    @property
    def samples(self) -> int:
        """Planned samples (manifest rows) of each task's shard: the unit of progress."""
        ...

    def stem(self, task: str) -> str:
        """The shard's file stem: ``<folder>/<stem>.tar`` / ``.parquet`` / ``_stats.json``."""
        ...

    def folder(self, task: str) -> Path: ...

    def spec_hash(self, task: str) -> str:
        """Fingerprint of everything that decides the shard's bytes (checked on resume)."""
        ...

    def run(self, tasks: tuple[str, ...], progress: Progress) -> dict[str, ShardStats]:
        """Write the shards of ``tasks`` (a subset of ``self.tasks``); task -> shard stats."""
        ...


@dataclass(frozen=True)
class Work:
    """What a distributor hands a worker: a job and the tasks of it still to do."""

    job: ShardJob
    tasks: tuple[str, ...]


def run_work(work: Work, progress: Progress) -> dict[str, ShardStats]:
    """The worker: a picklable module-level function, the same in every distributor."""
    return work.job.run(work.tasks, progress)
