"""daclip.convert.command: ``daclip convert``, its errors, and converted weights in every command.

A converted tiny pair (the reference fixtures) restores a photo end to end with the reference
recipe by default, classifies, conditions a new ``train-restore`` run and starts a fine-tune.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from daclip.cli import cli
from daclip.restoration.train_command import command as train_restore_cli

from .conftest import FIXTURES

torch.set_num_threads(1)


def _run(args, code=0):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == code, result.output
    return result


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pair")
    _run(["convert", str(FIXTURES / "daclip_tiny.pt"), "--out", str(root / "daclip"),
          "--config", str(FIXTURES / "daclip_tiny_config.json")])
    _run(["convert", str(FIXTURES / "unet_tiny.pth"), "--out", str(root / "unet"), "--daclip", str(root / "daclip")])
    return {"daclip": root / "daclip", "unet": root / "unet", "root": root}


def test_folders_record_the_source(pair):
    config = json.loads((pair["daclip"] / "config.json").read_text())
    digest = hashlib.sha256((FIXTURES / "daclip_tiny.pt").read_bytes()).hexdigest()
    assert config["source"]["sha256"] == digest and config["source"]["kind"] == "daclip"
    assert config["source"]["original_config"] == json.loads((FIXTURES / "daclip_tiny_config.json").read_text())
    unet = json.loads((pair["unet"] / "config.json").read_text())
    assert unet["source"]["variant"] == "daclip-sde" and unet["daclip"] == str(pair["daclip"].resolve())
    assert unet["source"]["original_config"] == json.loads((FIXTURES / "unet_tiny_config.json").read_text())
    assert sorted(p.name for p in pair["unet"].iterdir()) == ["config.json", "model.safetensors"]


@pytest.mark.parametrize("variant", ["bare", "module", "state_dict"])
def test_training_format_variants_give_the_same_weights(pair, tmp_path, variant):
    from safetensors.torch import load_file

    ck = torch.load(FIXTURES / "daclip_tiny.pt", weights_only=True)["state_dict"]
    bare = {k[len("module."):]: v for k, v in ck.items()}
    obj = {"bare": bare, "module": ck, "state_dict": {"state_dict": bare, "epoch": 3}}[variant]
    torch.save(obj, tmp_path / "src.pt")
    _run(["convert", str(tmp_path / "src.pt"), "--out", str(tmp_path / "out"),
          "--config", str(FIXTURES / "daclip_tiny_config.json")])
    ours, ref = load_file(tmp_path / "out" / "model.safetensors"), load_file(pair["daclip"] / "model.safetensors")
    assert ours.keys() == ref.keys() and all(torch.equal(ours[k], ref[k]) for k in ref)


def test_bad_files_get_one_line(tmp_path):
    cases = {
        "other.pt": {"encoder.weight": torch.zeros(2, 2), "head.bias": torch.zeros(2)},
        "pickle.pt": {"not": datetime.date(2024, 1, 1)},  # refused by weights_only unpickling
        "text.pt": None,
        "truncated.pth": {**{k: v for k, v in torch.load(FIXTURES / "unet_tiny.pth", weights_only=True).items()
                             if k != "ups.0.2.fn.norm.g"}, "extra.weight": torch.zeros(1)},
    }
    for name, obj in cases.items():
        path = tmp_path / name
        if obj is None:
            path.write_text("hello")
        else:
            torch.save(obj, path)
        result = _run(["convert", str(path), "--out", str(tmp_path / "out")], code=1)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: ") and "Traceback" not in result.output, result.output
    assert "encoder.weight" in _run(["convert", str(tmp_path / "other.pt"), "--out", str(tmp_path / "o")], 1).output
    out = _run(["convert", str(tmp_path / "truncated.pth"), "--out", str(tmp_path / "o")], 1).output
    assert "missing ups.0.2.norm.g" in out and "unexpected extra.weight" in out
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({**json.loads((FIXTURES / "unet_tiny_config.json").read_text()), "nf": 64}))
    out = _run(["convert", str(FIXTURES / "unet_tiny.pth"), "--out", str(tmp_path / "o"), "--config", str(wrong)], 1)
    assert "nf=64" in out.output and not (tmp_path / "o").exists()


def test_restore_classify_and_evaluate_with_converted_weights(pair, photos, daclip_data, tmp_path):
    """The default recipe of a converted pair (posterior, no clamp); tiles in bounded memory."""
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), cv2.cvtColor(photos["chelsea"][:150, :230], cv2.COLOR_RGB2BGR))
    _run(["restore", str(photo), "--out", str(tmp_path / "out"), "--ckpt", str(pair["unet"]), "--steps", "3",
          "--tile", "96", "--overlap", "16", "--device", "cpu"])
    restored = cv2.imread(str(tmp_path / "out" / "photo.png"))
    assert restored.shape == (150, 230, 3)
    result = _run(["classify", str(photo), "--ckpt", str(pair["daclip"]), "--json", "--device", "cpu"])
    probs = json.loads(result.output)[0]["probabilities"]
    assert abs(sum(probs.values()) - 1) < 1e-4
    val = str(daclip_data["val"])
    report = json.loads(_run(["evaluate", "--shards", val, "--ckpt", str(pair["daclip"]), "--out",
                              str(tmp_path / "eval"), "--json", "--device", "cpu", "--max-samples", "8"]).output)
    assert report
    _run(["evaluate-restore", "--shards", val, "--split", "", "--ckpt", str(pair["unet"]), "--out",
          str(tmp_path / "eval-restore"), "--steps", "2", "--limit", "1", "--no-lpips", "--device", "cpu"])
    metrics = json.loads((tmp_path / "eval-restore" / "metrics.json").read_text())
    assert metrics["settings"]["sampling"]["clip_x0"] is False and metrics["per_degradation"]


def test_restore_defaults_are_the_reference_recipe(pair):
    from daclip.loading import load_restoration
    from daclip.restoration.restore import SamplingConfig

    loaded = load_restoration(pair["unet"])
    recipe = SamplingConfig(sampler=None, clip_x0=None).resolved(loaded.config.sampling)
    assert (recipe.sampler, recipe.clip_x0, recipe.steps) == ("posterior", False, None)
    sde = loaded.config.sde
    assert (sde.T, sde.eps, sde.schedule) == (100, 0.005, "cosine") and abs(sde.max_sigma - 50 / 255) < 1e-12


@pytest.mark.slow
def test_train_restore_on_a_converted_daclip_and_fine_tune_a_converted_unet(pair, daclip_data, tmp_path):
    shards = ["--shards", str(daclip_data["train"]), "--split", ""]
    small = ["--steps", "2", "--save-every", "2", "--batch-size", "2", "--patch", "32", "--workers", "1"]
    runner = CliRunner()
    new = runner.invoke(train_restore_cli, [*shards, "--daclip", str(pair["daclip"]), "--model", "tiny", *small,
                                            "--out", str(tmp_path / "new")])
    assert new.exit_code == 0, new.output
    # fine-tune: the converted U-Net becomes a run's first checkpoint, then --resume continues from it
    run = tmp_path / "finetune"
    _run(["convert", str(FIXTURES / "unet_tiny.pth"), "--out", str(run / "checkpoints" / "step_00000000"),
          "--daclip", str(pair["daclip"])])
    tuned = runner.invoke(train_restore_cli, [*shards, "--daclip", str(pair["daclip"]), *small, "--resume",
                                              "--out", str(run)])
    assert tuned.exit_code == 0, tuned.output
    config = json.loads((run / "checkpoints" / "step_00000002" / "config.json").read_text())
    assert config["unet"]["prompt_kind"] == "gate" and config["sampling"]["clip_x0"] is False
    summary = json.loads(tuned.output[tuned.output.index("{"):])
    assert summary["final_step"] == 2 and np.isfinite(summary["loss"])


@pytest.mark.slow
def test_fine_tune_a_converted_daclip(daclip_data, tmp_path):
    from daclip.controller.train_command import command as train_daclip_cli

    run = tmp_path / "ft"
    _run(["convert", str(FIXTURES / "daclip_tiny.pt"), "--out", str(run / "checkpoints" / "step_00000000"),
          "--config", str(FIXTURES / "daclip_tiny_config.json")])
    result = CliRunner().invoke(train_daclip_cli, ["--shards", str(daclip_data["train"]), "--out", str(run),
                                                   "--resume", "--steps", "2", "--save-every", "2",
                                                   "--batch-size", "4", "--workers", "1", "--warmup", "0"])
    assert result.exit_code == 0, result.output
    config = json.loads((run / "checkpoints" / "step_00000002" / "config.json").read_text())["model"]
    assert config["control_order"] == "reversed" and config["clip_config"]["vision_cfg"]["head_width"] == 32
