"""Checkpoints: safetensors + JSON only, exact round trip of model and training state."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from daclip.runtime.checkpoint import (
    load_checkpoint,
    resolve_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)


def test_model_optimizer_scheduler_and_rng_round_trip(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.GELU(), torch.nn.Linear(8, 2))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.98))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0 / (1 + step))
    for _ in range(3):
        opt.zero_grad()
        model(torch.randn(5, 4)).square().mean().backward()
        opt.step()
        sched.step()
    state = {"optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "step": 3, "rng": rng_state()}
    folder = save_checkpoint(tmp_path / "checkpoints" / "step_3", model.state_dict(), {"width": 8}, state)
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors", "state.json",
                                                         "state.safetensors"]
    assert resolve_checkpoint(tmp_path) == folder

    expected_next = [torch.rand(3), np.random.rand(), random.random()]
    weights, config, loaded = load_checkpoint(tmp_path, with_state=True)
    assert config == {"width": 8} and loaded["step"] == 3
    for k, v in model.state_dict().items():
        assert torch.equal(weights[k], v)

    model2 = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.GELU(), torch.nn.Linear(8, 2))
    model2.load_state_dict(weights)
    opt2 = torch.optim.AdamW(model2.parameters(), lr=1e-3, betas=(0.9, 0.98))
    sched2 = torch.optim.lr_scheduler.LambdaLR(opt2, lambda step: 1.0 / (1 + step))
    # order matters: a new scheduler rewrites the optimizer's lr, so load the optimizer after it
    opt2.load_state_dict(loaded["optimizer"])
    sched2.load_state_dict(loaded["scheduler"])
    set_rng_state(loaded["rng"])
    assert torch.equal(torch.rand(3), expected_next[0])
    assert np.random.rand() == expected_next[1] and random.random() == expected_next[2]

    x = torch.randn(5, 4)
    for m, o, s in ((model, opt, sched), (model2, opt2, sched2)):
        o.zero_grad()
        m(x).square().mean().backward()
        o.step()
        s.step()
    for a, b in zip(model.parameters(), model2.parameters()):
        assert torch.equal(a, b), "resumed optimizer must continue exactly"


def test_missing_checkpoint_has_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        resolve_checkpoint(tmp_path / "nope")
