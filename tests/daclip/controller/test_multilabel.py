"""Multi-label DA-CLIP on data made by the pipeline (tests/daclip/mixed_data.py: ``synthesize`` of
single types and mixtures, ``ingest`` of LQ-only ``noisy`` and ``unknown`` photos): training with
bce, the loader's multi-hot targets, classify's threshold, evaluate's mixture / unknown / LQ-only report."""

from __future__ import annotations

import json
import logging
import math

import cv2
import pytest
import torch
from click.testing import CliRunner

import daclip
import degradations
from daclip.cli import cli as daclip_cli
from daclip.controller.classify import classify_images
from daclip.controller.factory import get_tokenizer
from daclip.controller.model import DaCLIPConfig, build
from daclip.controller.train_command import command as train_daclip
from daclip.controller.trainer import resolve_degradation_loss
from daclip.data.loaders import eval_loader
from daclip.data.shards import load_index
from degradations import NAMES
from degradations.labels import multi_hot
from tests.daclip.clirun import invoke_ok
from tests.daclip.mixed_data import crops, ingest_lq_only, synthesize_labelled

torch.set_num_threads(1)
SYNTH_TASKS = ["noisy", "hazy", "hazy+noisy"]
TRAIN_ARGS = ["--model", "tiny", "--pretrained", "none", "--steps", "4", "--batch-size", "8", "--lr", "1e-3",
              "--warmup", "1", "--workers", "0", "--seed", "0"]


@pytest.fixture(scope="module")
def mixed(photos, tmp_path_factory) -> dict:
    """``train``: 8 crops x (noisy, hazy, hazy+noisy) synthesized with HQ (24 rows); ``lq_only``: 4 noisy
    and 4 unlabelled (``my-night-shots``: unknown) degraded crops ingested without GT (8 rows)."""
    root = tmp_path_factory.mktemp("mixed")
    images = crops(photos, size=64, per_photo=2)
    noisy = [degradations.degrade(img, "noisy", seed=i)[0] for i, img in enumerate(images[:4])]
    night = [degradations.degrade(img, "low-light", seed=i)[0] for i, img in enumerate(images[4:])]
    return {
        "images": images,
        "train": synthesize_labelled(images, SYNTH_TASKS, root / "synthesized"),
        "lq_only": ingest_lq_only({"noisy": noisy, "my-night-shots": night}, root / "ingested"),
    }


def _shards(mixed: dict) -> list[str]:
    """``--shards`` of both manifests: 32 rows, 8 mixtures, 4 unknown, 8 without HQ."""
    return ["--shards", str(mixed["train"]), "--shards", str(mixed["lq_only"])]


class _Messages(logging.Handler):
    """The INFO+ messages of one logger while a module-scoped fixture runs (caplog is per test)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def mixed_run(mixed, tmp_path_factory):
    """4 bce steps on both manifests; returns the run folder, its summary and the trainer's log messages."""
    out = tmp_path_factory.mktemp("runs") / "mixed"
    logger, handler = logging.getLogger("daclip.controller.trainer"), _Messages()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        result = invoke_ok(train_daclip, [*_shards(mixed), "--val", str(mixed["train"]), *TRAIN_ARGS,
                                          "--out", str(out)])
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return out, json.loads(result.stdout), handler.messages


def test_loader_yields_multi_hot_targets_and_no_label_for_mixtures(mixed):
    synthesized, lq_only = load_index(mixed["train"]), load_index(mixed["lq_only"])
    assert (synthesized.num_samples, synthesized.num_mixtures, synthesized.num_unknown,
            synthesized.num_with_hq) == (24, 8, 0, 24)
    assert (lq_only.num_samples, lq_only.num_mixtures, lq_only.num_unknown, lq_only.num_with_hq) == (8, 0, 4, 0)
    index = load_index([mixed["train"], mixed["lq_only"]])
    loader = eval_loader(index, image_size=64, tokenizer=get_tokenizer("tiny"), batch_size=32, with_hq=True)
    batch = next(iter(loader))
    assert len(batch["key"]) == 32, "LQ-only rows are read, not skipped"
    labels = []
    for row, key in enumerate(batch["key"]):
        info = index.samples[key]
        labels.append(info.degradation)
        assert batch["target"][row].tolist() == multi_hot(info.degradation)
        assert int(batch["label"][row]) == (NAMES.index(info.degradation) if info.degradation in NAMES else -1)
        assert bool(batch["has_hq"][row]) == info.has_hq == (key in synthesized.samples)
    assert sorted(set(labels)) == ["hazy", "hazy+noisy", "noisy", "unknown"] and labels.count("unknown") == 4
    unknown = [row for row, label in enumerate(labels) if label == "unknown"]
    assert not batch["target"][unknown].any() and (batch["label"][unknown] == -1).all()


def test_training_on_mixtures_picks_bce_and_gives_a_finite_loss(mixed_run):
    out, summary, messages = mixed_run
    assert summary["final_step"] == 4 and math.isfinite(summary["loss"])
    assert "8 of 32 training samples are mixtures: degradation loss bce (multi-hot targets)" in messages
    assert "4 of 32 training samples are labelled unknown: they train no degradation term" in messages
    assert 0.0 <= summary["val_accuracy"] <= 1.0
    config = json.loads((out / "config.json").read_text())
    assert config["task"]["train"]["degradation_loss"] == "bce"
    assert config["task"]["model"]["multi_label"] is True
    model = daclip.load(out)
    assert model.probability_kind == "sigmoid" and math.isfinite(float(model.class_bias.detach()))


def test_single_type_losses_on_mixtures_are_refused_in_one_line(mixed, tmp_path):
    result = CliRunner().invoke(train_daclip, [*_shards(mixed), *TRAIN_ARGS, "--degradation-loss", "ce",
                                               "--out", str(tmp_path / "ce")])
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
    assert resolve_degradation_loss("auto", load_index(mixed["lq_only"])) == "ce", "unknown rows are no mixtures"
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
    out, *_ = mixed_run
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
    out, *_ = mixed_run
    report = json.loads(invoke_ok(daclip_cli, ["evaluate", *_shards(mixed), "--ckpt", str(out), "--json",
                                               "--threshold", "0.5"]).output)
    assert (report["samples"], report["single_samples"], report["mixture_samples"], report["unknown_samples"]) == (
        32, 20, 8, 4)
    support = {row["degradation"]: row["support"] for row in report["per_type"]}
    assert (support["hazy"], support["noisy"]) == (16, 20), "a mixture row counts for each of its types"
    mixtures = report["mixtures"]
    assert [m["degradation"] for m in mixtures["by_mixture"]] == ["hazy+noisy"]
    assert {row["degradation"]: row["support"] for row in mixtures["per_type"]}["hazy"] == 8
    assert sum(report["unknown"]["top1"].values()) == 4 and report["threshold"] == 0.5
    assert sum(map(sum, report["confusion"])) == 20, "the confusion matrix holds the single-type rows"
    assert report["content_samples"] == 24 and isinstance(report["cosine_hq_controlled"], float)
    table = invoke_ok(daclip_cli, ["evaluate", *_shards(mixed), "--ckpt", str(out)]).output
    assert "mix recall" in table and "8 mixture row(s)" in table and "unknown: 4 row(s)" in table


def test_evaluate_on_lq_only_rows_skips_content_metrics(mixed_run, mixed, tmp_path):
    out, *_ = mixed_run
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
