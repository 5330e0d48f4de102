"""Restore images with a one-step restorer: one tiled NAFNet call instead of the SDE loop.

Tiles are :func:`daclip.restoration.nafnet.tiled_forward`'s: cores of ``tile`` pixels (aligned to the
net's down-sampling grid) extended by a margin that is cut off again, no blending. The margin
defaults to the receptive radius capped at 64 px (:func:`daclip.restoration.onestep.default_margin`).
DA-CLIP sees the whole LQ image once (shorter side resized), as for IR-SDE (:func:`~daclip.restoration.model.embed`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch

from .arrays import to_tensor, to_uint8
from .model import ImageEncoder, embed
from .nafnet import NAFNet, tiled_forward
from .onestep import default_margin

__all__ = ["onestep_calls", "restore_onestep", "restore_onestep_array"]


def _aligned(tile: int, net: NAFNet) -> int:
    m = 2**net.config.levels
    return max(m, tile // m * m)


def onestep_calls(net: NAFNet, height: int, width: int, tile: int | None) -> int:
    """Network calls (tiles) of one restore."""
    if not tile or (height <= tile and width <= tile):
        return 1
    core = _aligned(tile, net)
    return math.ceil(height / core) * math.ceil(width / core)


@torch.no_grad()
def restore_onestep(
    net: NAFNet, lq: torch.Tensor, tile: int | None, content: torch.Tensor | None = None,
    degradation: torch.Tensor | None = None, margin: int | None = None,
) -> torch.Tensor:
    """``lq`` (B x 3 x H x W in [0, 1]) restored in tiles of ``tile`` (None: whole), clamped to [0, 1]."""
    margin = default_margin(net.config) if margin is None else margin
    out = tiled_forward(net, lq, tile, margin, degradation if net.config.conditioned else None,
                        content if net.config.conditioned else None)
    return out.float().clamp(0, 1)


def restore_onestep_array(
    net: NAFNet, encoder: ImageEncoder | None, img: np.ndarray, tile: int | None, device: str | torch.device = "cpu",
    on_tiles: Callable[[int], None] | None = None, degradation_text: str | Sequence[str] | None = None,
    margin: int | None = None,
) -> np.ndarray:
    """Restore one HxWx3 uint8 RGB image; returns HxWx3 uint8. ``degradation_text``: condition on that
    word's DA-CLIP text embedding (the oracle, see ``embed``); ignored by an unconditioned net."""
    lq = to_tensor(img, device)
    content, degradation = embed(encoder if net.config.conditioned else None, lq, degradation_text)
    out = to_uint8(restore_onestep(net, lq, tile, content, degradation, margin))
    if on_tiles:
        on_tiles(onestep_calls(net, img.shape[0], img.shape[1], tile))
    return out
