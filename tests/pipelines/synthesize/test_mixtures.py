"""Mixture datasets end to end: synthesize a+b / mix / wild / cdd11 from the CLI, replay from the shards,
worker-count independence, schema v1 -> v2 (read, verify, migrate, resume message), merge, stats and
export-csv on mixtures, ingest of an a+b folder."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from PIL import Image

import degradations as D
from degradations import mixtures as M
from degradations.labels import split_label
from pipelines.cli import cli
from pipelines.manifest.schema import SCHEMA_VERSION, read_manifest
from pipelines.tools.export import export_csv
from pipelines.tools.merge import merge
from pipelines.tools.stats import dataset_stats, task_manifests
from pipelines.tools.verify import verify_manifest
from tests.pipelines.hostile import edit_manifest

MIX_TASKS = ["--task", "lowlight+haze+rain", "--task", "mix", "--task", "wild", "--task", "cdd11"]


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


@pytest.fixture(scope="module")
def photos_dir(tmp_path_factory, photos) -> Path:
    folder = tmp_path_factory.mktemp("mix_inputs")
    for name in ("astronaut", "coffee", "chelsea"):
        Image.fromarray(np.ascontiguousarray(photos[name][::12, ::12][:32, :40])).save(folder / f"{name}.png")
    return folder


@pytest.fixture(scope="module")
def mixed(tmp_path_factory, photos_dir) -> Path:
    root = tmp_path_factory.mktemp("mixed")
    _invoke("synthesize", *MIX_TASKS, "--input", str(photos_dir), "--out", str(root / "data"),
            "--manifest-dir", str(root / "manifests"), "--variants", "2", "--seed", "3", "--shard-size", "2",
            "--mix-size", "2-3", "--val-fraction", "0.4")
    return root


def _members(tar: Path) -> dict[str, bytes]:
    with tarfile.open(tar) as handle:
        return {m.name: handle.extractfile(m).read() for m in handle.getmembers()}


def test_cli_writes_one_manifest_per_task_with_slugged_names(mixed):
    names = sorted(p.stem for p in (mixed / "manifests").glob("*.parquet"))
    expected = {"low-light--hazy--rainy", "mix", "wild"} | {t.replace("+", "--") for t in M.CDD11}
    assert set(names) == expected and all("+" not in p.name for p in (mixed / "data").rglob("*"))
    frame = read_manifest(mixed / "manifests/low-light--hazy--rainy.parquet")
    assert set(frame["degradation"]) == {"low-light+hazy+rainy"} and len(frame) == 6
    assert frame["key"].str.startswith("low-light--hazy--rainy_").all()
    cdd = read_manifest(mixed / "manifests/hazy--rainy--low-light.parquet")
    assert set(cdd["degradation"]) == {"hazy+rainy+low-light"}


@pytest.mark.parametrize("task", ["low-light--hazy--rainy", "mix", "wild", "hazy--snowy--low-light"])
def test_labels_list_and_params_agree_and_replay_from_the_shard_is_bit_exact(mixed, task):
    frame = read_manifest(mixed / f"manifests/{task}.parquet")
    assert len(frame) == 6
    for row in frame.to_dict("records"):
        params = json.loads(row["params"])
        assert params["name"] == "compose" and list(row["degradations"]) == list(split_label(row["degradation"]))
        if params.get("chain") == "wild":
            assert row["degradation"] == params["label"]
        else:
            assert list(row["degradations"]) == [step["name"] for step in params["steps"]]
            assert M.follows_rule(row["degradations"]) or task == "low-light--hazy--rainy"
        members = _members(Path(row["shard_path"]))
        hq = np.asarray(Image.open(io.BytesIO(members[f"{row['key']}.hq.png"])))
        lq = np.asarray(Image.open(io.BytesIO(members[f"{row['key']}.lq.png"])))
        assert np.array_equal(D.replay(hq, params).lq, lq)
        meta = json.loads(members[f"{row['key']}.json"])
        assert meta["degradation"] == row["degradation"] and meta.get("task", row["degradation"]) in (
            row["degradation"], task)


def test_mix_draws_several_labels_and_verify_passes(mixed):
    frame = read_manifest(mixed / "manifests/mix.parquet")
    assert frame["degradation"].nunique() > 1 and frame["degradations"].map(len).between(2, 3).all()
    for name in ("mix", "wild", "low-light--hazy--rainy"):
        report = verify_manifest(mixed / f"manifests/{name}.parquet")
        assert report.ok, report.problems


def test_mix_is_independent_of_the_worker_count(photos_dir, tmp_path):
    outs = []
    for workers in ("1", "2"):
        root = tmp_path / f"w{workers}"
        _invoke("synthesize", "--task", "mix", "--task", "wild", "--input", str(photos_dir), "--out",
                str(root / "data"), "--manifest-dir", str(root / "m"), "--shard-size", "1", "--workers", workers,
                "--mix-from", "haze,rain,snow,lowlight,noise", "--mix-size", "2")
        outs.append(root)
    files = sorted(p.relative_to(outs[0]) for p in outs[0].rglob("*") if p.suffix in (".tar", ".parquet"))
    assert len(files) == 2 * 3 * 2 + 2
    for rel in files:
        assert (outs[0] / rel).read_bytes() == (outs[1] / rel).read_bytes(), rel


def _as_v1(manifest: Path, out: Path) -> Path:
    table = pq.read_table(manifest)
    pq.write_table(table.drop(["degradations"]), out, compression="zstd")
    return out


def test_v1_manifest_is_read_verified_and_migrated(mixed, tmp_path):
    shutil.copytree(mixed, tmp_path / "ds")
    folder = tmp_path / "ds/manifests"
    v2 = folder / "mix.parquet"
    before = read_manifest(v2, status=None)
    v1 = _as_v1(v2, folder / "mix-v1.parquet")
    shutil.copy(folder / "mix.json", folder / "mix-v1.json")
    read = read_manifest(v1, status=None)
    assert [list(x) for x in read["degradations"]] == [list(x) for x in before["degradations"]]
    report = verify_manifest(v1)
    assert report.ok and report.schema_version == 1 and "make-dataset migrate" in report.format()
    out = _invoke("migrate", str(v1), str(v2))
    assert "schema v1 -> v2" in out and "already schema v2" in out
    migrated = pq.read_table(v1)
    assert migrated.column_names[:3] == ["key", "degradation", "degradations"]
    assert migrated.equals(pq.read_table(v2))
    assert json.loads((folder / "mix-v1.json").read_text())["schema_version"] == SCHEMA_VERSION
    assert verify_manifest(v1).schema_version == SCHEMA_VERSION


def test_an_old_v1_dataset_refuses_to_resume_with_one_clear_line(photos_dir, tmp_path):
    args = ["synthesize", "--task", "noisy", "--input", str(photos_dir), "--out", str(tmp_path / "d"),
            "--manifest-dir", str(tmp_path / "m"), "--shard-size", "2"]
    _invoke(*args)
    stats = next((tmp_path / "d/noisy").glob("*_stats.json"))
    record = json.loads(stats.read_text())
    stats.write_text(json.dumps({**record, "schema_version": 1, "spec_hash": "old"}))
    result = CliRunner().invoke(cli, args)
    assert result.exit_code != 0 and "older make-dataset (manifest schema v1" in result.output + result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_single_type_rows_keep_their_label_and_gain_a_one_item_list(mixed):
    frame = read_manifest(mixed / "manifests/rainy.parquet")
    assert set(frame["degradation"]) == {"rainy"} and all(list(x) == ["rainy"] for x in frame["degradations"])
    assert frame["key"].str.startswith("rainy_").all()


def test_merge_stats_and_export_on_mixtures(mixed, tmp_path):
    manifests = [str(p) for p in task_manifests(mixed / "manifests")]
    assert len(manifests) == 14
    report = merge(manifests, train=tmp_path / "train.parquet", val=tmp_path / "val.parquet", balance_counts=True)
    counts = {**report.counts[str(tmp_path / "train.parquet")]}
    assert "hazy+rainy+low-light" in counts and len(set(counts.values())) == 1
    merged = read_manifest(tmp_path / "train.parquet")
    assert all(list(p) == list(split_label(d)) for d, p in zip(merged["degradation"], merged["degradations"]))

    stats = dataset_stats(manifests)
    mixture_ok = sum(t["ok"] for name, t in stats["tasks"].items() if "+" in name)
    assert mixture_ok > 0 and stats["types"]["hazy"] >= 6 * 6  # six CDD-11 tasks hold hazy
    assert sum(stats["types"].values()) == sum(t["ok"] * len(split_label(n)) for n, t in stats["tasks"].items())
    assert "ok per type" in _invoke("stats", *manifests)

    captioned = edit_manifest(tmp_path / "train.parquet", tmp_path / "cap.parquet", caption="a photo")
    dropped = export_csv(captioned, tmp_path / "drop.csv", tmp_path / "img")
    kept = export_csv(captioned, tmp_path / "joined.csv", tmp_path / "img", mixtures="joined")
    assert dropped.dropped_mixtures > 0 and dropped.written + dropped.dropped_mixtures == kept.written
    titles = (tmp_path / "joined.csv").read_text().splitlines()[1:]
    assert any(t.endswith(": hazy+rainy+low-light") for t in titles)
    assert not any("+" in t.rsplit(": ", 1)[1] for t in (tmp_path / "drop.csv").read_text().splitlines()[1:])
    assert (tmp_path / "img/hazy--rainy--low-light/LQ").is_dir()
    out = CliRunner().invoke(cli, ["export-csv", "--manifest", str(captioned), "--out", str(tmp_path / "c.csv"),
                                   "--image-root", str(tmp_path / "img")])
    assert out.exit_code == 0 and "DA-CLIP's CSV holds one degradation per row" in out.output + out.stderr


def test_ingest_reads_an_a_plus_b_folder_as_a_mixture_label(photos_dir, tmp_path):
    root = tmp_path / "universal"
    for sub in ("LQ", "GT"):
        (root / "train/haze+rain" / sub).mkdir(parents=True)
    for path in sorted(photos_dir.glob("*.png"))[:2]:
        shutil.copy(path, root / "train/haze+rain/GT" / path.name)
        shutil.copy(path, root / "train/haze+rain/LQ" / path.name)
    _invoke("ingest", "--root", str(root), "--out", str(tmp_path / "d"), "--manifest-dir", str(tmp_path / "m"))
    frame = read_manifest(tmp_path / "m/hazy--rainy.ingested.parquet")
    assert set(frame["degradation"]) == {"hazy+rainy"} and all(list(x) == ["hazy", "rainy"] for x in frame["degradations"])
    assert (tmp_path / "d/hazy--rainy").is_dir()


def test_bad_mixture_options_are_one_line_errors(photos_dir, tmp_path):
    for args in (["--task", "rain+snow"], ["--task", "mix", "--mix-size", "1"], ["--task", "mix", "--mix-from", "rain,snow",
                                                                                 "--mix-size", "2"]):
        result = CliRunner().invoke(cli, ["synthesize", *args, "--input", str(photos_dir), "--out", str(tmp_path)])
        assert result.exit_code == 2 and "Traceback" not in result.output, result.output
