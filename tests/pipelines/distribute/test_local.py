"""Distributors and partitions: --part i/N, the SLURM array variables, a dead pool worker."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest


def test_part_parsing_and_slurm_environment():
    from pipelines.distribute.parts import in_part, parse_part, slurm_part

    assert parse_part("1/3") == (1, 3) and parse_part(None) == (0, 1)
    for bad in ("3/3", "a/b", "1-3", "0/0"):
        with pytest.raises(ValueError, match="--part"):
            parse_part(bad)
    assert [s for s in range(7) if in_part(s, (1, 3))] == [1, 4]
    env = {"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "4"}
    assert slurm_part(env) == "1/4" and slurm_part({}) is None


def _dies_on_one(spec: int, progress: Callable[[int], None]) -> int:
    if spec == 1:
        os._exit(3)  # like a worker killed for memory
    return spec


def test_a_dead_worker_fails_the_run_instead_of_hanging():
    from pipelines.distribute.local import WorkerDied, run_local

    with pytest.raises(WorkerDied, match="worker process died"):
        list(run_local(_dies_on_one, [0, 1, 2, 3], processes=2))
