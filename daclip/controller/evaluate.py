"""``daclip evaluate``: degradation accuracy, multi-label scores, confusion matrix and content cosine on a manifest.

For every sample the manifest lists (status ok; one split with ``--split``), with CLIP's val
transform (resize + centre crop). Each row's label is one type, a mixture (``hazy+rainy``) or
``unknown`` (:mod:`degradations.labels`):

* single-type rows: top-1 accuracy per degradation of the trained controller, and of plain CLIP
  zero-shot over the same ten words (the baseline row); the confusion matrix (rows: true
  degradation, columns: predicted top-1), also as a PNG;
* every labelled row (single and mixed): per-type precision and recall of the predicted type sets
  (the types whose probability reaches ``--threshold``: sigmoid for a multi-label model, softmax
  for a single-type one, defaults in :data:`~daclip.controller.metrics.DEFAULT_THRESHOLDS`) and
  exact-set accuracy (predicted set == true set);
* mixture rows: exact-set accuracy (overall and per mixture) and per-type recall on mixtures;
* ``unknown`` rows: counted, with the distribution of their predicted types; never scored;
* rows with an HQ image: the mean cosine between the LQ content embedding and the HQ image's
  plain-CLIP embedding, with the controller and without it (plain CLIP on the LQ image). DA-CLIP's
  claim is that the controller raises it. The same cosines against *another* sample's HQ image
  (``cosine_other_*``) show how much of it is image-specific rather than a shared direction.
  LQ-only rows (ingested photos) have no HQ: on a manifest of those the content metrics are
  skipped, and the report says so.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import numpy as np
import torch
import torch.nn.functional as F

from degradations import NAMES
from degradations.labels import join_label
from pipelines.common.cli import manifest_inputs
from pipelines.common.devices import resolve_device

from ..runtime.distributed import Dist
from .classify import DEFAULT_CKPT
from .metrics import (
    THRESHOLD_HELP,
    default_threshold,
    exact_set_accuracy,
    exact_set_hits,
    per_type_scores,
    predicted_types,
    training_prediction,
)
from .model import DaCLIP
from .report import format_table, write_outputs

CONTENT_SKIPPED = "skipped: no row has an HQ image (LQ-only rows), so there is nothing to compare the content with"


@dataclass
class _Tally:
    """What the evaluation loop accumulates, batch by batch."""

    samples: int = 0
    confusion: np.ndarray = field(default_factory=lambda: np.zeros((len(NAMES), len(NAMES)), dtype=np.int64))
    zero_shot_confusion: np.ndarray = field(default_factory=lambda: np.zeros((len(NAMES), len(NAMES)),
                                                                             dtype=np.int64))
    true_sets: list[tuple[str, ...]] = field(default_factory=list)  # labelled rows (single and mixed)
    pred_sets: list[tuple[str, ...]] = field(default_factory=list)
    unknown_top1: Counter = field(default_factory=Counter)
    unknown_types: Counter = field(default_factory=Counter)
    unknown: int = 0
    unknown_none: int = 0
    cos_ctrl: np.ndarray = field(default_factory=lambda: np.zeros(len(NAMES)))  # single-type rows with HQ
    cos_plain: np.ndarray = field(default_factory=lambda: np.zeros(len(NAMES)))
    cos_count: np.ndarray = field(default_factory=lambda: np.zeros(len(NAMES), dtype=np.int64))
    content: dict[str, float] = field(default_factory=lambda: {"controlled": 0.0, "plain": 0.0, "rows": 0,
                                                                "other_controlled": 0.0, "other_plain": 0.0,
                                                                "pairs": 0})


@torch.no_grad()
def evaluate_model(
    model,
    manifests: Sequence[str | os.PathLike],
    *,
    split: str | None = None,
    batch_size: int = 64,
    workers: int = 0,
    device: torch.device | str = "cpu",
    max_samples: int | None = None,
    threshold: float | None = None,
) -> dict[str, Any]:
    """Evaluate a loaded DA-CLIP model; returns the JSON-able report (see the module docstring).

    ``threshold``: probability a type needs to be in a predicted set (default: by the model's kind).
    """
    from ..data.loaders import eval_loader
    from ..data.shards import load_index

    device = torch.device(device)
    model = model.to(device).eval()
    kind = model.probability_kind
    threshold = default_threshold(kind) if threshold is None else float(threshold)
    index = load_index(manifests, split=split)
    loader = eval_loader(index, image_size=model.image_size, tokenizer=model.tokenizer, batch_size=batch_size,
                         with_hq=index.num_with_hq > 0, workers=workers)
    tally = _Tally()
    for batch in loader:
        if max_samples is not None and tally.samples >= max_samples:
            break
        _add_batch(model, batch, device, threshold, tally)
    if tally.samples == 0:
        raise ValueError(f"no samples could be read from {list(map(str, manifests))}")
    return _report(tally, kind, threshold)


def _add_batch(model: DaCLIP, batch: dict[str, Any], device: torch.device, threshold: float, tally: _Tally) -> None:
    lq = batch["image"].to(device)
    labels = batch["label"].numpy()
    targets = batch["target"].numpy() > 0
    has_hq = batch["has_hq"].numpy() if "has_hq" in batch else np.zeros(len(labels), dtype=bool)
    degradation, hints = model.control(lq)
    probs = model.probabilities(model.degradation_logits(degradation)).float().cpu().numpy()
    top1 = probs.argmax(-1)
    single = labels >= 0
    if single.any():
        zero_shot = model.zero_shot(lq[torch.from_numpy(single).to(device)]).argmax(-1).cpu().numpy()
        np.add.at(tally.confusion, (labels[single], top1[single]), 1)
        np.add.at(tally.zero_shot_confusion, (labels[single], zero_shot), 1)
    for row in range(len(labels)):
        pred = tuple(predicted_types(probs[row], threshold))
        true = tuple(name for name, present in zip(NAMES, targets[row]) if present)
        if true:
            tally.true_sets.append(true)
            tally.pred_sets.append(pred)
        else:
            tally.unknown += 1
            tally.unknown_top1[NAMES[top1[row]]] += 1
            tally.unknown_types.update(pred)
            tally.unknown_none += not pred
    if has_hq.any():
        _add_content(model, lq, hints, batch["hq"].to(device), has_hq, labels, tally)
    tally.samples += len(labels)


def _add_content(model: DaCLIP, lq: torch.Tensor, hints: list[torch.Tensor], hq: torch.Tensor, has_hq: np.ndarray,
                 labels: np.ndarray, tally: _Tally) -> None:
    """LQ->HQ content cosines of the rows that have an HQ image."""
    rows = torch.from_numpy(has_hq).to(lq.device)
    content = model.encode_controlled(lq, hints)[rows].float()
    plain_lq = model.encode_plain(lq[rows]).float()
    plain_hq = model.encode_plain(hq[rows]).float()
    c1 = F.cosine_similarity(content, plain_hq, dim=-1).cpu().numpy()
    c0 = F.cosine_similarity(plain_lq, plain_hq, dim=-1).cpu().numpy()
    stats = tally.content
    stats["controlled"] += float(c1.sum())
    stats["plain"] += float(c0.sum())
    stats["rows"] += len(c1)
    if len(c1) > 1:  # the same against another image's HQ: how image-specific the content is
        other = plain_hq.roll(1, dims=0)
        stats["other_controlled"] += float(F.cosine_similarity(content, other, dim=-1).sum())
        stats["other_plain"] += float(F.cosine_similarity(plain_lq, other, dim=-1).sum())
        stats["pairs"] += len(c1)
    hq_labels = labels[has_hq]
    single = hq_labels >= 0
    np.add.at(tally.cos_ctrl, hq_labels[single], c1[single])
    np.add.at(tally.cos_plain, hq_labels[single], c0[single])
    np.add.at(tally.cos_count, hq_labels[single], 1)


def _report(tally: _Tally, kind: str, threshold: float) -> dict[str, Any]:
    confusion, zero_shot = tally.confusion, tally.zero_shot_confusion
    singles = int(confusion.sum())
    per_class = confusion.sum(1)
    rows = []
    for i, name in enumerate(NAMES):
        if per_class[i] == 0:
            continue
        rows.append({
            "degradation": name,
            "samples": int(per_class[i]),
            "accuracy": round(float(confusion[i, i] / per_class[i]), 4),
            "zero_shot_accuracy": round(float(zero_shot[i, i] / per_class[i]), 4),
            "cosine_hq_controlled": _mean(float(tally.cos_ctrl[i]), int(tally.cos_count[i])),
            "cosine_hq_plain": _mean(float(tally.cos_plain[i]), int(tally.cos_count[i])),
        })
    content = tally.content
    mixed = [(t, p) for t, p in zip(tally.true_sets, tally.pred_sets) if len(t) > 1]
    by_mixture: dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]] = {}
    for true, pred in mixed:  # a mixture is its set of types: named in NAMES order
        by_mixture.setdefault(join_label(true), []).append((true, pred))
    return {
        "samples": tally.samples,
        "single_samples": singles,
        "mixture_samples": len(mixed),
        "unknown_samples": tally.unknown,
        "probability_kind": kind,
        "threshold": threshold,
        "accuracy": _mean(float(np.trace(confusion)), singles),
        "baseline_zero_shot_accuracy": _mean(float(np.trace(zero_shot)), singles),
        "exact_set_accuracy": exact_set_accuracy(tally.true_sets, tally.pred_sets),
        "content_samples": int(content["rows"]),
        "content_metrics": (f"computed on the {int(content['rows'])} row(s) with an HQ image" if content["rows"]
                            else CONTENT_SKIPPED),
        "cosine_hq_controlled": _mean(content["controlled"], int(content["rows"])),
        "cosine_hq_plain": _mean(content["plain"], int(content["rows"])),
        "cosine_other_hq_controlled": _mean(content["other_controlled"], int(content["pairs"])),
        "cosine_other_hq_plain": _mean(content["other_plain"], int(content["pairs"])),
        "per_degradation": rows,
        "per_type": per_type_scores(tally.true_sets, tally.pred_sets),
        "mixtures": {
            "samples": len(mixed),
            "exact_set_accuracy": exact_set_accuracy(*_unzip(mixed)),
            "per_type": per_type_scores(*_unzip(mixed)),
            "by_mixture": [{"degradation": label, "samples": len(pairs),
                            "exact_set_accuracy": exact_set_accuracy(*_unzip(pairs))}
                           for label, pairs in sorted(by_mixture.items())],
        },
        "unknown": {
            "samples": tally.unknown,
            "top1": dict(sorted(tally.unknown_top1.items(), key=lambda kv: (-kv[1], kv[0]))),
            "types": dict(sorted(tally.unknown_types.items(), key=lambda kv: (-kv[1], kv[0]))),
            "none_above_threshold": tally.unknown_none,
        },
        "labels": list(NAMES),
        "confusion": confusion.tolist(),
        "zero_shot_confusion": zero_shot.tolist(),
    }


def _unzip(pairs: list[tuple[tuple[str, ...], tuple[str, ...]]]) -> tuple[list, list]:
    return [t for t, _ in pairs], [p for _, p in pairs]


@torch.no_grad()
def val_accuracy(model: DaCLIP, loader: Iterable[dict[str, Any]], device: torch.device, dist: Dist) -> float:
    """Exact-set accuracy over the labelled samples of the val manifest (summed across ranks).

    The predicted set is the top-1 of a single-type model (so on single-type data this is top-1
    accuracy) and the types with sigmoid >= 0.5 of a multi-label one; ``unknown`` rows are skipped.
    """
    was_training = model.training
    model.eval()
    correct = total = 0
    for batch in loader:
        probs = model.classify(batch["image"].to(device)).float().cpu()
        hits, labelled = exact_set_hits(training_prediction(probs, model.probability_kind), batch["target"])
        correct += hits
        total += labelled
    if dist.world > 1:
        import torch.distributed as tdist

        counts = torch.tensor([correct, total], dtype=torch.float64, device=device)  # NCCL needs CUDA tensors
        tdist.all_reduce(counts)
        correct, total = int(counts[0]), int(counts[1])
    model.train(was_training)
    return correct / max(1, total)


def _mean(total: float, count: int) -> float | None:
    return round(total / count, 4) if count else None


@click.command("evaluate")
@manifest_inputs(click.Path(exists=True, dir_okay=False), required=True, old_spellings=("--shards",),
                 help="Manifest to evaluate on, e.g. manifests/val.parquet (repeatable; also positional).")
@click.option("--ckpt", default=lambda: os.environ.get("DACLIP_CKPT", DEFAULT_CKPT), show_default=DEFAULT_CKPT,
              help="Run folder or checkpoint folder of train-daclip (env DACLIP_CKPT).")
@click.option("--split", default=None, help="Only rows of this split (e.g. val).")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder for evaluation.json and confusion.png.")
@click.option("--batch-size", default=64, show_default=True, type=click.IntRange(min=1))
@click.option("--workers", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--device", default="auto", show_default=True)
@click.option("--max-samples", default=None, type=click.IntRange(min=1), help="Stop after about this many samples.")
@click.option("--threshold", default=None, type=click.FloatRange(0, 1),
              help=THRESHOLD_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the full JSON report instead of the table.")
def command(manifests, ckpt, split, out, batch_size, workers, device, max_samples, threshold, as_json) -> None:
    """Degradation accuracy, per-type precision/recall, mixtures, confusion matrix and LQ->HQ content cosine."""
    from ..loading import load

    try:
        dev = resolve_device(device)
        model = load(ckpt, device=dev)
        report = evaluate_model(model, manifests, split=split, batch_size=batch_size, workers=workers, device=dev,
                                max_samples=max_samples, threshold=threshold)
    except (FileNotFoundError, ValueError) as exn:
        raise click.ClickException(str(exn)) from None
    report["checkpoint"] = str(ckpt)
    if out:
        paths = write_outputs(report, Path(out))
        report["outputs"] = {k: str(v) for k, v in paths.items()}
    click.echo(json.dumps(report, indent=2) if as_json else format_table(report))
    if out and not as_json:
        click.echo(f"wrote {report['outputs']['json']} and {report['outputs']['png']}")
