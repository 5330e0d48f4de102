"""JPEG blockiness: luma steps across the 8x8 coding grid against steps inside the blocks.

With ``d_h(i, j) = |Y(i, j+1) - Y(i, j)|`` (and ``d_v`` likewise down the columns), Wang,
Sheikh & Bovik ("No-reference perceptual quality assessment of JPEG compressed images", ICIP
2002, eq. 1-3) measure blocking as ``B_h``, the mean of ``d_h`` across the block boundaries
(``j = 8k - 1``), and activity as ``A_h``, the mean of ``d_h`` inside the blocks. We report

    blockiness = (B_h + B_v) / (A_h + A_v)

a single ratio (our normalisation, in the spirit of GBIM, Wu & Yuen 1997): about 1 for an image
with no grid (natural content, noise, blur), well above 1 when the 8x8 grid shows. The grid is
assumed to start at the top-left pixel, as it does for an uncropped JPEG.
"""

from __future__ import annotations

import numpy as np

from .color import luma

__all__ = ["BLOCK", "blockiness"]

BLOCK = 8


def _boundary_and_inside(y: np.ndarray) -> tuple[float, float, int]:
    """Sums of ``|d|`` along axis 1 across the grid and inside blocks, and the boundary count."""
    d = np.abs(np.diff(y, axis=1))
    on_grid = (np.arange(d.shape[1]) % BLOCK) == BLOCK - 1
    across, inside = d[:, on_grid], d[:, ~on_grid]
    return float(across.mean()) if across.size else np.nan, float(inside.mean()) if inside.size else np.nan, \
        int(across.size)


def blockiness(rgb: np.ndarray, y: np.ndarray | None = None) -> float:
    """The ratio above; NaN for an image under 9 pixels in both directions (no boundary)."""
    y = luma(rgb) if y is None else y
    parts = [_boundary_and_inside(y), _boundary_and_inside(y.T)]
    parts = [p for p in parts if p[2] > 0]
    if not parts:
        return float("nan")
    across = sum(p[0] for p in parts)
    inside = sum(p[1] for p in parts)
    return float(across / inside) if inside > 0 else (1.0 if across == 0 else float("inf"))
