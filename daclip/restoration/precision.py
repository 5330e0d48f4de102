"""How a network runs at inference: numeric precision, ``torch.compile``, memory layout.

``prepare(net, mode, device)`` returns a callable with the network's signature that runs under the
chosen mode; fp32 eager is the reference every other mode is measured against
(``bench/restore_speed.py`` reports speed and drift side by side).

- ``bf16``: autocast to bfloat16 (CPU where torch supports it, CUDA with bf16 support);
- ``fp16``: autocast to float16, CUDA only (CPU float16 matmuls are slow or missing);
- ``channels_last``: NHWC memory layout for convolutions (often faster on CPU with oneDNN);
- ``compile``: ``torch.compile`` of the network; refused with one line where it cannot run.
Outputs always come back as float32.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["PRECISIONS", "InferenceMode", "prepare"]

PRECISIONS = ("fp32", "bf16", "fp16")


@dataclass(frozen=True)
class InferenceMode:
    precision: str = "fp32"
    compile: bool = False
    channels_last: bool = False

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")

    @property
    def name(self) -> str:
        parts = [self.precision] + (["channels_last"] if self.channels_last else []) + (
            ["compile"] if self.compile else [])
        return "+".join(parts)


def _dtype(precision: str, device: torch.device) -> torch.dtype | None:
    if precision == "fp32":
        return None
    if precision == "fp16":
        if device.type != "cuda":
            raise ValueError("--precision fp16 needs a CUDA device (use bf16 on CPU)")
        return torch.float16
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError("this GPU has no bfloat16: use --precision fp16")
    return torch.bfloat16


def prepare(net: torch.nn.Module, mode: InferenceMode, device: torch.device | str) -> Callable[..., torch.Tensor]:
    """``net`` wrapped to run under ``mode`` on ``device``; call it as the network itself."""
    device = torch.device(device)
    dtype = _dtype(mode.precision, device)
    if mode.channels_last:
        net = net.to(memory_format=torch.channels_last)
    run: Any = net
    if mode.compile:
        if not hasattr(torch, "compile"):
            raise ValueError("--compile needs torch >= 2.0")
        run = torch.compile(net, dynamic=False)

    def call(*args: Any) -> torch.Tensor:
        if mode.channels_last:
            args = tuple(a.contiguous(memory_format=torch.channels_last) if isinstance(a, torch.Tensor) and a.dim() == 4
                         else a for a in args)
        with torch.no_grad(), torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            return run(*args).float()

    return call
