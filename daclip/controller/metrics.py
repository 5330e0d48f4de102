"""Multi-label degradation metrics: predicted type sets, per-type precision/recall, exact-set accuracy.

A row's true set is the types of its label (:func:`degradations.labels.split_label`): one type, the
types of a mixture, or empty for ``unknown`` (such rows are never scored). A predicted set is every
type whose probability reaches a threshold: sigmoid probabilities for a multi-label model, softmax
ones for a single-type model (whose default threshold is lower, since its ten probabilities share 1).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch

from degradations import NAMES

# default thresholds of classify and evaluate, by the model's probability kind: a sigmoid type is
# "present" when more likely than not; a softmax (single-type model) shares one unit over ten
# types, so 0.25 lists at most three and still names both halves of an even two-way split
DEFAULT_THRESHOLDS = {"sigmoid": 0.5, "softmax": 0.25}
THRESHOLD_HELP = (f"Probability a type needs to count as predicted (default: {DEFAULT_THRESHOLDS['sigmoid']} for a "
                  f"multi-label model's sigmoid, {DEFAULT_THRESHOLDS['softmax']} for a single-type model's softmax).")


def default_threshold(kind: str) -> float:
    return DEFAULT_THRESHOLDS[kind]


def predicted_types(probs: Sequence[float] | np.ndarray, threshold: float,
                    names: Sequence[str] = NAMES) -> list[str]:
    """Types whose probability is >= ``threshold``, most likely first (ties in ``names`` order)."""
    values = np.asarray(probs, dtype=np.float64)
    order = sorted(range(len(names)), key=lambda i: (-values[i], i))
    return [names[i] for i in order if values[i] >= threshold]


def training_prediction(probs: torch.Tensor, kind: str) -> torch.Tensor:
    """Multi-hot predictions (B x classes, bool) that the trainer's accuracy scores: the top-1 of
    a softmax model (it names one type), the types with probability >= 0.5 of a sigmoid model."""
    if kind == "softmax":
        return torch.nn.functional.one_hot(probs.argmax(-1), probs.shape[-1]).bool()
    return probs >= DEFAULT_THRESHOLDS["sigmoid"]


def exact_set_hits(predicted: torch.Tensor, targets: torch.Tensor) -> tuple[int, int]:
    """``(rows whose predicted set equals the true set, labelled rows)``; unknown rows (all-zero
    target) are not counted."""
    labelled = targets.sum(-1) > 0
    same = (predicted.bool() == targets.bool()).all(-1)
    return int((same & labelled).sum()), int(labelled.sum())


def exact_set_accuracy(true_sets: Iterable[Iterable[str]], pred_sets: Iterable[Iterable[str]]) -> float | None:
    """Share of rows whose predicted set equals the true set (rows with an empty true set are
    skipped); None when no row is scored."""
    hits = total = 0
    for true, pred in zip(true_sets, pred_sets):
        true = frozenset(true)
        if not true:
            continue
        total += 1
        hits += true == frozenset(pred)
    return round(hits / total, 4) if total else None


def per_type_scores(true_sets: Iterable[Iterable[str]], pred_sets: Iterable[Iterable[str]],
                    names: Sequence[str] = NAMES) -> list[dict]:
    """Per type: ``support`` (rows that have it), ``predicted`` (rows predicted to have it),
    ``true_positives``, ``precision`` and ``recall`` (None where undefined). Rows with an empty
    true set (unknown) are skipped; types neither present nor predicted are left out."""
    support = dict.fromkeys(names, 0)
    predicted = dict.fromkeys(names, 0)
    hits = dict.fromkeys(names, 0)
    for true, pred in zip(true_sets, pred_sets):
        true, pred = frozenset(true), frozenset(pred)
        if not true:
            continue
        for name in true:
            support[name] += 1
        for name in pred:
            predicted[name] += 1
            hits[name] += name in true
    rows = []
    for name in names:
        if not support[name] and not predicted[name]:
            continue
        rows.append({
            "degradation": name,
            "support": support[name],
            "predicted": predicted[name],
            "true_positives": hits[name],
            "precision": round(hits[name] / predicted[name], 4) if predicted[name] else None,
            "recall": round(hits[name] / support[name], 4) if support[name] else None,
        })
    return rows
