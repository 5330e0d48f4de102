"""Exposure: how much of the image is clipped, and how bright it is."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .color import as_rgb8, luma

__all__ = ["Exposure", "exposure"]


@dataclass(frozen=True)
class Exposure:
    clip_low: float  # fraction of channel values at 0 (crushed shadows)
    clip_high: float  # fraction of channel values at 255 (blown highlights, one channel is enough)
    luma: float  # mean Rec. 601 luma, 0 (black) to 1 (white)


def exposure(rgb: np.ndarray, y: np.ndarray | None = None) -> Exposure:
    """Clipped fractions and mean luma; ``y``: the luma of ``rgb``, when the caller has it."""
    rgb = as_rgb8(rgb)
    n = rgb.size
    return Exposure(clip_low=float(np.count_nonzero(rgb == 0)) / n,
                    clip_high=float(np.count_nonzero(rgb == 255)) / n,
                    luma=float((luma(rgb) if y is None else y).mean()) / 255.0)
