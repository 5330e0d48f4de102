"""The few collectives the training loop needs; each is a no-op in a single process."""

from __future__ import annotations

from typing import Any

import torch

from .distributed import Dist


def any_rank(flag: bool, dist: Dist, device: torch.device) -> bool:
    """True on every rank when it is true on any (all ranks must stop at the same step, or DDP hangs)."""
    if dist.world == 1:
        return flag
    value = torch.tensor([float(flag)], device=device)  # NCCL needs device tensors
    torch.distributed.all_reduce(value, op=torch.distributed.ReduceOp.MAX)
    return bool(value.item())


def gather_objects(obj: Any, dist: Dist) -> list[Any]:
    """Every rank's ``obj``, in rank order (e.g. their RNG states for a checkpoint)."""
    if dist.world == 1:
        return [obj]
    gathered: list[Any] = [None] * dist.world
    torch.distributed.all_gather_object(gathered, obj)
    return gathered


def sum_across_ranks(values: list[float], dist: Dist, device: torch.device) -> list[float]:
    if dist.world == 1:
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    torch.distributed.all_reduce(tensor)
    return tensor.tolist()


def barrier(dist: Dist) -> None:
    if dist.world > 1:
        torch.distributed.barrier()
