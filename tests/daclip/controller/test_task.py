"""The DA-CLIP training task: its loss falls on one fixed batch (no data set needed)."""

from __future__ import annotations

import math

import torch

from daclip.controller.losses import LossConfig
from daclip.controller.model import DaCLIPConfig, build
from daclip.controller.task import TrainingTask, param_groups

torch.set_num_threads(1)


def test_loss_decreases_on_a_fixed_batch():
    model = build(DaCLIPConfig(model="tiny", pretrained="none"))
    task = TrainingTask(model, LossConfig())
    x = model.preprocess_tensor(torch.rand(8, 3, 64, 64, generator=torch.Generator().manual_seed(1)))
    labels = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7])
    captions = [f"a photo of object number {i}" for i in range(8)]
    batch = {"image": x, "label": labels, "text": model.tokenize(captions),
             "has_caption": torch.ones(8, dtype=torch.bool)}
    opt = torch.optim.AdamW(param_groups(model, 0.05), lr=1e-3, betas=(0.9, 0.98), eps=1e-6)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        terms, logits = task(batch)
        terms["total"].backward()
        opt.step()
        model.clamp_logit_scale()
        losses.append(float(terms["total"].detach()))
    assert set(terms) == {"degradation", "content", "total"}
    assert losses[-1] < 0.5 * losses[0], losses
    assert (logits.argmax(-1) == labels).float().mean() >= 0.75
    assert float(model.logit_scale.detach()) <= math.log(100) + 1e-6
