"""train-daclip, daclip classify and daclip evaluate on a tiny synthesized data set (tiny model, 64 px)."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import cv2
import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

import daclip
from daclip.cli import cli as daclip_cli
from daclip.train_daclip import TrainConfig, main, train
from degradations import NAMES
from pipelines.cli import cli as dataset_cli
from pipelines.manifest import read_manifest, write_manifest

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]
TRAIN_ARGS = ["--model", "tiny", "--pretrained", "none", "--steps", "6", "--save-every", "3", "--batch-size", "8",
              "--lr", "1e-3", "--warmup", "2", "--workers", "1", "--seed", "1"]


def _invoke(cli, args):
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> dict[str, Path]:
    """noisy + jpeg-compressed from the bundled photos, 64 px, merged into train/val manifests."""
    root = tmp_path_factory.mktemp("daclip_data")
    man = root / "manifests"
    _invoke(dataset_cli, ["synthesize", "--task", "noisy", "--task", "jpeg", "--variants", "2", "--max-side", "64",
                          "--out", str(root / "data"), "--manifests", str(man), "--workers", "1",
                          "--val-fraction", "0.3", "--seed", "0"])
    _invoke(dataset_cli, ["merge", str(man / "noisy.parquet"), str(man / "jpeg-compressed.parquet"),
                          "--train", str(man / "train.parquet"), "--val", str(man / "val.parquet")])
    return {"train": man / "train.parquet", "val": man / "val.parquet", "root": root}


@pytest.fixture(scope="module")
def run(dataset, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "full"
    result = _invoke(main, ["--shards", str(dataset["train"]), "--val", str(dataset["val"]), *TRAIN_ARGS,
                            "--out", str(out)])
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["final_step"] == 6 and summary["val_accuracy"] is not None
    return out


def test_train_end_to_end_writes_loadable_checkpoints(run, dataset):
    checkpoints = run / "checkpoints"
    assert sorted(p.name for p in checkpoints.glob("step_*")) == ["step_00000003", "step_00000006"]
    assert (checkpoints / "latest").read_text().strip() == "step_00000006"
    assert not list(run.rglob("*.pt")) and not list(run.rglob("*.pkl"))
    config = json.loads((checkpoints / "step_00000006" / "config.json").read_text())
    assert config["model"]["model"] == "tiny" and config["step"] == 6
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "val_accuracy" in r] == [3, 6]
    assert any("loss" in r and "samples_per_s" in r and "accuracy" in r for r in rows)
    model = daclip.load(run)
    start = daclip.model.build(daclip.model.DaCLIPConfig(model="tiny", pretrained="none", init_seed=1))
    assert not torch.equal(model.controller.proj, start.controller.proj), "the controller trained"
    # no captions and no HQ alignment: nothing asks the content path to change, so it stays plain CLIP
    assert not model.zero_linears[0].weight.any()
    for (name, a), b in zip(model.clip.state_dict().items(), start.clip.state_dict().values()):
        assert torch.equal(a, b), f"frozen CLIP weight {name} changed"


def test_resume_continues_exactly(run, dataset, tmp_path):
    out = tmp_path / "resumed"
    args = ["--shards", str(dataset["train"]), "--val", str(dataset["val"]), *TRAIN_ARGS, "--out", str(out)]
    first = _invoke(main, [*args, "--stop-at", "3"])
    assert json.loads(first.output.strip().splitlines()[-1])["final_step"] == 3
    _invoke(main, [*args, "--resume"])
    full = load_file(run / "checkpoints" / "step_00000006" / "model.safetensors")
    resumed = load_file(out / "checkpoints" / "step_00000006" / "model.safetensors")
    assert full.keys() == resumed.keys()
    for key in full:
        assert torch.equal(full[key], resumed[key]), key


def test_captions_hq_alignment_and_uncaptioned_rows(dataset, tmp_path, caplog):
    frame = read_manifest(dataset["train"], status=None).drop(columns=["shard_path"], errors="ignore")
    captioned = frame["key"].rank(method="first") % 2 == 0
    frame["caption"] = [f"a photo number {i}" if c else None for i, c in enumerate(captioned)]
    frame["shard"] = [str((dataset["train"].parent / s).resolve()) for s in frame["shard"]]
    manifest = tmp_path / "captioned.parquet"
    write_manifest(frame, manifest)
    cfg = TrainConfig(shards=(str(manifest),), out=str(tmp_path / "run"), model="tiny", pretrained="none",
                      steps=3, batch_size=8, lr=1e-3, warmup=1, workers=0, hq_align_weight=0.5,
                      degradation_loss="infonce", seed=0)
    with caplog.at_level(logging.INFO, logger="daclip.train_daclip"):
        summary = train(cfg, progress=False)
    said = [r for r in caplog.records if "have no caption" in r.getMessage()]
    assert len(said) == 1 and "degradation term only" in said[0].getMessage()
    assert summary["final_step"] == 3 and summary["loss"] == summary["loss"]  # finite, not NaN
    saved = json.loads((tmp_path / "run" / "train_config.json").read_text())
    assert saved["hq_align_weight"] == 0.5 and saved["degradation_loss"] == "infonce"


def test_offline_pretrained_tag_gives_a_short_error(dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = CliRunner().invoke(main, ["--shards", str(dataset["train"]), "--model", "ViT-B-32", "--pretrained",
                                       "laion2b_s34b_b79k", "--steps", "1", "--out", str(tmp_path / "x")])
    assert result.exit_code == 1
    assert "--pretrained /path/to/open_clip_model.safetensors" in result.output
    assert "Traceback" not in result.output and len(result.output.splitlines()) <= 4


def test_classify_cli(run, dataset, tmp_path):
    frame = read_manifest(dataset["val"])
    with tarfile.open(frame["shard_path"].iloc[0]) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith(".lq.png"))
        (tmp_path / "lq.png").write_bytes(tar.extractfile(member).read())
    (tmp_path / "broken.png").write_bytes(b"not an image")
    text = _invoke(daclip_cli, ["classify", str(tmp_path / "lq.png"), "--ckpt", str(run)]).output
    assert text.startswith(f"{tmp_path / 'lq.png'}: ") and any(name in text for name in NAMES)
    as_json = json.loads(_invoke(daclip_cli, ["classify", str(tmp_path / "lq.png"), "--ckpt", str(run),
                                              "--json"]).output)
    (pred,) = as_json
    assert set(pred["probabilities"]) == set(NAMES)
    assert abs(sum(pred["probabilities"].values()) - 1) < 1e-4
    assert pred["degradation"] == max(pred["probabilities"], key=pred["probabilities"].get)
    bad = CliRunner().invoke(daclip_cli, ["classify", str(tmp_path / "lq.png"), str(tmp_path / "broken.png"),
                                          "--ckpt", str(run)])
    assert bad.exit_code == 1 and "broken.png: ERROR" in bad.output and "lq.png: " in bad.output
    missing = CliRunner().invoke(daclip_cli, ["classify", str(tmp_path / "lq.png"), "--ckpt", str(tmp_path / "no")])
    assert missing.exit_code == 1 and "--ckpt" in missing.output


def test_evaluate_cli(run, dataset, tmp_path):
    out = tmp_path / "eval"
    result = _invoke(daclip_cli, ["evaluate", "--shards", str(dataset["val"]), "--ckpt", str(run),
                                  "--out", str(out), "--json"])
    report = json.loads(result.output)
    n_val = len(read_manifest(dataset["val"]))
    assert report["samples"] == n_val
    assert {r["degradation"] for r in report["per_degradation"]} == {"noisy", "jpeg-compressed"}
    assert sum(map(sum, report["confusion"])) == n_val and len(report["confusion"]) == len(NAMES)
    for key in ("accuracy", "baseline_zero_shot_accuracy", "cosine_hq_controlled", "cosine_hq_plain",
                "cosine_other_hq_controlled", "cosine_other_hq_plain"):
        assert isinstance(report[key], float)
    assert -1 <= report["cosine_hq_plain"] <= 1
    assert json.loads((out / "evaluation.json").read_text())["confusion"] == report["confusion"]
    png = cv2.imread(str(out / "confusion.png"))
    assert png is not None and png.shape[0] > 300
    table = _invoke(daclip_cli, ["evaluate", "--shards", str(dataset["val"]), "--ckpt", str(run)]).output
    assert "zero-shot" in table and table.splitlines()[-1].startswith("all")


@pytest.mark.slow
def test_ddp_two_processes_on_cpu(dataset, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "daclip.train_daclip", "--shards", str(dataset["train"]), "--model", "tiny", "--pretrained", "none",
           "--steps", "2", "--batch-size", "4", "--workers", "0", "--lr", "1e-3", "--warmup", "1",
           "--device", "cpu", "--out", str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summaries = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(summaries) == 1 and json.loads(summaries[0])["final_step"] == 2
    config = json.loads((out / "checkpoints" / "step_00000002" / "config.json").read_text())
    assert config["step"] == 2
    state = json.loads((out / "checkpoints" / "step_00000002" / "state.json").read_text())
    assert len(state["rng_by_rank"]) == 2
    assert "global batch 8" in proc.stderr


def test_a_corrupt_sample_is_skipped_with_a_warning(dataset, tmp_path, caplog):
    frame = read_manifest(dataset["train"]).drop(columns=["shard_path"])
    src = read_manifest(dataset["train"])["shard_path"].iloc[0]
    bad_key = frame["key"].iloc[0]
    shard = tmp_path / "broken.tar"
    with tarfile.open(src) as tin, tarfile.open(shard, "w") as tout:
        for member in tin.getmembers():
            data = tin.extractfile(member).read()
            if member.name == f"{bad_key}.lq.png":
                data = b"\x89PNG broken"
            member.size = len(data)
            tout.addfile(member, io.BytesIO(data))
    frame = frame[frame["shard"] == frame["shard"].iloc[0]].copy()
    frame["shard"] = str(shard)
    write_manifest(frame, tmp_path / "broken.parquet")
    cfg = TrainConfig(shards=(str(tmp_path / "broken.parquet"),), out=str(tmp_path / "run"), model="tiny",
                      pretrained="none", steps=2, batch_size=len(frame), lr=1e-3, warmup=1, workers=0,
                      shuffle_buffer=0)
    with pytest.warns(UserWarning, match="decode"):
        summary = train(cfg, progress=False)
    assert summary["final_step"] == 2


def test_max_minutes_stops_with_a_checkpoint_that_resumes(dataset, tmp_path):
    common = dict(shards=(str(dataset["train"]),), out=str(tmp_path / "run"), model="tiny", pretrained="none",
                  steps=3, batch_size=4, lr=1e-3, warmup=1, workers=0)
    assert train(TrainConfig(**common, max_minutes=0.0), progress=False)["final_step"] == 1
    assert (tmp_path / "run" / "checkpoints" / "latest").read_text().strip() == "step_00000001"
    resumed = train(TrainConfig(**common, resume=True), progress=False)
    assert resumed["start_step"] == 1 and resumed["final_step"] == 3


def test_training_batches_mix_degradations_from_per_task_shards(dataset):
    from daclip.factory import get_tokenizer
    from daclip.shards import load_index
    from daclip.transforms import make_loader

    manifests = (str(dataset["train"]),)
    loader = make_loader(load_index(manifests), image_size=64, tokenizer=get_tokenizer("tiny"), batch_size=8,
                         seed=0, train=True, workers=0)
    batches = iter(loader)
    mixed = [len(set(next(batches)["label"].tolist())) == 2 for _ in range(6)]
    assert sum(mixed) >= 5, "one shard per degradation must not give one-degradation batches"
