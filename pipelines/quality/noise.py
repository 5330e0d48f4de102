"""Noise level: the wavelet MAD estimate of Donoho & Johnstone on luma."""

from __future__ import annotations

import numpy as np

from .color import luma

__all__ = ["noise_sigma"]


def noise_sigma(rgb: np.ndarray, y: np.ndarray | None = None) -> float:
    """Gaussian noise standard deviation in 0-255 units (``skimage.restoration.estimate_sigma``,
    median absolute deviation of the finest diagonal wavelet band / 0.6745)."""
    from skimage.restoration import estimate_sigma

    return float(estimate_sigma(luma(rgb) if y is None else y))
