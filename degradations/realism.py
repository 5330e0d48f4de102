"""Measurements that compare synthetic degradations with real captures (used by tests and bench/realism.py).

- :func:`edge_width_10_90`: how sharp a shadow edge is: the distance, along the normal of the
  boundary, over which a matte rises from 10 % to 90 % (median over boundary points).
- :func:`darkening_ratio`: how dark a shadow is: luminance of LQ over HQ inside the shadow.
"""

from __future__ import annotations

import cv2
import numpy as np

LUMA = np.array([0.299, 0.587, 0.114], np.float64)


def edge_width_10_90(matte: np.ndarray, points: int = 400, reach: float = 40.0, step: float = 0.25) -> float:
    """Median 10-90 % transition width (px) of a float ``matte`` in [0, 1] across its 0.5 contour.

    Boundary pixels (matte within 0.15 of 0.5) are sampled evenly; for each, the matte is read
    (bilinear) along the gradient direction over ``+-reach`` px, and the width is the distance
    between the 0.1 and 0.9 crossings nearest the boundary. Profiles that never reach 0.1 or 0.9
    (thin parts, where the two edges merge) are skipped. NaN when no profile qualifies.
    """
    m = np.ascontiguousarray(matte, np.float32)
    gy, gx = np.gradient(m)
    norm = np.hypot(gx, gy)
    ys, xs = np.nonzero((np.abs(m - 0.5) < 0.15) & (norm > 1e-3))
    if len(ys) == 0:
        return float("nan")
    pick = np.linspace(0, len(ys) - 1, min(points, len(ys))).astype(np.int64)
    ys, xs = ys[pick], xs[pick]
    nx, ny = gx[ys, xs] / norm[ys, xs], gy[ys, xs] / norm[ys, xs]
    t = np.arange(-reach, reach + step, step, dtype=np.float32)
    map_x = (xs[:, None] + nx[:, None] * t[None, :]).astype(np.float32)
    map_y = (ys[:, None] + ny[:, None] * t[None, :]).astype(np.float32)
    profiles = cv2.remap(m, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    centre = len(t) // 2
    widths = []
    for p in profiles:
        below = np.flatnonzero(p[:centre + 1] <= 0.1)
        above = np.flatnonzero(p[centre:] >= 0.9)
        if len(below) and len(above):
            widths.append((centre + above[0] - below[-1]) * step)
    return float(np.median(widths)) if widths else float("nan")


def darkening_ratio(hq: np.ndarray, lq: np.ndarray, matte: np.ndarray, inside: float = 0.9) -> float:
    """Mean luminance of ``lq`` over that of ``hq`` where ``matte`` (float, 1 = shadow) exceeds ``inside``."""
    sel = matte > inside
    if not sel.any():
        return float("nan")
    y_lq = lq[sel].astype(np.float64) @ LUMA
    y_hq = hq[sel].astype(np.float64) @ LUMA
    return float(y_lq.mean() / max(y_hq.mean(), 1e-6))
