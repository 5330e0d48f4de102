"""train-restore --arch nafnet end to end: checkpoints, resume, restore, evaluate-restore, flag checks."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

import daclip.runtime.loop as runtime_loop
from daclip.cli import cli as daclip_cli
from daclip.restoration.train_command import command as train_restore_cli
from tests.daclip.clirun import invoke_ok

torch.set_num_threads(1)


def _args(dataset, out, *extra, condition: str = "none"):
    args = ["--arch", "nafnet", "--condition", condition, "--model", "nafnet-tiny", "--steps", "4",
            "--save-every", "2", "--log-every", "1", "--out", str(out)]
    for m in dataset["manifests"]:
        args += ["--shards", m]
    return [*args, *extra]


def _restore_and_evaluate(dataset, run, tmp_path, *extra, oracle: bool = False):
    invoke_ok(daclip_cli, ["restore", str(dataset["photo"]), "--ckpt", str(run), "--tile", "32", "--overlap", "8",
                           "--out", str(tmp_path / "r"), *extra])
    src = cv2.imread(str(dataset["photo"]))
    assert cv2.imread(str(tmp_path / "r" / "small.png")).shape == src.shape
    ev = tmp_path / "eval"
    invoke_ok(daclip_cli, ["evaluate-restore", *[a for m in dataset["manifests"] for a in ("--shards", m)],
                           "--ckpt", str(run), "--out", str(ev), "--limit", "2", "--no-lpips", *extra,
                           *(["--oracle"] if oracle else [])])
    report = json.loads((ev / "metrics.json").read_text())
    assert set(report["per_degradation"]) == {"noisy", "jpeg-compressed"}
    for row in report["per_degradation"].values():
        assert 1 <= row["n"] <= 2 and np.isfinite(row["psnr"]) and row["lq_psnr"] > 15
    return report


def test_train_resume_restore_evaluate(dataset, tmp_path, monkeypatch):
    val = [a for m in dataset["manifests"] for a in ("--val", m)]
    full = invoke_ok(train_restore_cli, _args(dataset, tmp_path / "full", *val, "--val-every", "4",
                                              "--val-images", "2", "--loss", "l1", "--ema-every", "1"))
    metrics = json.loads(full.output[full.output.index("{"):])
    assert metrics["final_step"] == 4 and np.isfinite(metrics["loss"]) and metrics["val_images"] == 2
    assert np.isfinite(metrics["val_psnr"]) and metrics["val_psnr_lq"] > 15
    config = json.loads((tmp_path / "full" / "checkpoints" / "step_00000004" / "config.json").read_text())
    assert config["format"] == "daclip-onestep/1" and config["daclip"] is None
    assert config["nafnet"]["condition"] == "none" and config["train"]["loss"] == "l1"
    record = json.loads((tmp_path / "full" / "config.json").read_text())
    assert record["task"]["train"]["condition"] == "none"

    # a run killed right after its step-2 checkpoint resumes to exactly the same weights
    real_save = runtime_loop.save_checkpoint

    class Killed(Exception):
        pass

    def save_then_die(folder, *args, **kwargs):
        real_save(folder, *args, **kwargs)
        raise Killed

    resumed = _args(dataset, tmp_path / "resumed", "--loss", "l1", "--ema-every", "1")
    monkeypatch.setattr(runtime_loop, "save_checkpoint", save_then_die)
    assert isinstance(CliRunner().invoke(train_restore_cli, resumed).exception, Killed)
    monkeypatch.setattr(runtime_loop, "save_checkpoint", real_save)
    invoke_ok(train_restore_cli, [*resumed, "--resume"])
    a = load_file(tmp_path / "full" / "checkpoints" / "step_00000004" / "model.safetensors")
    b = load_file(tmp_path / "resumed" / "checkpoints" / "step_00000004" / "model.safetensors")
    assert a.keys() == b.keys() and any(k.startswith("ema.") for k in a)
    first = load_file(tmp_path / "full" / "checkpoints" / "step_00000002" / "model.safetensors")
    assert any(not torch.equal(a[k], first[k]) for k in a), "training changed the weights"
    for k in a:
        assert torch.equal(a[k], b[k]), k

    # sampling flags that do not apply are ignored; evaluate-restore needs a conditioned model for --oracle
    _restore_and_evaluate(dataset, tmp_path / "full", tmp_path, "--steps", "3", "--sampler", "em")
    bad = CliRunner().invoke(daclip_cli, ["evaluate-restore", "--shards", dataset["manifests"][0], "--ckpt",
                                          str(tmp_path / "full"), "--out", str(tmp_path / "e2"), "--oracle"])
    assert bad.exit_code != 0 and "--oracle needs a DA-CLIP-conditioned restorer" in bad.output


@pytest.mark.parametrize("condition", ["daclip", "oracle"])
def test_conditioned_training_restore_and_oracle_evaluation(dataset, tiny_daclip, tmp_path, condition):
    run = tmp_path / condition
    val = [a for m in dataset["manifests"] for a in ("--val", m)]
    summary = invoke_ok(train_restore_cli, _args(dataset, run, "--daclip", str(tiny_daclip), "--steps", "2",
                                                 *val, "--val-images", "2", condition=condition))
    assert np.isfinite(json.loads(summary.output[summary.output.index("{"):])["val_psnr"])
    config = json.loads((run / "checkpoints" / "step_00000002" / "config.json").read_text())
    assert config["nafnet"]["condition"] == condition and config["nafnet"]["embed_dim"] == 64
    assert config["daclip"] == str(tiny_daclip.resolve()) and config["train"]["loss"] == "psnr"
    report = _restore_and_evaluate(dataset, run, tmp_path, oracle=True)
    assert report["settings"]["oracle"] is True
    bad = CliRunner().invoke(train_restore_cli, _args(dataset, run, "--resume", "--steps", "3",
                                                      condition="none"))
    assert bad.exit_code != 0 and "--resume: the checkpoint was trained with condition" in bad.output


@pytest.mark.parametrize(("extra", "condition", "message"), [
    (["--loss", "ml"], "none", "--loss ml is not a one-step loss"),
    (["--prediction", "x0"], "none", "--prediction: IR-SDE only"),
    (["--val-steps", "3"], "none", "--val-steps: IR-SDE only"),
    (["--no-daclip"], "none", "--no-daclip (use --condition none)"),
    ([], "daclip", "--condition daclip needs --daclip PATH"),
    ([], "oracle", "--condition oracle needs --daclip PATH"),
    (["--daclip", "runs/x"], "none", "--condition none uses no DA-CLIP"),
])
def test_invalid_combinations_fail_in_one_line(dataset, tmp_path, extra, condition, message):
    result = CliRunner().invoke(train_restore_cli, _args(dataset, tmp_path / "x", *extra, condition=condition))
    assert result.exit_code != 0 and message in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(lines) == 1 and not (tmp_path / "x").exists()


def test_arch_flags_are_checked_both_ways(dataset, tmp_path):
    args = [a for a in _args(dataset, tmp_path / "x") if a not in ("--condition", "none")]
    needs = CliRunner().invoke(train_restore_cli, args)
    assert needs.exit_code != 0 and "--arch nafnet needs --condition" in needs.output
    irsde = ["--no-daclip", "--condition", "daclip", "--out", str(tmp_path / "y"), "--shards", dataset["manifests"][0]]
    wrong = CliRunner().invoke(train_restore_cli, irsde)
    assert wrong.exit_code != 0 and "--condition is for --arch nafnet" in wrong.output
    loss = CliRunner().invoke(train_restore_cli, ["--no-daclip", "--loss", "psnr", "--steps", "1", "--out",
                                                  str(tmp_path / "z"), "--shards", dataset["manifests"][0]])
    assert loss.exit_code != 0 and "unknown loss 'psnr'" in loss.output
