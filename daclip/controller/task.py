"""The DA-CLIP training task: the model plus its loss, and which parameters get weight decay.

:class:`TrainingTask` is what a training loop (and DDP) wraps: ``forward(batch)`` returns the named
loss terms of :func:`~daclip.controller.losses.daclip_loss` and the degradation logits.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .losses import LossConfig, daclip_loss
from .model import DaCLIP

__all__ = ["TrainingTask", "param_groups"]


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Weight decay on >= 2-D weights only; none on biases, norms, embeddings' 1-D gains, logit scale."""
    decay, no_decay = [], []
    for _, p in model.named_parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


class TrainingTask(nn.Module):
    """Model + loss: ``forward(batch) -> (named loss terms, degradation logits)``. DDP wraps this."""

    def __init__(self, model: DaCLIP, loss: LossConfig):
        super().__init__()
        self.model = model
        self.loss = loss

    def forward(self, batch: dict[str, Any]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        model = self.model
        image = batch["image"]
        degradation, hints = model.control(image)
        has_caption = batch["has_caption"]
        # the controlled encoder only matters to the content terms: skip it when none applies
        needs_content = bool(has_caption.any()) or self.loss.hq_align_weight > 0
        content = model.encode_controlled(image, hints) if needs_content else None
        with torch.no_grad():
            class_text = model.degradation_text_features()
            caption_text = model.encode_text(batch["text"]) if bool(has_caption.any()) else None
            hq = model.encode_plain(batch["hq"]) if "hq" in batch and self.loss.hq_align_weight > 0 else None
        return daclip_loss(
            self.loss,
            content=None if content is None else content.float(),
            degradation=degradation.float(),
            labels=batch["label"],
            targets=batch.get("target"),
            bias=None if (bias := model.degradation_bias()) is None else bias.float(),
            class_text=class_text.float(),
            scale=model.logit_scale.exp(),
            caption_text=None if caption_text is None else caption_text.float(),
            has_caption=has_caption,
            hq_features=hq,
            has_hq=batch.get("has_hq"),
        )
