"""Grey levels the measures work on, from HxWx3 uint8 RGB.

Two conventions, because the reference implementations differ: :func:`luma` is Rec. 601 Y'
(``0.299 R + 0.587 G + 0.114 B``, full range 0-255, what OpenCV's ``RGB2GRAY`` computes) for the
classical measures; :func:`y_channel` is BT.601 studio-swing Y (16-235, MATLAB's ``rgb2ycbcr``),
rounded, the input BasicSR and MATLAB give NIQE.
"""

from __future__ import annotations

import numpy as np

__all__ = ["as_rgb8", "luma", "y_channel"]

_Y_STUDIO_BGR = np.array([24.966, 128.553, 65.481])  # B, G, R weights of MATLAB's rgb2ycbcr, for [0, 1] input


def as_rgb8(rgb: np.ndarray) -> np.ndarray:
    """Check that ``rgb`` is an HxWx3 uint8 array (the one input every measure takes)."""
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        got = f"{rgb.dtype} array of shape {rgb.shape}" if isinstance(rgb, np.ndarray) else type(rgb).__name__
        raise ValueError(f"expected an HxWx3 uint8 RGB array, got a {got}")
    if rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise ValueError(f"empty image of shape {rgb.shape}")
    return rgb


def luma(rgb: np.ndarray) -> np.ndarray:
    """Rec. 601 luma Y' as float64 in 0-255 (not rounded)."""
    rgb = as_rgb8(rgb).astype(np.float64)
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def y_channel(rgb: np.ndarray) -> np.ndarray:
    """BT.601 studio-swing Y (16-235), rounded, as float64.

    The arithmetic is BasicSR's (``to_y_channel``: float32 ``[0, 1]`` input, BGR order, a float32
    round trip) so that values within an ulp of ``x.5`` round the same way; plain float64 moves
    a few pixels per photo by one grey level, and NIQE of scikit-image's astronaut by 1 %."""
    bgr = as_rgb8(rgb)[..., ::-1].astype(np.float32) / np.float32(255.0)
    y = ((np.dot(bgr, _Y_STUDIO_BGR) + 16.0) / 255.0).astype(np.float32) * np.float32(255.0)
    return np.round(y).astype(np.float64)
