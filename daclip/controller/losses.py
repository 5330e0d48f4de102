"""DA-CLIP's training loss as named terms: content InfoNCE, a degradation term, optional HQ alignment.

* ``content``: symmetric InfoNCE between content embeddings and the clean captions' text
  embeddings, over the rows that have a caption (rows without one are left out of this term).
* ``degradation``: picked by name from :data:`DEGRADATION_LOSSES`:
  ``ce`` (single-type default): cross-entropy of the degradation embedding against the ten
  degradation words' text embeddings; ``infonce``: DA-CLIP's original in-batch InfoNCE against
  each row's own word. With many rows sharing a word its labels are wrong for the duplicates, so it
  has a floor of about ln(#duplicates) (DA-CLIP issue #66); kept for comparison.
  ``bce`` (multi-label): SigLIP-style sigmoid loss; each of the ten words is an independent yes/no
  for the row: binary cross-entropy of ``scale * cos + bias`` against the row's multi-hot target,
  summed over the ten words and averaged over rows. It learns from single-type rows and from
  mixtures (``hazy+rainy``: two ones) alike.
  Rows without a degradation label (``unknown``) are left out of this term under every loss;
  ``ce``/``infonce`` refuse a mixture row (one type per image is all they can express).
* ``hq_align`` (weight > 0): 1 - cos(content embedding of LQ, frozen plain-CLIP embedding of HQ),
  over the rows that have an HQ image (LQ-only rows are left out).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .config import MULTI_LABEL_LOSSES


def clip_infonce(image: torch.Tensor, text: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE on L2-normalised features (row i matches row i)."""
    if image.shape[0] == 0:
        return image.sum() * 0.0
    logits = scale * F.normalize(image, dim=-1) @ F.normalize(text, dim=-1).T
    labels = torch.arange(image.shape[0], device=image.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


def degradation_ce(
    degradation: torch.Tensor, class_text: torch.Tensor, labels: torch.Tensor, scale: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy over the class texts. Returns ``(loss, logits over classes)``."""
    logits = scale * F.normalize(degradation, dim=-1) @ F.normalize(class_text, dim=-1).T
    return F.cross_entropy(logits, labels), logits


def degradation_infonce(
    degradation: torch.Tensor, class_text: torch.Tensor, labels: torch.Tensor, scale: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """DA-CLIP's in-batch form: InfoNCE against each row's own degradation word."""
    logits = scale * F.normalize(degradation, dim=-1) @ F.normalize(class_text, dim=-1).T
    return clip_infonce(degradation, class_text[labels], scale), logits


def degradation_bce(
    degradation: torch.Tensor, class_text: torch.Tensor, targets: torch.Tensor, scale: torch.Tensor,
    bias: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sigmoid (SigLIP-style) loss against multi-hot ``targets`` (B x classes). Returns ``(loss, logits)``."""
    logits = scale * F.normalize(degradation, dim=-1) @ F.normalize(class_text, dim=-1).T
    if bias is not None:
        logits = logits + bias
    loss = F.binary_cross_entropy_with_logits(logits, targets.to(logits.dtype), reduction="none").sum(-1).mean()
    return loss, logits


DEGRADATION_LOSSES: dict[str, Callable[..., tuple[torch.Tensor, torch.Tensor]]] = {
    "ce": degradation_ce,
    "infonce": degradation_infonce,
    "bce": degradation_bce,
}


class MixtureLabelError(ValueError):
    """A mixture row reached a single-type degradation loss."""


def degradation_term(
    name: str, degradation: torch.Tensor, class_text: torch.Tensor, labels: torch.Tensor, scale: torch.Tensor,
    targets: torch.Tensor | None = None, bias: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The degradation loss ``name`` over the labelled rows; logits for every row.

    ``labels``: class index per row, -1 for a mixture or unknown row. ``targets``: multi-hot (B x
    classes, all zeros for unknown); without it every row is single-type or unknown.
    """
    if name in MULTI_LABEL_LOSSES:
        if targets is None:
            targets = F.one_hot(labels.clamp(min=0), class_text.shape[0]).float() * (labels >= 0)[:, None]
        rows = targets.sum(-1) > 0
        loss, logits = degradation_bce(degradation, class_text, targets, scale, bias)
        if not bool(rows.all()):  # the same loss over the labelled rows only (none: zero, graph kept)
            loss = degradation_bce(degradation[rows], class_text, targets[rows], scale, bias)[0] if rows.any() \
                else logits.sum() * 0.0
        return loss, logits
    if targets is not None and bool(((labels < 0) & (targets.sum(-1) > 1)).any()):
        raise MixtureLabelError(f"the {name} degradation loss trains one type per image; mixtures need bce")
    logits = scale * F.normalize(degradation, dim=-1) @ F.normalize(class_text, dim=-1).T
    rows = labels >= 0
    if not bool(rows.any()):
        return logits.sum() * 0.0, logits
    loss, _ = DEGRADATION_LOSSES[name](degradation[rows], class_text, labels[rows], scale)
    return loss, logits


@dataclass(frozen=True)
class LossConfig:
    degradation_loss: str = "ce"
    hq_align_weight: float = 0.0

    def __post_init__(self) -> None:
        if self.degradation_loss not in DEGRADATION_LOSSES:
            raise ValueError(
                f"unknown degradation loss {self.degradation_loss!r}; choose from {sorted(DEGRADATION_LOSSES)}"
            )
        if self.hq_align_weight < 0:
            raise ValueError("hq_align_weight must be >= 0")


def daclip_loss(
    config: LossConfig,
    *,
    content: torch.Tensor | None,
    degradation: torch.Tensor,
    labels: torch.Tensor,
    class_text: torch.Tensor,
    scale: torch.Tensor,
    caption_text: torch.Tensor | None = None,
    has_caption: torch.Tensor | None = None,
    hq_features: torch.Tensor | None = None,
    targets: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    has_hq: torch.Tensor | None = None,
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Named loss terms (``total`` is their weighted sum) and the degradation logits.

    ``labels`` (long, B; -1: mixture or unknown) and ``targets`` (multi-hot, B x 10) are the rows'
    degradation labels; ``bias`` is the multi-label model's logit bias (``bce``).
    ``caption_text`` holds text embeddings for every row; ``has_caption`` (bool, B) masks the
    rows whose caption is real. ``hq_features`` are plain-CLIP embeddings of the HQ images;
    ``has_hq`` (bool, B) masks the rows that have one.
    ``content`` may be None when no content term applies (no caption in the batch, no HQ term).
    """
    terms: dict[str, torch.Tensor] = {}
    deg_loss, logits = degradation_term(config.degradation_loss, degradation, class_text, labels, scale,
                                        targets=targets, bias=bias)
    terms["degradation"] = deg_loss
    total = deg_loss
    if content is not None and caption_text is not None and has_caption is not None and bool(has_caption.any()):
        mask = has_caption.bool()
        terms["content"] = clip_infonce(content[mask], caption_text[mask], scale)
        total = total + terms["content"]
    if content is not None and config.hq_align_weight > 0 and hq_features is not None:
        mask = torch.ones(content.shape[0], dtype=torch.bool, device=content.device) if has_hq is None \
            else has_hq.bool()
        if bool(mask.any()):
            cos = F.cosine_similarity(content[mask], hq_features[mask].to(content.dtype), dim=-1)
            terms["hq_align"] = (1 - cos).mean()
            total = total + config.hq_align_weight * terms["hq_align"]
    terms["total"] = total
    return terms, logits
