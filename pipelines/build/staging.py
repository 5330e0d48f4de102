"""``--out`` / ``--manifest-dir`` on object storage (``s3://bucket/prefix``): stage locally, publish whole objects.

Object stores have no atomic rename, so the build never writes into them piece by piece. The run
works in a local staging folder that mirrors the remote layout (``<stage>/<bucket>/<key>``, so
the manifests' relative shard paths come out exactly as in a local run), and:

- before the run, the staging folder gets the remote state: every ``_stats.json`` marker and the
  Parquet of each marked shard, and an empty stand-in for each remote tar, so resume
  (:func:`pipelines.build.resume.shard_done`), the plan check and ``--overwrite`` see what the store
  holds (``--overwrite`` also deletes the remote objects it removes locally);
- each shard job uploads its shards as soon as they are complete, in the worker (so it works on
  Ray workers too): the tar, then the Parquet, then the ``_stats.json`` marker, each one ``put``
  of a complete file. A run killed at any point leaves at most a tar or Parquet without a marker,
  which a rerun does not trust and writes again;
- at the end, ``sizes.json``, then each manifest, then its run record are uploaded.

The run holds ``--out`` and ``--manifest-dir`` with a lock object on the store
(:mod:`pipelines.common.store_locks`, a conditional put), taken before the remote state is read:
a second build on the same prefix fails at once; ``--part i/N`` runs write disjoint shards and
share the prefixes, as locally.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..common import remote
from ..common.store_locks import store_locks
from ..distribute.parts import in_part
from ..distribute.progress import Progress
from ..manifest.schema import SIZES_FILE, STATS_SUFFIX, shard_stem_pattern, task_slug
from .job import ShardJob, ShardStats
from .plan import BuildOptions, BuildPlan, manifest_stem

SHARD_SUFFIXES = (".tar", ".parquet", STATS_SUFFIX)  # upload order: the marker last


@dataclass(frozen=True)
class PublishedJob:
    """A shard job writing into the staging folder whose finished shards go to ``remote_out``."""

    job: Any  # a ShardJob dataclass with ``out`` set to the staging folder
    remote_out: str

    @property
    def shard_id(self) -> int:
        return self.job.shard_id

    @property
    def tasks(self) -> tuple[str, ...]:
        return self.job.tasks

    @property
    def samples(self) -> int:
        return self.job.samples

    def stem(self, task: str) -> str:
        return self.job.stem(task)

    def folder(self, task: str) -> Path:
        return self.job.folder(task)

    def spec_hash(self, task: str) -> str:
        return self.job.spec_hash(task)

    def run(self, tasks: tuple[str, ...], progress: Progress) -> dict[str, ShardStats]:
        result = self.job.run(tasks, progress)
        for task in result:
            publish_shard(self.folder(task), self.stem(task), remote.join(self.remote_out, task_slug(task)))
        return result


def publish_shard(folder: Path, stem: str, remote_folder: str) -> None:
    """Upload one complete shard (tar, Parquet, then the marker); the local tar becomes an empty stand-in."""
    for suffix in SHARD_SUFFIXES:
        remote.put_file(folder / f"{stem}{suffix}", remote.join(remote_folder, f"{stem}{suffix}"))
    (folder / f"{stem}.tar").write_bytes(b"")  # keeps the staging disk small; never uploaded again


@dataclass
class Stage:
    root: Path
    out: str
    manifests: str

    def local(self, url: str) -> Path:
        return self.root / url.split("://", 1)[1]

    def mirror_result(self, result: dict[str, ShardStats], jobs: Sequence[ShardJob]) -> None:
        """After a job: make sure the staging folder holds its Parquet and marker (a Ray worker on
        another node wrote them on its own disk)."""
        for task, stats in result.items():
            stem = str(stats.get("shard", "")).removesuffix(".tar")
            folder = self.local(remote.join(self.out, task_slug(task)))
            for suffix in (".parquet", STATS_SUFFIX):
                if not (folder / f"{stem}{suffix}").is_file():
                    remote.get_file(remote.join(self.out, task_slug(task), f"{stem}{suffix}"),
                                    folder / f"{stem}{suffix}")
            (folder / f"{stem}.tar").touch()

    def publish_outputs(self, tasks: Sequence[str], manifests: list[str]) -> list[str]:
        """``sizes.json`` per task, then each manifest and its run record; returns the manifests' URLs."""
        for task in tasks:
            sizes = self.local(remote.join(self.out, task_slug(task))) / SIZES_FILE
            if sizes.is_file():
                remote.put_file(sizes, remote.join(self.out, task_slug(task), SIZES_FILE))
        urls = []
        for path in manifests:
            name = Path(path).name
            url = remote.join(self.manifests, name)
            remote.put_file(path, url)
            record = Path(path).with_suffix(".json")
            if record.is_file():
                remote.put_file(record, remote.join(self.manifests, record.name))
            urls.append(url)
        return urls


@contextlib.contextmanager
def staged(plan: BuildPlan, options: BuildOptions) -> Iterator[tuple[BuildPlan, BuildOptions, Stage]]:
    """``(plan, options, stage)`` with the jobs and folders moved to a local staging folder."""
    out, manifests = str(options.out), str(options.manifests)
    if not (remote.is_url(out) and remote.is_url(manifests)):
        raise ValueError(f"--out {out} and --manifest-dir {manifests}: put both on object storage or both on "
                         "local disk (manifests keep shard paths relative to their folder)")
    remote.url_relpath(out, manifests)  # refuses two buckets
    part = None if options.part[1] == 1 else "part-{}-of-{}".format(*options.part)
    with store_locks([out, manifests], part):
        root = Path(tempfile.mkdtemp(prefix="make-dataset-stage-"))
        try:
            stage = Stage(root, out, manifests)
            stage_out = stage.local(out)
            jobs = tuple(PublishedJob(dataclasses.replace(job, out=str(stage_out)), out) for job in plan.jobs)
            plan = dataclasses.replace(plan, jobs=jobs)
            options = dataclasses.replace(options, out=stage_out, manifests=stage.local(manifests))
            if options.overwrite:
                _remove_remote(stage, plan, options)
            for task in plan.tasks:
                _fetch_state(stage, task, plan.kind)
            yield plan, options, stage
        finally:
            shutil.rmtree(root, ignore_errors=True)


def _fetch_state(stage: Stage, task: str, kind: str) -> None:
    """Mirror the remote task folder's shards: markers, marked Parquets, empty stand-ins for tars."""
    url = remote.join(stage.out, task_slug(task))
    folder = stage.local(url)
    names = set(remote.listdir(url))
    pattern = shard_stem_pattern(task, kind)
    for name in sorted(names):
        if not name.endswith(STATS_SUFFIX) or not pattern.fullmatch(name[: -len(STATS_SUFFIX)]):
            continue
        stem = name[: -len(STATS_SUFFIX)]
        remote.get_file(remote.join(url, name), folder / name)
        if f"{stem}.parquet" in names:
            remote.get_file(remote.join(url, f"{stem}.parquet"), folder / f"{stem}.parquet")
        if f"{stem}.tar" in names:
            (folder / f"{stem}.tar").touch()


def _remove_remote(stage: Stage, plan: BuildPlan, options: BuildOptions) -> None:
    """``--overwrite`` on the store: the same objects :func:`pipelines.build.resume.remove_shards` removes
    locally, plus this run's manifest and run record."""
    whole = options.part[1] == 1
    for task in plan.tasks:
        url = remote.join(stage.out, task_slug(task))
        pattern = shard_stem_pattern(task, plan.kind)
        stems = {job.stem(task) for job in plan.jobs if task in job.tasks and in_part(job.shard_id, options.part)}
        for name in remote.listdir(url):
            stem = name.split(".", 1)[0].removesuffix(STATS_SUFFIX.split(".")[0])
            if (whole and pattern.fullmatch(stem)) or (not whole and stem in stems):
                remote.remove(remote.join(url, name))
        stem = manifest_stem(task, plan.kind, options.part)
        for suffix in (".parquet", ".json"):
            remote.remove(remote.join(stage.manifests, f"{stem}{suffix}"))
