"""Multi-label DA-CLIP on mixed shards (tests/daclip/mixed_data.py): training with bce, the loader's
multi-hot targets, classify's threshold, evaluate's mixture / unknown / LQ-only report."""

from __future__ import annotations

import json
import math

import cv2
import pytest
import torch
from click.testing import CliRunner

import daclip
from daclip.cli import cli as daclip_cli
from daclip.cli import train_daclip
from daclip.controller.classify import classify_images
from daclip.controller.factory import get_tokenizer
from daclip.controller.model import DaCLIPConfig, build
from daclip.controller.trainer import resolve_degradation_loss
from daclip.data.loaders import eval_loader
from daclip.data.shards import load_index
from degradations import NAMES
from degradations.labels import multi_hot
from tests.daclip.clirun import invoke_ok
from tests.daclip.mixed_data import crops, write_labelled_shards

torch.set_num_threads(1)
LABELS = ["noisy", "hazy", "hazy+noisy", "unknown"]
TRAIN_ARGS = ["--model", "tiny", "--pretrained", "none", "--steps", "4", "--batch-size", "8", "--lr", "1e-3",
              "--warmup", "1", "--workers", "0", "--seed", "0"]


@pytest.fixture(scope="module")
def mixed(photos, tmp_path_factory) -> dict:
    """8 crops x (noisy, hazy, hazy+noisy, unknown) with HQ, and 4 LQ-only crops x (noisy, unknown)."""
    root = tmp_path_factory.mktemp("mixed")
    images = crops(photos, size=64, per_photo=2)
    return {
        "images": images,
        "train": write_labelled_shards(images, LABELS, root / "data", root / "manifests" / "mixed.parquet"),
        "lq_only": write_labelled_shards(images[:4], ["noisy", "unknown"], root / "ingested",
                                         root / "manifests" / "lq_only.parquet", lq_only=True),
    }


@pytest.fixture(scope="module")
def mixed_run(mixed, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "mixed"
    result = invoke_ok(train_daclip, ["--shards", str(mixed["train"]), "--val", str(mixed["train"]), *TRAIN_ARGS,
                                      "--out", str(out)])
    return out, json.loads(result.output.strip().splitlines()[-1])


def test_loader_yields_multi_hot_targets_and_no_label_for_mixtures(mixed):
    index = load_index(mixed["train"])
    assert (index.num_samples, index.num_mixtures, index.num_unknown, index.num_with_hq) == (32, 8, 8, 32)
    loader = eval_loader(index, image_size=64, tokenizer=get_tokenizer("tiny"), batch_size=32, with_hq=True)
    batch = next(iter(loader))
    for row, key in enumerate(batch["key"]):
        label = index.samples[key].degradation
        assert batch["target"][row].tolist() == multi_hot(label)
        assert int(batch["label"][row]) == (NAMES.index(label) if label in NAMES else -1)
    assert batch["has_hq"].all()
    lq_only = load_index(mixed["lq_only"])
    assert lq_only.num_with_hq == 0
    lq_batch = next(iter(eval_loader(lq_only, image_size=64, tokenizer=get_tokenizer("tiny"), batch_size=8,
                                     with_hq=True)))
    assert len(lq_batch["key"]) == 8 and not lq_batch["has_hq"].any(), "LQ-only rows are read, not skipped"


def test_training_on_mixtures_picks_bce_and_gives_a_finite_loss(mixed_run):
    out, summary = mixed_run
    assert summary["final_step"] == 4 and math.isfinite(summary["loss"])
    assert 0.0 <= summary["val_accuracy"] <= 1.0
    config = json.loads((out / "config.json").read_text())
    assert config["task"]["train"]["degradation_loss"] == "bce"
    assert config["task"]["model"]["multi_label"] is True
    model = daclip.load(out)
    assert model.probability_kind == "sigmoid" and math.isfinite(float(model.class_bias.detach()))


def test_single_type_losses_on_mixtures_are_refused_in_one_line(mixed, tmp_path):
    result = CliRunner().invoke(train_daclip, ["--shards", str(mixed["train"]), *TRAIN_ARGS, "--degradation-loss",
                                               "ce", "--out", str(tmp_path / "ce")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "8 of 32 training rows are mixtures: use --degradation-loss bce" in result.output


def test_auto_keeps_ce_on_single_type_data(daclip_run, daclip_data, mixed):
    config = json.loads((daclip_run / "config.json").read_text())
    assert config["task"]["train"]["degradation_loss"] == "ce"
    assert config["task"]["model"]["multi_label"] is False
    model = daclip.load(daclip_run)
    assert model.probability_kind == "softmax" and not hasattr(model, "class_bias")
    single = load_index(daclip_data["train"])
    assert resolve_degradation_loss("auto", single) == "ce"
    assert resolve_degradation_loss("auto", load_index(mixed["train"])) == "bce"
    assert resolve_degradation_loss("auto", load_index(mixed["train"]), resumed_multi_label=False) == "ce"
    with pytest.raises(ValueError, match="multi-label model"):
        resolve_degradation_loss("ce", single, resumed_multi_label=True)


def test_classify_lists_every_type_above_the_threshold(mixed, tmp_path):
    model = build(DaCLIPConfig(model="tiny", pretrained="none", multi_label=True)).eval()
    path = tmp_path / "mixed.png"
    cv2.imwrite(str(path), cv2.cvtColor(mixed["images"][0], cv2.COLOR_RGB2BGR))
    (base,) = classify_images(model, [path], torch.device("cpu"))
    # move the bias so that exactly the two most likely types have sigmoid > 0.5
    logits = torch.logit(torch.tensor([base.probabilities[name] for name in NAMES], dtype=torch.float64))
    top = logits.sort(descending=True).values
    with torch.no_grad():
        model.class_bias += float(-(top[1] + top[2]) / 2)
    (pred,) = classify_images(model, [path], torch.device("cpu"))
    ranked = sorted(NAMES, key=lambda name: -pred.probabilities[name])
    assert pred.types == ranked[:2] and pred.degradation == ranked[0]
    assert pred.probability_kind == "sigmoid" and pred.threshold == 0.5
    assert pred.probabilities[ranked[1]] > 0.5 > pred.probabilities[ranked[2]]
    (low,) = classify_images(model, [path], torch.device("cpu"), threshold=0.0)
    assert low.types == ranked
    single = build(DaCLIPConfig(model="tiny", pretrained="none")).eval()
    (soft,) = classify_images(single, [path], torch.device("cpu"))
    assert soft.probability_kind == "softmax" and soft.threshold == 0.25
    assert abs(sum(soft.probabilities.values()) - 1) < 1e-4
    assert soft.types == [name for name in sorted(NAMES, key=lambda n: -soft.probabilities[n])
                          if soft.probabilities[name] >= 0.25]


def test_classify_cli_threshold_on_a_multi_label_run(mixed_run, mixed, tmp_path):
    out, _ = mixed_run
    path = tmp_path / "img.png"
    cv2.imwrite(str(path), cv2.cvtColor(mixed["images"][1], cv2.COLOR_RGB2BGR))
    (pred,) = json.loads(invoke_ok(daclip_cli, ["classify", str(path), "--ckpt", str(out), "--json",
                                                "--threshold", "0"]).output)
    assert pred["probability_kind"] == "sigmoid" and len(pred["types"]) == len(NAMES)
    probs = [pred["probabilities"][name] for name in pred["types"]]
    assert probs == sorted(probs, reverse=True) and pred["degradation"] == pred["types"][0]
    text = invoke_ok(daclip_cli, ["classify", str(path), "--ckpt", str(out), "--threshold", "1"]).output
    assert text.startswith(f"{path}: {pred['degradation']} (") and "sigmoid >= 1.00: none" in text


def test_evaluate_reports_mixtures_and_unknown_rows(mixed_run, mixed):
    out, _ = mixed_run
    report = json.loads(invoke_ok(daclip_cli, ["evaluate", "--shards", str(mixed["train"]), "--ckpt", str(out),
                                               "--json", "--threshold", "0.5"]).output)
    assert (report["samples"], report["single_samples"], report["mixture_samples"], report["unknown_samples"]) == (
        32, 16, 8, 8)
    support = {row["degradation"]: row["support"] for row in report["per_type"]}
    assert support["hazy"] == support["noisy"] == 16, "a mixture row counts for each of its types"
    mixtures = report["mixtures"]
    assert [m["degradation"] for m in mixtures["by_mixture"]] == ["hazy+noisy"]
    assert {row["degradation"]: row["support"] for row in mixtures["per_type"]}["hazy"] == 8
    assert sum(report["unknown"]["top1"].values()) == 8 and report["threshold"] == 0.5
    assert sum(map(sum, report["confusion"])) == 16, "the confusion matrix holds the single-type rows"
    assert report["content_samples"] == 32 and isinstance(report["cosine_hq_controlled"], float)
    table = invoke_ok(daclip_cli, ["evaluate", "--shards", str(mixed["train"]), "--ckpt", str(out)]).output
    assert "mix recall" in table and "8 mixture row(s)" in table and "unknown: 8 row(s)" in table


def test_evaluate_on_lq_only_rows_skips_content_metrics(mixed_run, mixed, tmp_path):
    out, _ = mixed_run
    report = json.loads(invoke_ok(daclip_cli, ["evaluate", "--shards", str(mixed["lq_only"]), "--ckpt", str(out),
                                               "--json", "--out", str(tmp_path / "eval")]).output)
    assert report["samples"] == 8 and report["unknown_samples"] == 4 and report["single_samples"] == 4
    assert report["content_samples"] == 0 and report["content_metrics"].startswith("skipped")
    for key in ("cosine_hq_controlled", "cosine_hq_plain", "cosine_other_hq_controlled", "cosine_other_hq_plain"):
        assert report[key] is None
    assert all(row["cosine_hq_controlled"] is None for row in report["per_degradation"])
    assert isinstance(report["accuracy"], float) and (tmp_path / "eval" / "confusion.png").exists()
    table = invoke_ok(daclip_cli, ["evaluate", "--shards", str(mixed["lq_only"]), "--ckpt", str(out)]).output
    assert "content metrics skipped" in table
