"""verify / merge / stats / --part: the tools around synthesize."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from pipelines.cli import cli
from pipelines.manifest import COLUMNS, read_manifest
from pipelines.merge import merge
from pipelines.stats import dataset_stats
from pipelines.synthesize import synthesize
from pipelines.verify import verify_manifest
from pipelines.worker import SynthConfig

TASKS = ("noisy", "jpeg-compressed")


def make_inputs(folder: Path, photos: dict[str, np.ndarray]) -> Path:
    """Ten distinct 40x40 crops plus one file that is not an image."""
    folder.mkdir(parents=True)
    for name, img in sorted(photos.items()):
        for i in range(3 if name in ("astronaut", "coffee") else 2):
            Image.fromarray(np.ascontiguousarray(img[40 * i : 40 * i + 40, 50 : 90])).save(folder / f"{name}{i}.png")
    (folder / "broken.png").write_bytes(b"not a png")
    return folder


def config(**kw) -> SynthConfig:
    base = dict(tasks=TASKS, variants=2, seed=1, shard_size=4, val_fraction=0.3)
    base.update(kw)
    return SynthConfig(**base)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, photos) -> Path:
    return make_inputs(tmp_path_factory.mktemp("tools") / "photos", photos)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, inputs) -> Path:
    root = tmp_path_factory.mktemp("dataset")
    synthesize(config(), input=inputs, out=root / "data", manifests=root / "manifests")
    return root


def fresh_copy(dataset: Path, tmp_path: Path) -> Path:
    shutil.copytree(dataset, tmp_path / "ds")
    return tmp_path / "ds"


def test_verify_passes_on_a_clean_dataset(dataset):
    report = verify_manifest(dataset / "manifests/noisy.parquet")
    assert report.ok, report.problems
    assert report.samples_checked == 20 and report.shards_checked == 6 and report.rows == 22
    result = CliRunner().invoke(cli, ["verify", "--manifest", str(dataset / "manifests/noisy.parquet")])
    assert result.exit_code == 0 and "OK" in result.output


def _first_hq_offset(tar: Path) -> int:
    import tarfile

    with tarfile.open(tar) as tf:
        info = next(i for i in tf.getmembers() if ".hq." in i.name)
        return info.offset_data + info.size // 2


def test_verify_catches_a_flipped_byte(dataset, tmp_path):
    root = fresh_copy(dataset, tmp_path)
    tar = root / "data/noisy/noisy-000001.tar"
    data = bytearray(tar.read_bytes())
    data[_first_hq_offset(tar)] ^= 0x01
    tar.write_bytes(bytes(data))
    report = verify_manifest(root / "manifests/noisy.parquet")
    assert not report.ok
    text = report.format()
    assert "hq.png sha256 does not match" in text and "sha256 differs" in text and "noisy-000001.tar" in text
    result = CliRunner().invoke(cli, ["verify", "--manifest", str(root / "manifests/noisy.parquet")])
    assert result.exit_code != 0 and "FAILED" in result.output


def test_verify_catches_a_deleted_shard(dataset, tmp_path):
    root = fresh_copy(dataset, tmp_path)
    (root / "data/noisy/noisy-000002.tar").unlink()
    report = verify_manifest(root / "manifests/noisy.parquet")
    assert any("noisy-000002.tar: shard is missing" in p for p in report.problems)


def test_verify_catches_a_truncated_shard(dataset, tmp_path):
    root = fresh_copy(dataset, tmp_path)
    tar = root / "data/jpeg-compressed/jpeg-compressed-000000.tar"
    tar.write_bytes(tar.read_bytes()[: _first_hq_offset(tar) + 100])
    report = verify_manifest(root / "manifests/jpeg-compressed.parquet")
    text = report.format()
    assert not report.ok and "truncated" in text and "samples in the tar" in text


def test_merge_combines_tasks_and_splits(dataset, tmp_path):
    out = tmp_path / "merged"
    inputs = sorted((dataset / "manifests").glob("*.parquet"))
    report = merge(inputs, train=out / "train.parquet", val=out / "val.parquet")
    train = read_manifest(out / "train.parquet", status=None)
    val = read_manifest(out / "val.parquet", status=None)
    assert set(train["split"]) == {"train"} and set(val["split"]) == {"val"}
    assert len(train) + len(val) == 44 and set(train["degradation"]) == set(TASKS)
    assert not set(train["hq_sha256"].dropna()) & set(val["hq_sha256"].dropna())
    assert all((out / s).resolve().is_file() for s in train["shard"])  # rewritten relative to out
    assert list(read_manifest(out / "train.parquet").columns[: len(COLUMNS)]) == list(COLUMNS)
    assert verify_manifest(out / "train.parquet").ok
    ok_noisy = int(((train["degradation"] == "noisy") & (train["status"] == "ok")).sum())
    assert report.counts[str(out / "train.parquet")]["noisy"] == ok_noisy > 0
    # a second merge over manifests/*.parquet skips its own outputs and non-manifests
    pd_captions = out / "captions.parquet"
    import pandas as pd

    pd.DataFrame({"hq_sha256": ["x"], "caption": ["a cat"]}).to_parquet(pd_captions)
    again = merge([*inputs, out / "train.parquet", pd_captions], train=out / "train.parquet", val=out / "val.parquet")
    assert len(again.inputs) == 2 and len(again.skipped) == 2


def test_merge_balance_equalises_per_degradation(tmp_path, inputs):
    root = tmp_path / "unbalanced"
    synthesize(config(tasks=("noisy",), variants=2), input=inputs, out=root / "data", manifests=root / "manifests")
    synthesize(config(tasks=("jpeg-compressed",), variants=1), input=inputs, out=root / "data",
               manifests=root / "manifests")
    paths = [root / "manifests/noisy.parquet", root / "manifests/jpeg-compressed.parquet"]
    report = merge(paths, train=root / "train.parquet", val=root / "val.parquet", balance_counts=True)
    for name in ("train", "val"):
        frame = read_manifest(root / f"{name}.parquet")
        counts = frame.groupby("degradation").size()
        assert len(counts) == 2 and counts.nunique() == 1, counts
    assert report.dropped_by_balance == 10
    first = (root / "train.parquet").read_bytes()
    merge(paths, train=root / "train.parquet", val=root / "val.parquet", balance_counts=True)
    assert (root / "train.parquet").read_bytes() == first  # deterministic subset


def test_parts_merged_equal_the_full_run(tmp_path, inputs, dataset):
    root = tmp_path / "parts"
    for i in range(2):
        result = CliRunner().invoke(cli, [
            "synthesize", "--task", "noisy", "--task", "jpeg", "--input", str(inputs), "--out", str(root / "data"),
            "--manifests", str(root / "manifests"), "--variants", "2", "--seed", "1", "--shard-size", "4",
            "--val-fraction", "0.3", "--part", f"{i}/2"])
        assert result.exit_code == 0, result.output
    part_files = sorted(p.name for p in (root / "manifests").glob("*.parquet"))
    assert part_files == [f"{t}.part-{i}-of-2.parquet" for t in sorted(TASKS) for i in range(2)]
    merge(sorted((root / "manifests").glob("*.parquet")), train=root / "m/train.parquet", val=root / "m/val.parquet")
    merge(sorted((dataset / "manifests").glob("*.parquet")), train=root / "f/train.parquet",
          val=root / "f/val.parquet")
    for name in ("train", "val"):
        parts, full = read_manifest(root / f"m/{name}.parquet", None), read_manifest(root / f"f/{name}.parquet", None)
        cols = [c for c in COLUMNS if c != "shard"]
        assert parts[cols].equals(full[cols])
    for tar in (dataset / "data").rglob("*.tar"):
        assert tar.read_bytes() == (root / "data" / tar.relative_to(dataset / "data")).read_bytes()
    sizes = json.loads((root / "data/noisy/sizes.json").read_text())
    assert len(sizes) == 6  # the last part to finish sees every committed shard


def test_stats_counts_and_json(dataset, tmp_path):
    stats = dataset_stats(sorted((dataset / "manifests").glob("*.parquet")))
    noisy = stats["tasks"]["noisy"]
    assert noisy["ok"] == 20 and noisy["error"] == 2 and noisy["shards"] == 6 and noisy["clean_images"] == 10
    assert sum(s["ok"] for s in noisy["splits"].values()) == 20 and noisy["shard_bytes"] > 0
    assert "not an image" in next(iter(noisy["errors"]))
    assert stats["totals"]["rows"] == 44
    out = tmp_path / "stats.json"
    result = CliRunner().invoke(cli, ["stats", "--manifest-dir", str(dataset / "manifests"), "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "noisy" in result.output and "errors" in result.output
    assert json.loads(out.read_text())["tasks"]["jpeg-compressed"]["ok"] == 20


def test_progress_counts_every_planned_sample(tmp_path, inputs):
    seen, planned = [], []  # (the 2-worker path is checked in test_pipeline_synthesize)
    synthesize(config(tasks=("noisy",)), input=inputs, out=tmp_path / "d", manifests=tmp_path / "m",
               workers=1, on_progress=seen.append, on_plan=lambda total, shards: planned.append(total))
    assert planned == [22] and sum(seen) == 22  # 11 files x 2 variants, the broken one included


def test_part_parsing_and_slurm_environment():
    from pipelines.distribute import slurm_part
    from pipelines.sources import in_part, parse_part

    assert parse_part("1/3") == (1, 3) and parse_part(None) == (0, 1)
    for bad in ("3/3", "a/b", "1-3", "0/0"):
        with pytest.raises(ValueError, match="--part"):
            parse_part(bad)
    assert [s for s in range(7) if in_part(s, (1, 3))] == [1, 4]
    env = {"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "4"}
    assert slurm_part(env) == "1/4" and slurm_part({}) is None


def _dies_on_one(spec: int, progress: Callable[[int], None]) -> int:
    if spec == 1:
        os._exit(3)  # like a worker killed for memory
    return spec


def test_a_dead_worker_fails_the_run_instead_of_hanging():
    from pipelines.distribute import WorkerDied, run_local

    with pytest.raises(WorkerDied, match="worker process died"):
        list(run_local(_dies_on_one, [0, 1, 2, 3], processes=2))
