"""``--distributor ray`` on a real two-node Ray cluster (head + worker on 127.0.0.1, shared by the
session: ``tests/pipelines/conftest.py``): synthesize (to local disk and to s3), ingest and caption
give the local bytes, also when a worker process or a BLIP actor dies mid-task; without Ray the
option fails in one line."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from pipelines.build.job import Work, run_work
from pipelines.build.plan import BuildOptions
from pipelines.caption.ray import CaptionActor
from pipelines.cli import cli
from pipelines.distribute.progress import Progress
from pipelines.synthesize.command import synthesize
from tests.pipelines.small_dataset import config

TIMING = ("run", "duration", "start_time", "end_time")  # when and how a file was made, not what it holds


def snapshot(root: Path) -> dict[str, bytes | dict]:
    """Every file under ``root``, bytes; run records and shard markers as JSON without their timing."""
    files: dict[str, bytes | dict] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.name.endswith(".lock")):
        rel = str(path.relative_to(root))
        if path.suffix == ".json" and (path.parent.name == "manifests" or path.name.endswith("_stats.json")):
            files[rel] = {k: v for k, v in json.loads(path.read_text()).items() if k not in TIMING}
        else:
            files[rel] = path.read_bytes()
    return files


def test_synthesize_over_ray_is_byte_identical(ray_address, dataset, inputs, tmp_path):
    ray_run = tmp_path / "ray"
    report = synthesize(config(), BuildOptions(out=ray_run / "data", manifests=ray_run / "manifests",
                                               distributor="ray", distributor_options={"address": ray_address}),
                        input=inputs)
    assert report.shards_written > 2
    ours, local = snapshot(ray_run), snapshot(dataset)
    assert sorted(ours) == sorted(local) and any(k.endswith(".tar") for k in ours)
    for rel in local:
        assert ours[rel] == local[rel], rel
    record = json.loads((ray_run / "manifests/noisy.json").read_text())
    assert record["run"]["distributor"] == "ray"


def test_ingest_over_ray_cli_is_byte_identical(ray_address, photos, tmp_path):
    from tests.pipelines.ingest.test_command import make_tree
    from tests.pipelines.ingest.test_lq_only import _crops, _lq_only

    tree = make_tree(tmp_path / "tree", photos)
    _lq_only(tree, _crops(photos, 8))  # and real photos without ground truth beside the pairs
    for name, extra in (("local", []), ("ray", ["--distributor", "ray", "--ray-address", ray_address])):
        args = ["ingest", "--root", str(tree), "--out", str(tmp_path / name / "data"),
                "--manifest-dir", str(tmp_path / name / "manifests"), "--shard-size", "3", *extra]  # fmt: skip
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
    assert snapshot(tmp_path / "ray") == snapshot(tmp_path / "local")


@dataclass(frozen=True)
class DieOnce:
    """A worker that kills its own process on the first attempt at shard ``shard_id``, after
    leaving a half-written temporary tar behind, as a worker killed mid-write would."""

    marker: str
    shard_id: int

    def __call__(self, work: Work, progress: Progress):
        if work.job.shard_id == self.shard_id and not os.path.exists(self.marker):
            Path(self.marker).write_text(str(os.getpid()))
            task = work.tasks[0]
            work.job.folder(task).mkdir(parents=True, exist_ok=True)  # shard 0 may not have made it yet
            (work.job.folder(task) / f"{work.job.stem(task)}.tar.{os.getpid()}.tmp").write_bytes(b"half")
            os._exit(1)
        return run_work(work, progress)


def test_a_killed_ray_worker_is_retried_and_loses_nothing(ray_address, dataset, inputs, tmp_path, monkeypatch):
    import pipelines.build.driver

    marker = tmp_path / "died"
    monkeypatch.setattr(pipelines.build.driver, "run_work", DieOnce(str(marker), shard_id=1))
    done: list[int] = []
    synthesize(config(), BuildOptions(out=tmp_path / "ray/data", manifests=tmp_path / "ray/manifests",
                                      distributor="ray", distributor_options={"address": ray_address}),
               input=inputs, on_progress=done.append)
    assert marker.exists()  # the worker did die
    assert snapshot(tmp_path / "ray") == snapshot(dataset)
    rows = sum(len(pd.read_parquet(p)) for p in (dataset / "manifests").glob("*.parquet"))
    assert sum(done) == rows  # the retried shard is not counted twice


def test_without_ray_the_option_says_how_to_install(tmp_path, monkeypatch, inputs):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    args = ["synthesize", "--task", "noisy", "--input", str(inputs), "--out", str(tmp_path / "data"),
            "--manifest-dir", str(tmp_path / "manifests"), "--distributor", "ray"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if "Error" in line or "ray" in line.lower()]
    assert lines == ["Error: --distributor ray needs Ray: pip install -e '.[ray]' (or pip install ray)"], result.output


def test_synthesize_over_ray_to_s3_is_byte_identical(ray_address, s3_env, s3, dataset, inputs):
    from tests.pipelines.build.test_staging import remote_snapshot
    from tests.pipelines.conftest import BUCKET

    url = f"s3://{BUCKET}/ray"  # the workers upload their shards themselves, the driver the manifests
    report = synthesize(config(), BuildOptions(out=f"{url}/data", manifests=f"{url}/manifests", distributor="ray",
                                               distributor_options={"address": ray_address}), input=inputs)
    assert report.shards_written > 2
    ours, local = remote_snapshot(s3, "ray"), snapshot(dataset)
    assert sorted(ours) == sorted(local)
    for rel in local:
        assert ours[rel] == local[rel], rel


class DieOnceActor(CaptionActor):
    """A BLIP actor whose process dies in its first ``caption`` call of the run (once: a marker
    beside the model folder says it did)."""

    def caption(self, refs):
        marker = Path(self.model_path).parent / "actor-died"
        if not marker.exists():
            marker.write_text(str(os.getpid()))
            os._exit(1)
        return super().caption(refs)

    def __init__(self, model, *args):
        self.model_path = model
        super().__init__(model, *args)


def test_caption_over_ray_equals_local_also_when_an_actor_dies(ray_address, dataset, tmp_path, monkeypatch):
    import shutil

    from pipelines.caption import ray as caption_ray
    from pipelines.caption.config import CaptionConfig, CaptionRuntime
    from pipelines.caption.run import caption_manifests
    from tests.pipelines.tiny_blip import build_tiny_blip

    blip = build_tiny_blip(tmp_path / "blip", image_size=32)
    runs = {}
    for name in ("local", "dying"):
        shutil.copytree(dataset, tmp_path / name)
        extra = {"distributor": "ray", "ray_address": ray_address, "actors": 1} if name == "dying" else {}
        if name == "dying":
            monkeypatch.setattr(caption_ray, "CaptionActor", DieOnceActor)
        runtime = CaptionRuntime(device="cpu", batch_size=2, workers=0, **extra)
        report = caption_manifests(tmp_path / name / "manifests", CaptionConfig(model=str(blip)), runtime)
        assert report.captioned > 4 and report.errors == 0
        runs[name] = snapshot(tmp_path / name)
    assert (tmp_path / "actor-died").exists()  # the actor did die
    assert runs["dying"] == runs["local"]
