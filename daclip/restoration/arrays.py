"""uint8 images to and from the float tensors restorers take (both restorers share these)."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["to_tensor", "to_uint8"]


def to_tensor(img: np.ndarray, device: str | torch.device = "cpu") -> torch.Tensor:
    """HxWx3 uint8 -> 1x3xHxW float in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float().div(255).to(device)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """1x3xHxW float -> HxWx3 uint8 (round, then clip)."""
    return x[0].detach().float().mul(255).round().clamp(0, 255).byte().permute(1, 2, 0).cpu().numpy()
