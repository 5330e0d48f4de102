"""The torchrun process group, this process's device, and its share of the CPU cores."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from pipelines.common.devices import resolve_device


@dataclass(frozen=True)
class Dist:
    """This process's place in a torchrun job (rank 0 of 1 without torchrun)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str) -> tuple[Dist, torch.device]:
    """Join the torchrun process group when ``WORLD_SIZE > 1`` (NCCL on CUDA, gloo on CPU).

    ``device`` is ``auto``, ``cpu``, ``cuda`` or ``cuda:N``; under torchrun each process takes the
    GPU of its local rank.
    """
    resolved = resolve_device(device)
    cuda = resolved.type == "cuda"
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist(), resolved
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if cuda:
        torch.cuda.set_device(local_rank)
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend="nccl" if cuda else "gloo")
    return Dist(rank, world, local_rank), torch.device("cuda", local_rank) if cuda else torch.device("cpu")


def set_cpu_threads(threads: int | None, workers: int, world: int = 1) -> int:
    """Give torch this process's share of the cores on CPU (default: cores / ranks - loader workers).

    torch's default (all cores) oversubscribes the machine as soon as DataLoader workers or other
    ranks run beside it; on 2 cores with one loader worker that made training ten times slower.
    """
    if threads is None:
        threads = max(1, (os.cpu_count() or 1) // max(1, world) - workers)
    torch.set_num_threads(threads)
    return threads


def shutdown_distributed() -> None:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
