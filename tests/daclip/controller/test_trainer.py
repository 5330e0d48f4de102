"""train-daclip on a tiny synthesized data set (tiny model, 64 px): checkpoints, exact resume, DDP, budgets."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

import daclip
from daclip.controller.config import TrainConfig
from daclip.controller.model import DaCLIPConfig, build
from daclip.controller.train_command import command as main
from daclip.controller.trainer import train
from daclip.runtime.settings import RunSettings
from pipelines.manifest.schema import read_manifest, write_manifest
from tests.daclip.clirun import invoke_ok

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[3]


RUN_FIELDS = {"out", "steps", "max_minutes", "save_every", "keep", "resume", "overwrite", "workers", "seed",
              "threads", "device", "val", "stop_at", "mix", "max_bad_fraction", "max_pixels"}


def _train(**kwargs):
    """train() with TrainConfig and RunSettings fields given together (progress bar off)."""
    run = {k: kwargs.pop(k) for k in list(kwargs) if k in RUN_FIELDS}
    return train(TrainConfig(**kwargs), RunSettings(**run, progress=False))


def test_train_end_to_end_writes_loadable_checkpoints(daclip_run, daclip_data):
    checkpoints = daclip_run / "checkpoints"
    assert sorted(p.name for p in checkpoints.glob("step_*")) == ["step_00000003", "step_00000006"]
    assert (checkpoints / "latest").read_text().strip() == "step_00000006"
    assert not list(daclip_run.rglob("*.pt")) and not list(daclip_run.rglob("*.pkl"))
    config = json.loads((checkpoints / "step_00000006" / "config.json").read_text())
    assert config["model"]["model"] == "tiny" and config["step"] == 6
    rows = [json.loads(line) for line in (daclip_run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "val_accuracy" in r] == [3, 6]
    assert any("loss" in r and "samples_per_s" in r and "accuracy" in r for r in rows)
    model = daclip.load(daclip_run)
    start = build(DaCLIPConfig(model="tiny", pretrained="none", init_seed=1))
    assert not torch.equal(model.controller.proj, start.controller.proj), "the controller trained"
    # no captions and no HQ alignment: nothing asks the content path to change, so it stays plain CLIP
    assert not model.zero_linears[0].weight.any()
    for (name, a), b in zip(model.clip.state_dict().items(), start.clip.state_dict().values()):
        assert torch.equal(a, b), f"frozen CLIP weight {name} changed"


def test_resume_continues_exactly(daclip_run, daclip_data, daclip_train_args, tmp_path):
    out = tmp_path / "resumed"
    args = ["--shards", str(daclip_data["train"]), "--val", str(daclip_data["val"]), *daclip_train_args, "--out", str(out)]
    first = invoke_ok(main, [*args, "--stop-at", "3"])
    assert json.loads(first.stdout)["final_step"] == 3
    invoke_ok(main, [*args, "--resume"])
    full = load_file(daclip_run / "checkpoints" / "step_00000006" / "model.safetensors")
    resumed = load_file(out / "checkpoints" / "step_00000006" / "model.safetensors")
    assert full.keys() == resumed.keys()
    for key in full:
        assert torch.equal(full[key], resumed[key]), key


def test_captions_hq_alignment_and_uncaptioned_rows(daclip_data, tmp_path, caplog):
    frame = read_manifest(daclip_data["train"], status=None).drop(columns=["shard_path"], errors="ignore")
    captioned = frame["key"].rank(method="first") % 2 == 0
    frame["caption"] = [f"a photo number {i}" if c else None for i, c in enumerate(captioned)]
    frame["shard"] = [str((daclip_data["train"].parent / s).resolve()) for s in frame["shard"]]
    manifest = tmp_path / "captioned.parquet"
    write_manifest(frame, manifest)
    with caplog.at_level(logging.INFO, logger="daclip.controller.trainer"):
        summary = _train(shards=(str(manifest),), out=str(tmp_path / "run"), model="tiny", pretrained="none",
                         steps=3, batch_size=8, lr=1e-3, warmup=1, workers=0, hq_align_weight=0.5,
                         degradation_loss="infonce", seed=0)
    said = [r for r in caplog.records if "have no caption" in r.getMessage()]
    assert len(said) == 1 and "degradation term only" in said[0].getMessage()
    assert summary["final_step"] == 3 and summary["loss"] == summary["loss"]  # finite, not NaN
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["trainer"] == "train-daclip" and saved["run"]["steps"] == 3
    assert saved["task"]["train"]["hq_align_weight"] == 0.5 and saved["task"]["train"]["degradation_loss"] == "infonce"


def test_offline_pretrained_tag_gives_a_short_error(daclip_data, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = CliRunner().invoke(main, ["--shards", str(daclip_data["train"]), "--model", "ViT-B-32", "--pretrained",
                                       "laion2b_s34b_b79k", "--steps", "1", "--out", str(tmp_path / "x")])
    assert result.exit_code == 1
    assert "--pretrained /path/to/open_clip_model.safetensors" in result.output
    assert "Traceback" not in result.output and len(result.output.splitlines()) <= 4


@pytest.mark.slow
def test_ddp_two_processes_on_cpu(daclip_data, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "daclip.cli", "train-daclip", "--shards", str(daclip_data["train"]), "--model", "tiny", "--pretrained", "none",
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


def test_a_corrupt_sample_is_skipped_with_a_warning(daclip_data, tmp_path, caplog):
    frame = read_manifest(daclip_data["train"]).drop(columns=["shard_path"])
    src = read_manifest(daclip_data["train"])["shard_path"].iloc[0]
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
    with caplog.at_level(logging.WARNING, logger="daclip.data.health"):
        summary = _train(shards=(str(tmp_path / "broken.parquet"),), out=str(tmp_path / "run"), model="tiny",
                         pretrained="none", steps=2, batch_size=len(frame), lr=1e-3, warmup=1, workers=0,
                         shuffle_buffer=0, max_bad_fraction=0.5)
    skipped = [r.getMessage() for r in caplog.records if "skipped a bad sample" in r.getMessage()]
    assert skipped and "cannot decode image" in skipped[0]
    assert summary["final_step"] == 2


def test_max_minutes_stops_with_a_checkpoint_that_resumes(daclip_data, tmp_path):
    common = dict(shards=(str(daclip_data["train"]),), out=str(tmp_path / "run"), model="tiny", pretrained="none",
                  steps=3, batch_size=4, lr=1e-3, warmup=1, workers=0)
    assert _train(**common, max_minutes=0.0)["final_step"] == 1
    assert (tmp_path / "run" / "checkpoints" / "latest").read_text().strip() == "step_00000001"
    resumed = _train(**common, resume=True)
    assert resumed["start_step"] == 1 and resumed["final_step"] == 3
