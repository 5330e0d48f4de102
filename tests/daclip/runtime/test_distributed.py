"""The shared learning-rate schedule and process-group setup."""

from __future__ import annotations

import pytest

from daclip.runtime.distributed import Dist, init_distributed
from daclip.runtime.schedule import warmup_cosine


def test_warmup_then_cosine_to_the_floor():
    factor = warmup_cosine(total=100, warmup=10, min_ratio=0.01)
    warm = [factor(s) for s in range(10)]
    assert warm == sorted(warm) and warm[0] > 0 and warm[-1] < 1
    assert factor(10) == pytest.approx(1.0)
    decay = [factor(s) for s in range(10, 101)]
    assert decay == sorted(decay, reverse=True)
    assert factor(100) == pytest.approx(0.01) and factor(500) == pytest.approx(0.01)
    assert warmup_cosine(total=50)(25) == pytest.approx(0.5)


def test_single_process_needs_no_process_group(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    dist, device = init_distributed("cpu")
    assert dist == Dist() and dist.main and device.type == "cpu"


def test_cpu_threads_leave_room_for_loader_workers(monkeypatch):
    import os

    import torch

    from daclip.runtime.distributed import set_cpu_threads

    before = torch.get_num_threads()
    try:
        monkeypatch.setattr(os, "cpu_count", lambda: 8)
        assert set_cpu_threads(None, workers=2) == 6 and torch.get_num_threads() == 6
        assert set_cpu_threads(None, workers=4, world=2) == 1
        assert set_cpu_threads(3, workers=4) == 3
    finally:
        torch.set_num_threads(before)
