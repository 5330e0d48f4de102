"""The dataset-build driver: the typed job interface, distributors by name, progress, and
``--part`` (``i/N`` and ``slurm``) for ingest, which shares the driver with synthesize."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipelines.build.driver import build
from pipelines.build.job import ShardJob, ShardStats
from pipelines.build.plan import BuildOptions, BuildPlan, manifest_stem
from pipelines.build.resume import ConfigMismatch
from pipelines.build.rows import base_row
from pipelines.build.sources import Source
from pipelines.build.writers import Sample, TarShardWriter
from pipelines.cli import cli
from pipelines.distribute.progress import Progress
from pipelines.distribute.registry import DISTRIBUTORS, get_distributor
from pipelines.manifest.schema import make_key, read_manifest, sha256_hex, shard_stem
from pipelines.synthesize.command import synthesize
from tests.pipelines.ingest.test_command import make_tree
from tests.pipelines.small_dataset import config


@dataclass(frozen=True)
class TextJob:
    """A toy job: one member per word, the smallest thing that satisfies :class:`ShardJob`."""

    shard_id: int
    words: tuple[str, ...]
    out: str
    salt: str = ""

    @property
    def tasks(self) -> tuple[str, ...]:
        return ("noisy", "rainy")

    @property
    def samples(self) -> int:
        return len(self.words)

    def stem(self, task: str) -> str:
        return shard_stem(task, self.shard_id, "text")

    def folder(self, task: str) -> Path:
        return Path(self.out) / task

    def spec_hash(self, task: str) -> str:
        return sha256_hex(json.dumps([task, self.shard_id, self.words, self.salt]).encode())

    def run(self, tasks: tuple[str, ...], progress: Progress) -> dict[str, ShardStats]:
        stats = {}
        for task in tasks:
            writer = TarShardWriter(self.folder(task), self.stem(task))
            for word in self.words:
                src = Source(source=word, path=word, sha256=sha256_hex(word.encode()))
                key = make_key(task, src.sha256, 0)
                writer.write(Sample(key, {"txt": word.encode()}, base_row(task, "text", src, 0, "train", status="ok")))
                progress(1)
            stats[task] = writer.close({"spec_hash": self.spec_hash(task)})
        return stats


def _plan(out: Path, salt: str = "") -> BuildPlan:
    jobs = (TextJob(0, ("a", "b"), str(out), salt), TextJob(1, ("c",), str(out), salt))
    return BuildPlan(jobs=jobs, tasks=("noisy", "rainy"), kind="text", records={"noisy": {"origin": "text"}})


def test_a_toy_job_runs_through_the_driver_resumes_and_refuses_to_mix(tmp_path):
    job: ShardJob = TextJob(0, ("a",), str(tmp_path))  # a plain frozen dataclass satisfies the protocol
    assert job.tasks == ("noisy", "rainy")
    options = BuildOptions(out=tmp_path / "data", manifests=tmp_path / "m", workers=2)
    seen, planned = [], []
    report = build(_plan(options.out), options, on_plan=lambda n, shards: planned.append((n, shards)),
                   on_progress=seen.append)
    assert planned == [(6, 2)] and sum(seen) == 6  # 3 words x 2 tasks, counted from pool processes
    assert report.shards_written == 4 and report.samples_done == 6
    frame = read_manifest(tmp_path / "m/noisy.text.parquet")
    assert sorted(frame["source"]) == ["a", "b", "c"]
    record = json.loads((tmp_path / "m/noisy.text.json").read_text())
    assert record["origin"] == "text" and record["shards"] == ["noisy-text-000000.tar", "noisy-text-000001.tar"]
    assert json.loads((tmp_path / "data/rainy/sizes.json").read_text()) == {"rainy-text-000000.tar": 2,
                                                                           "rainy-text-000001.tar": 1}
    again = build(_plan(options.out), options)
    assert again.shards_written == 0 and again.shards_skipped == 4
    with pytest.raises(ConfigMismatch, match="other inputs or settings"):
        build(_plan(options.out, salt="x"), options)
    redone = build(_plan(options.out, salt="x"), BuildOptions(out=options.out, manifests=options.manifests,
                                                             overwrite=True))
    assert redone.shards_written == 4


def test_distributors_are_looked_up_by_name():
    assert get_distributor("local") is DISTRIBUTORS["local"]
    assert get_distributor("ray") is DISTRIBUTORS["ray"]
    with pytest.raises(ValueError, match="unknown distributor 'spark'; choose from local, ray"):
        get_distributor("spark")


def test_manifest_stem_names_kind_and_part():
    assert manifest_stem("noisy") == "noisy"
    assert manifest_stem("noisy", "ingested") == "noisy.ingested"
    assert manifest_stem("noisy", "ingested", (1, 4)) == "noisy.ingested.part-1-of-4"
    assert manifest_stem("noisy", "", (0, 2)) == "noisy.part-0-of-2"


def test_progress_counts_every_planned_sample(tmp_path, inputs):
    seen, planned = [], []  # (the 2-worker path is checked in test_synthesize)
    synthesize(config(tasks=("noisy",)), BuildOptions(out=tmp_path / "d", manifests=tmp_path / "m", workers=1),
               input=inputs, on_progress=seen.append, on_plan=lambda total, shards: planned.append(total))
    assert planned == [22] and sum(seen) == 22  # 11 files x 2 variants, the broken one included


@pytest.fixture(scope="module")
def tree(tmp_path_factory, photos) -> Path:
    return make_tree(tmp_path_factory.mktemp("parts") / "universal", photos)


def _ingest(tree: Path, out: Path, *extra: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, ["ingest", "--root", str(tree), "--out", str(out / "data"), "--manifest-dir",
                                    str(out / "manifests"), "--shard-size", "2", *extra], env=env)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.suffix in (".tar", ".parquet") and p.parent.name != "manifests"}


def test_ingest_parts_and_slurm_parts_equal_the_full_run(tree, tmp_path):
    assert _ingest(tree, tmp_path / "full").exit_code == 0
    for i in range(2):
        result = _ingest(tree, tmp_path / "parts", "--part", f"{i}/2")
        assert result.exit_code == 0, result.output
        env = {"SLURM_ARRAY_TASK_ID": str(10 + i), "SLURM_ARRAY_TASK_MIN": "10", "SLURM_ARRAY_TASK_COUNT": "2"}
        result = _ingest(tree, tmp_path / "slurm", "--part", "slurm", env=env)
        assert result.exit_code == 0, result.output
    full = _files(tmp_path / "full/data")
    assert _files(tmp_path / "parts/data") == full == _files(tmp_path / "slurm/data")
    for root in ("parts", "slurm"):
        manifests = tmp_path / root / "manifests"
        assert sorted(p.name for p in manifests.glob("noisy.*.parquet")) == [
            "noisy.ingested.part-0-of-2.parquet", "noisy.ingested.part-1-of-2.parquet"]
        rows = sum(len(read_manifest(p, status=None)) for p in manifests.glob("noisy.ingested.part-*.parquet"))
        assert rows == len(read_manifest(tmp_path / "full/manifests/noisy.ingested.parquet", status=None))
        record = json.loads((manifests / "noisy.ingested.part-1-of-2.json").read_text())
        assert record["part"] == "1/2" and record["origin"] == "ingested"


def test_part_slurm_outside_an_array_job_is_refused(tree, tmp_path):
    env = {"SLURM_ARRAY_TASK_ID": None, "SLURM_ARRAY_TASK_COUNT": None}
    result = _ingest(tree, tmp_path, "--part", "slurm", env=env)
    assert result.exit_code != 0 and "needs SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT" in result.output
