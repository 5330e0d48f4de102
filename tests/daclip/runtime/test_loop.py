"""Both trainers on the one runtime: the same flags, run layout, pruning, refusal and resume."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from daclip.controller.train_command import command as train_daclip
from daclip.restoration.train_command import command as train_restore

torch.set_num_threads(1)

MICRO_UNET = {"unet": {"nf": 8, "ch_mult": [1, 2], "dim_head": 8, "num_prompts": 4},
              "train": {"patch": 16, "batch_size": 2, "lr": 0.001}}


@pytest.fixture(scope="module")
def trainers(daclip_data, tmp_path_factory):
    micro = tmp_path_factory.mktemp("micro") / "micro.json"
    micro.write_text(json.dumps(MICRO_UNET))
    data = ["--shards", str(daclip_data["train"]), "--val", str(daclip_data["val"])]
    return {
        "train-daclip": (train_daclip, [*data, "--model", "tiny", "--pretrained", "none", "--batch-size", "4",
                                        "--lr", "1e-3", "--warmup", "1"]),
        "train-restore": (train_restore, [*data, "--no-daclip", "--model", str(micro), "--split", "",
                                          "--val-split", "", "--val-images", "2", "--val-steps", "2"]),
    }


def _invoke(command, args):
    result = CliRunner().invoke(command, args)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


SHARED = ["--steps", "4", "--save-every", "2", "--keep", "1", "--log-every", "1", "--workers", "0", "--seed", "3",
          "--device", "cpu"]


@pytest.mark.parametrize("name", ["train-daclip", "train-restore"])
def test_one_run_layout_for_both_trainers(trainers, name, tmp_path):
    command, args = trainers[name]
    out = tmp_path / "run"
    result = _invoke(command, [*args, *SHARED, "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # stdout holds the summary alone: progress and validation lines go to stderr
    assert summary["final_step"] == 4 and summary["start_step"] == 0 and not summary["stopped_by_time_limit"]
    # one layout: config.json, metrics.jsonl, checkpoints/step_NNNNNNNN + latest; --keep 1 pruned step 2
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["latest", "step_00000004"]
    assert (out / "checkpoints" / "latest").read_text().strip() == "step_00000004"
    config = json.loads((out / "config.json").read_text())
    assert config["trainer"] == name and config["run"]["seed"] == 3 and config["resolved"]["save_every"] == 2
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == [1, 2, 3, 4]
    assert all({"lr", "samples_per_s", "steps_per_s"} <= set(r) for r in rows if "loss" in r)
    assert [r["step"] for r in rows if "loss" not in r] == [2, 4]  # validation at every checkpoint

    # a second run into the same folder is refused, unless --resume or --overwrite
    again = CliRunner().invoke(command, [*args, *SHARED, "--out", str(out)])
    assert again.exit_code == 1 and "--resume" in again.output and "--overwrite" in again.output
    assert "Traceback" not in again.output
    done = _invoke(command, [*args, *SHARED, "--out", str(out), "--resume"])
    assert json.loads(done.stdout)["final_step"] == 4  # nothing left to do
    fresh = _invoke(command, [*args, *SHARED, "--steps", "2", "--out", str(out), "--overwrite"])
    assert fresh.exit_code == 0
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["latest", "step_00000002"]


@pytest.mark.parametrize("name", ["train-daclip", "train-restore"])
def test_time_budget_and_stop_at_resume_exactly_for_both(trainers, name, tmp_path):
    command, args = trainers[name]
    flags = [*args, "--steps", "4", "--save-every", "2", "--workers", "0", "--device", "cpu"]
    _invoke(command, [*flags, "--out", str(tmp_path / "whole")])
    stopped = _invoke(command, [*flags, "--stop-at", "2", "--out", str(tmp_path / "parts")])
    assert json.loads(stopped.stdout)["final_step"] == 2
    resumed = _invoke(command, [*flags, "--resume", "--out", str(tmp_path / "parts")])
    assert json.loads(resumed.stdout)["start_step"] == 2
    whole = load_file(tmp_path / "whole" / "checkpoints" / "step_00000004" / "model.safetensors")
    parts = load_file(tmp_path / "parts" / "checkpoints" / "step_00000004" / "model.safetensors")
    assert whole.keys() == parts.keys()
    assert all(torch.equal(whole[k], parts[k]) for k in whole)
    budget = _invoke(command, [*flags, "--max-minutes", "0.0001", "--out", str(tmp_path / "budget")])
    summary = json.loads(budget.stdout)
    assert summary["stopped_by_time_limit"] and summary["final_step"] == 1
    assert (tmp_path / "budget" / "checkpoints" / "latest").read_text().strip() == "step_00000001"


@pytest.mark.parametrize("name", ["train-daclip", "train-restore"])
def test_loader_workers_give_the_same_run(trainers, name, tmp_path):
    """A persistent loader worker reads what the main process reads: same weights either way."""
    command, args = trainers[name]
    flags = [*args, "--steps", "3", "--save-every", "2", "--device", "cpu", "--threads", "1"]
    _invoke(command, [*flags, "--workers", "0", "--out", str(tmp_path / "w0")])
    _invoke(command, [*flags, "--workers", "1", "--out", str(tmp_path / "w1")])
    a = load_file(tmp_path / "w0" / "checkpoints" / "step_00000003" / "model.safetensors")
    b = load_file(tmp_path / "w1" / "checkpoints" / "step_00000003" / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_second_run_on_the_same_folder_is_refused_and_dead_runs_are_cleaned(trainers, tmp_path):
    import os

    from pipelines.common.locks import output_lock

    command, args = trainers["train-daclip"]
    out = tmp_path / "run"
    with output_lock(out):  # another run holds the folder
        busy = CliRunner().invoke(command, [*args, "--steps", "1", "--workers", "0", "--out", str(out)])
    assert busy.exit_code == 1 and str(os.getpid()) in busy.output and "Traceback" not in busy.output
    stale = out / "checkpoints" / ".step_00000001.x1y2z3"  # what a run killed mid-checkpoint leaves
    stale.mkdir(parents=True)
    (stale / "model.safetensors").write_bytes(b"half")
    done = _invoke(command, [*args, "--steps", "1", "--workers", "0", "--out", str(out)])
    assert done.exit_code == 0 and not stale.exists()
