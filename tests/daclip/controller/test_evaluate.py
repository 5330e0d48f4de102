"""daclip evaluate (accuracy, confusion matrix, content cosines) of the short train-daclip run."""

from __future__ import annotations

import json

import cv2
import torch

from daclip.cli import cli as daclip_cli
from degradations import NAMES
from pipelines.manifest.schema import read_manifest
from tests.daclip.clirun import invoke_ok

torch.set_num_threads(1)


def test_evaluate_cli(daclip_run, daclip_data, tmp_path):
    out = tmp_path / "eval"
    result = invoke_ok(daclip_cli, ["evaluate", "--shards", str(daclip_data["val"]), "--ckpt", str(daclip_run),
                                  "--out", str(out), "--json"])
    report = json.loads(result.output)
    n_val = len(read_manifest(daclip_data["val"]))
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
    table = invoke_ok(daclip_cli, ["evaluate", "--shards", str(daclip_data["val"]), "--ckpt", str(daclip_run)]).output
    lines = table.splitlines()
    assert "zero-shot" in table and any(line.startswith("all ") for line in lines)
    assert any(line.startswith("per type over") for line in lines) and lines[-1].startswith("exact-set accuracy")
    assert report["mixture_samples"] == report["unknown_samples"] == 0 and report["single_samples"] == n_val
