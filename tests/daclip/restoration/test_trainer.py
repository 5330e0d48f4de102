"""train-restore, daclip restore and daclip evaluate-restore end to end on synthesized shards."""

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
from daclip.restoration.config import TrainConfig
from daclip.restoration.train_command import command as train_restore_cli

torch.set_num_threads(1)


def _ok(result):
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result


def _train_args(dataset, out, *extra):
    args = ["--no-daclip", "--model", dataset["micro"], "--steps", "4", "--save-every", "2", "--log-every", "1",
            "--out", str(out)]
    for m in dataset["manifests"]:
        args += ["--shards", m]
    return [*args, *extra]


def test_train_resume_restore_evaluate(dataset, tmp_path, monkeypatch):
    runner = CliRunner()
    val = [a for m in dataset["manifests"] for a in ("--val", m)]
    full = _ok(runner.invoke(train_restore_cli, _train_args(
        dataset, tmp_path / "full", *val, "--val-every", "4", "--val-steps", "2", "--val-images", "2")))
    metrics = json.loads(full.output[full.output.index("{"):])
    assert metrics["final_step"] == 4 and np.isfinite(metrics["loss"]) and np.isfinite(metrics["val_psnr"])
    assert metrics["val_images"] == 2 and metrics["val_psnr_lq"] > 15
    ckpts = sorted(p.name for p in (tmp_path / "full" / "checkpoints").iterdir())
    assert ckpts == ["latest", "step_00000002", "step_00000004"]
    config = json.loads((tmp_path / "full" / "checkpoints" / "step_00000004" / "config.json").read_text())
    assert config["format"] == "daclip-restore/1" and config["unet"]["context_dim"] is None

    # a run killed right after its step-2 checkpoint resumes to exactly the same weights
    real_save = runtime_loop.save_checkpoint

    class Killed(Exception):
        pass

    def save_then_die(folder, *args, **kwargs):
        real_save(folder, *args, **kwargs)
        raise Killed

    monkeypatch.setattr(runtime_loop, "save_checkpoint", save_then_die)
    killed = runner.invoke(train_restore_cli, _train_args(dataset, tmp_path / "resumed"))
    assert isinstance(killed.exception, Killed)
    assert (tmp_path / "resumed" / "checkpoints" / "latest").read_text().strip() == "step_00000002"
    monkeypatch.setattr(runtime_loop, "save_checkpoint", real_save)
    _ok(runner.invoke(train_restore_cli, _train_args(dataset, tmp_path / "resumed", "--resume")))
    a = load_file(tmp_path / "full" / "checkpoints" / "step_00000004" / "model.safetensors")
    b = load_file(tmp_path / "resumed" / "checkpoints" / "step_00000004" / "model.safetensors")
    assert a.keys() == b.keys() and any(k.startswith("ema.") for k in a)
    for k in a:
        assert torch.equal(a[k], b[k]), k

    # restore: same size out, deterministic for a seed, tiled on request
    args = ["restore", str(dataset["photo"]), "--ckpt", str(tmp_path / "full"), "--steps", "2", "--seed", "1",
            "--tile", "32", "--overlap", "8"]
    _ok(runner.invoke(daclip_cli, [*args, "--out", str(tmp_path / "r1")]))
    _ok(runner.invoke(daclip_cli, [*args, "--out", str(tmp_path / "r2")]))
    src = cv2.imread(str(dataset["photo"]))
    out1 = cv2.imread(str(tmp_path / "r1" / "small.png"))
    assert out1.shape == src.shape
    assert np.array_equal(out1, cv2.imread(str(tmp_path / "r2" / "small.png")))

    # evaluate-restore: metrics per degradation, the LQ baseline beside them, one grid each
    ev = tmp_path / "eval"
    _ok(runner.invoke(daclip_cli, ["evaluate-restore", *[a for m in dataset["manifests"] for a in ("--shards", m)],
                                   "--ckpt", str(tmp_path / "full"), "--out", str(ev), "--steps", "2",
                                   "--limit", "2", "--grid-rows", "2"]))
    report = json.loads((ev / "metrics.json").read_text())
    assert set(report["per_degradation"]) == {"noisy", "jpeg-compressed"}
    for row in report["per_degradation"].values():
        assert 1 <= row["n"] <= 2 and np.isfinite(row["psnr"]) and -1 <= row["ssim"] <= 1
        assert row["lq_psnr"] > 15
    assert report["lpips"].startswith("LPIPS skipped") or report["lpips"] == "ok"
    grid = cv2.imread(str(ev / "grid_noisy.png"))
    assert grid is not None and grid.shape[1] > 3 * 100  # three panels side by side


def test_daclip_conditioned_training_and_restore(dataset, tmp_path):
    """A real (tiny, randomly initialised) DA-CLIP conditions the U-Net end to end."""
    from daclip.controller.model import DaCLIPConfig, build, state_for_checkpoint
    from daclip.runtime.checkpoint import save_checkpoint

    encoder = build(DaCLIPConfig(model="tiny", pretrained="none"))
    save_checkpoint(tmp_path / "daclip" / "checkpoints" / "step_0", state_for_checkpoint(encoder),
                    {"model": encoder.config.to_dict()})
    args = _train_args(dataset, tmp_path / "cond", "--steps", "2")
    args[args.index("--no-daclip")] = "--daclip"
    args.insert(args.index("--daclip") + 1, str(tmp_path / "daclip"))
    _ok(CliRunner().invoke(train_restore_cli, args))
    config = json.loads((tmp_path / "cond" / "checkpoints" / "step_00000002" / "config.json").read_text())
    assert config["unet"]["context_dim"] == encoder.embed_dim
    assert config["daclip"] == str((tmp_path / "daclip").resolve())
    _ok(CliRunner().invoke(daclip_cli, ["restore", str(dataset["photo"]), "--ckpt", str(tmp_path / "cond"),
                                        "--steps", "2", "--out", str(tmp_path / "r")]))
    assert cv2.imread(str(tmp_path / "r" / "small.png")).shape == cv2.imread(str(dataset["photo"])).shape


def test_train_restore_needs_a_conditioning_choice(dataset, tmp_path):
    args = [a for a in _train_args(dataset, tmp_path / "x") if a != "--no-daclip"]
    result = CliRunner().invoke(train_restore_cli, args)
    assert result.exit_code != 0 and "--no-daclip" in result.output


def test_x0_prediction_recipe_trains_and_restores(dataset, tmp_path):
    """--prediction x0 --loss x0 (the CPU-budget recipe) is stored in the checkpoint and used by restore."""
    run = tmp_path / "x0"
    _ok(CliRunner().invoke(train_restore_cli, _train_args(
        dataset, run, "--steps", "2", "--prediction", "x0", "--loss", "x0", "--warmup", "1", "--grad-clip", "1.0",
        "--ema-every", "1")))
    config = json.loads((run / "checkpoints" / "step_00000002" / "config.json").read_text())
    assert config["sde"]["prediction"] == "x0" and config["train"]["loss"] == "x0"
    for clip in ("--clip-x0", "--no-clip-x0"):
        _ok(CliRunner().invoke(daclip_cli, ["restore", str(dataset["photo"]), "--ckpt", str(run), "--steps", "3",
                                            clip, "--out", str(tmp_path / clip)]))
        assert cv2.imread(str(tmp_path / clip / "small.png")).shape == cv2.imread(str(dataset["photo"])).shape
    bad = CliRunner().invoke(train_restore_cli, _train_args(dataset, run, "--resume", "--prediction", "noise"))
    assert bad.exit_code != 0 and "predicts 'x0'" in bad.output


def test_unknown_loss_is_refused():
    with pytest.raises(ValueError, match="loss"):
        TrainConfig(shards=("m",), loss="l2")
