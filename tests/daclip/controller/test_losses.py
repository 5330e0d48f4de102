"""The DA-CLIP losses on small tensors: degradation CE vs InfoNCE, caption masks, HQ alignment."""

from __future__ import annotations

import math

import pytest
import torch

from daclip.controller.losses import (
    DEGRADATION_LOSSES,
    LossConfig,
    MixtureLabelError,
    daclip_loss,
    degradation_bce,
    degradation_ce,
    degradation_infonce,
)

torch.set_num_threads(1)


def test_degradation_ce_has_no_duplicate_floor_but_infonce_does():
    class_text = torch.eye(10, 16)
    labels = torch.tensor([3] * 8 + [5] * 8)  # two classes, eight duplicates each
    perfect = class_text[labels].clone()
    scale = torch.tensor(100.0)
    ce, logits = degradation_ce(perfect, class_text, labels, scale)
    info, logits2 = degradation_infonce(perfect, class_text, labels, scale)
    assert ce < 1e-3
    assert info > math.log(8) - 0.05, "in-batch InfoNCE on repeated words cannot go below ln(#duplicates)"
    assert torch.equal(logits, logits2)
    assert set(DEGRADATION_LOSSES) == {"ce", "infonce", "bce"}
    with pytest.raises(ValueError, match="infonce"):
        LossConfig(degradation_loss="focal")


def test_rows_without_caption_train_the_degradation_term_only():
    g = torch.Generator().manual_seed(0)
    content = torch.randn(6, 16, generator=g, requires_grad=True)
    degradation = torch.randn(6, 16, generator=g, requires_grad=True)
    common = dict(degradation=degradation, labels=torch.arange(6) % 10, class_text=torch.randn(10, 16, generator=g),
                  scale=torch.tensor(10.0), caption_text=torch.randn(6, 16, generator=g))
    mask = torch.tensor([True, True, True, False, False, False])
    terms, _ = daclip_loss(LossConfig(), content=content, has_caption=mask, **common)
    terms["total"].backward()
    assert content.grad[3:].abs().sum() == 0 and content.grad[:3].abs().sum() > 0
    assert degradation.grad.abs().sum(-1).gt(0).all(), "every row trains the degradation term"
    none, _ = daclip_loss(LossConfig(), content=content, has_caption=torch.zeros(6, dtype=torch.bool), **common)
    assert "content" not in none and torch.equal(none["total"], none["degradation"])


def test_hq_align_term_pulls_content_towards_hq():
    content = torch.randn(4, 8)
    common = dict(degradation=torch.randn(4, 8), labels=torch.zeros(4, dtype=torch.long),
                  class_text=torch.randn(10, 8), scale=torch.tensor(10.0))
    same, _ = daclip_loss(LossConfig(hq_align_weight=0.5), content=content, hq_features=content * 3, **common)
    other, _ = daclip_loss(LossConfig(hq_align_weight=0.5), content=content, hq_features=-content, **common)
    assert same["hq_align"] < 1e-6 and abs(float(other["hq_align"]) - 2.0) < 1e-5
    assert torch.allclose(other["total"], other["degradation"] + 0.5 * other["hq_align"])
    off, _ = daclip_loss(LossConfig(), content=content, hq_features=-content, **common)
    assert "hq_align" not in off


def _rows(labels: list[tuple[int, ...]]) -> tuple[torch.Tensor, torch.Tensor]:
    """(label, multi-hot) per row as the loader makes them: -1 for mixtures and unknown (no types)."""
    targets = torch.zeros(len(labels), 10)
    for i, types in enumerate(labels):
        targets[i, list(types)] = 1.0
    return torch.tensor([t[0] if len(t) == 1 else -1 for t in labels]), targets


def test_bce_learns_mixtures_and_leaves_unknown_rows_out():
    class_text = torch.eye(10, 16)
    labels, targets = _rows([(3,), (3, 5), (5, 7, 1), ()])
    perfect = targets @ class_text  # the embedding points between its types' words
    loss, logits = degradation_bce(perfect[:3], class_text, targets[:3], torch.tensor(100.0), torch.tensor(-20.0))
    assert loss < 1e-3 and ((logits > 0) == targets[:3].bool()).all()
    wrong, _ = degradation_bce(perfect[[1, 0, 2]], class_text, targets[:3], torch.tensor(100.0), torch.tensor(-20.0))
    assert wrong > 10
    degradation = torch.randn(4, 16, generator=torch.Generator().manual_seed(0), requires_grad=True)
    terms, logits = daclip_loss(LossConfig("bce"), content=None, degradation=degradation, labels=labels,
                                targets=targets, bias=torch.tensor(-2.0), class_text=class_text,
                                scale=torch.tensor(10.0))
    terms["total"].backward()
    assert logits.shape == (4, 10) and torch.isfinite(terms["total"])
    assert degradation.grad[3].abs().sum() == 0, "an unknown row trains no degradation term"
    assert degradation.grad[:3].abs().sum(-1).gt(0).all()
    only, _ = daclip_loss(LossConfig("bce"), content=None, degradation=degradation[:3], labels=labels[:3],
                          targets=targets[:3], bias=torch.tensor(-2.0), class_text=class_text,
                          scale=torch.tensor(10.0))
    assert torch.allclose(only["degradation"], terms["degradation"]), "unknown rows do not dilute the mean"


def test_single_type_losses_refuse_mixtures_and_skip_unknown_rows():
    class_text = torch.randn(10, 16, generator=torch.Generator().manual_seed(1))
    degradation = torch.randn(4, 16, generator=torch.Generator().manual_seed(2))
    labels, targets = _rows([(3,), (4,), (), (6,)])
    scale = torch.tensor(10.0)
    terms, _ = daclip_loss(LossConfig("ce"), content=None, degradation=degradation, labels=labels,
                           targets=targets, class_text=class_text, scale=scale)
    kept = torch.tensor([0, 1, 3])
    expected, _ = degradation_ce(degradation[kept], class_text, labels[kept], scale)
    assert torch.equal(terms["degradation"], expected)
    single_labels, single_targets = _rows([(3,), (4,), (6,)])
    with_targets, _ = daclip_loss(LossConfig("ce"), content=None, degradation=degradation[kept],
                                  labels=single_labels, targets=single_targets, class_text=class_text, scale=scale)
    assert torch.equal(with_targets["degradation"], expected), "single-type data: ce exactly as before"
    labels, targets = _rows([(3,), (3, 5)])
    for name in ("ce", "infonce"):
        with pytest.raises(MixtureLabelError, match="mixtures need bce"):
            daclip_loss(LossConfig(name), content=None, degradation=degradation[:2], labels=labels, targets=targets,
                        class_text=class_text, scale=scale)
