"""Multi-label metrics on a hand-made case: predicted sets, per-type precision/recall, exact-set accuracy."""

from __future__ import annotations

import torch

from daclip.controller.metrics import (
    DEFAULT_THRESHOLDS,
    exact_set_accuracy,
    exact_set_hits,
    per_type_scores,
    predicted_types,
    training_prediction,
)


def test_predicted_types_are_the_types_above_the_threshold_most_likely_first():
    names = ("a", "b", "c", "d")
    assert predicted_types([0.2, 0.9, 0.5, 0.7], 0.5, names) == ["b", "d", "c"]
    assert predicted_types([0.2, 0.9, 0.5, 0.7], 0.95, names) == []
    assert predicted_types([0.6, 0.6, 0.1, 0.0], 0.5, names) == ["a", "b"], "ties keep the names' order"
    assert DEFAULT_THRESHOLDS == {"sigmoid": 0.5, "softmax": 0.25}


def test_per_type_precision_recall_and_exact_set_accuracy_by_hand():
    names = ("hazy", "noisy", "rainy", "snowy")
    true = [("hazy",), ("hazy", "noisy"), ("noisy", "rainy"), ("rainy",), (), ("hazy", "noisy")]
    pred = [("hazy",), ("hazy",), ("rainy", "noisy"), ("hazy", "rainy"), ("snowy",), ("noisy", "hazy")]
    rows = {r["degradation"]: r for r in per_type_scores(true, pred, names)}
    # the unknown row (empty true set) is not scored: its "snowy" prediction counts nowhere
    assert set(rows) == {"hazy", "noisy", "rainy"}
    # hazy: true in rows 0,1,5 (3); predicted in 0,1,3,5 (4); hits 0,1,5 -> P 3/4, R 3/3
    assert rows["hazy"] == {"degradation": "hazy", "support": 3, "predicted": 4, "true_positives": 3,
                            "precision": 0.75, "recall": 1.0}
    # noisy: true in 1,2,5 (3); predicted in 2,5 (2); hits 2 -> P 1, R 2/3
    assert rows["noisy"]["precision"] == 1.0 and rows["noisy"]["recall"] == round(2 / 3, 4)
    # rainy: true in 2,3; predicted in 2,3 -> 1, 1
    assert (rows["rainy"]["precision"], rows["rainy"]["recall"]) == (1.0, 1.0)
    # exact sets: rows 0, 2 (order does not matter), 5 right; 1, 3 wrong; row 4 unknown -> 3/5
    assert exact_set_accuracy(true, pred) == 0.6
    mixtures = [(t, p) for t, p in zip(true, pred) if len(t) > 1]
    assert exact_set_accuracy(*zip(*mixtures)) == round(2 / 3, 4)
    assert exact_set_accuracy([()], [("hazy",)]) is None
    only_predicted = per_type_scores([("hazy",)], [("snowy",)], names)
    assert {r["degradation"]: (r["precision"], r["recall"]) for r in only_predicted} == {
        "hazy": (None, 0.0), "snowy": (0.0, None)}


def test_training_prediction_is_top1_for_softmax_and_thresholded_for_sigmoid():
    probs = torch.tensor([[0.30, 0.45, 0.25], [0.6, 0.7, 0.1], [0.2, 0.3, 0.1]])
    targets = torch.tensor([[0.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    softmax = training_prediction(probs, "softmax")
    assert softmax.tolist() == [[False, True, False], [False, True, False], [False, True, False]]
    assert exact_set_hits(softmax, targets) == (1, 2), "the unknown row is not counted"
    sigmoid = training_prediction(probs, "sigmoid")
    assert sigmoid.tolist() == [[False, False, False], [True, True, False], [False, False, False]]
    assert exact_set_hits(sigmoid, targets) == (1, 2)
