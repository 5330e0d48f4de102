"""DA-CLIP's training loss as named terms: content InfoNCE, a degradation term, optional HQ alignment.

* ``content``: symmetric InfoNCE between content embeddings and the clean captions' text
  embeddings, over the rows that have a caption (rows without one are left out of this term).
* ``degradation``: picked by name from :data:`DEGRADATION_LOSSES`:
  ``ce`` (default): cross-entropy of the degradation embedding against the ten degradation
  words' text embeddings; ``infonce``: DA-CLIP's original in-batch InfoNCE against each row's
  own word. With many rows sharing a word its labels are wrong for the duplicates, so it has a
  floor of about ln(#duplicates) (DA-CLIP issue #66); kept for comparison.
* ``hq_align`` (weight > 0): 1 - cos(content embedding of LQ, frozen plain-CLIP embedding of HQ).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F


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


DEGRADATION_LOSSES: dict[str, Callable[..., tuple[torch.Tensor, torch.Tensor]]] = {
    "ce": degradation_ce,
    "infonce": degradation_infonce,
}


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
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Named loss terms (``total`` is their weighted sum) and the degradation logits.

    ``caption_text`` holds text embeddings for every row; ``has_caption`` (bool, B) masks the
    rows whose caption is real. ``hq_features`` are plain-CLIP embeddings of the HQ images.
    ``content`` may be None when no content term applies (no caption in the batch, no HQ term).
    """
    terms: dict[str, torch.Tensor] = {}
    deg_loss, logits = DEGRADATION_LOSSES[config.degradation_loss](degradation, class_text, labels, scale)
    terms["degradation"] = deg_loss
    total = deg_loss
    if content is not None and caption_text is not None and has_caption is not None and bool(has_caption.any()):
        mask = has_caption.bool()
        terms["content"] = clip_infonce(content[mask], caption_text[mask], scale)
        total = total + terms["content"]
    if content is not None and config.hq_align_weight > 0 and hq_features is not None:
        cos = F.cosine_similarity(content, hq_features.to(content.dtype), dim=-1)
        terms["hq_align"] = (1 - cos).mean()
        total = total + config.hq_align_weight * terms["hq_align"]
    terms["total"] = total
    return terms, logits
