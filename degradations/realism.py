"""Measurements that compare synthetic degradations with real captures (used by tests and bench/realism.py).

- :func:`edge_width_10_90`: how sharp a shadow edge is: the distance, along the normal of the
  boundary, over which a matte rises from 10 % to 90 % (median over boundary points).
- :func:`darkening_ratio`: how dark a shadow is: luminance of LQ over HQ inside the shadow.
- :func:`illumination_cv`: how uneven a low-light image's lighting is: the coefficient of
  variation of the heavily blurred LQ/HQ linear-luminance ratio (a global exposure gives ~0).
- :func:`shadow_chroma_noise`: where and in which form low-light noise shows: relative colour
  noise in the shadows over the highlights, and colour over luma noise in the shadows.
- :func:`rain_streak_stats`: what the ``rain`` map's streaks look like: coverage, count per
  megapixel, width and peak opacity.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .color import uint8_to_linear

LUMA = np.array([0.299, 0.587, 0.114], np.float64)  # Rec. 601 weights on 8-bit sRGB codes
LUMA_LINEAR = np.array([0.2126, 0.7152, 0.0722], np.float32)  # Rec. 709 weights on linear light


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


def illumination_cv(hq: np.ndarray, lq: np.ndarray) -> float:
    """Spatial variation of the lighting: CV (std / mean) of the blurred LQ/HQ linear-luminance ratio.

    The ratio is the gain the degradation applied; a Gaussian blur of sigma = short side / 16
    removes the noise and texture, and a border one sigma wide is left out. Real night and indoor
    captures (lamps, windows, dark corners) give roughly 0.3-1; a global exposure scale gives ~0.
    """
    sigma = min(hq.shape[:2]) / 16
    y_hq = cv2.GaussianBlur(uint8_to_linear(hq) @ LUMA_LINEAR, (0, 0), sigma)
    y_lq = cv2.GaussianBlur(uint8_to_linear(lq) @ LUMA_LINEAR, (0, 0), sigma)
    m = int(sigma)
    ratio = (y_lq / np.maximum(y_hq, 1e-3))[m:-m, m:-m]
    return float(ratio.std() / ratio.mean())


def shadow_chroma_noise(clean: np.ndarray, noisy: np.ndarray) -> tuple[float, float]:
    """(relative chroma noise dark / bright, chroma / luma noise std in the dark), in 8-bit codes.

    ``clean`` is the same render without noise. Chroma noise is the std of the residual's R-G and
    B-G components; "relative" divides it by the clean mean luma. Dark is the clean image's lowest
    luma quartile (exact zeros left out), bright its highest. Shot plus read noise makes the first
    figure exceed 1; white-balance gains on the red and blue sites raise the second above the ~2.1
    of independent equal noise per channel.
    """
    c, res = clean.astype(np.float64), noisy.astype(np.float64) - clean.astype(np.float64)
    chroma = np.stack([res[..., 0] - res[..., 1], res[..., 2] - res[..., 1]], -1)
    luma_clean, luma_noise = c @ LUMA, res @ LUMA
    lo, hi = np.percentile(luma_clean, [25, 75])
    dark, bright = (luma_clean <= lo) & (luma_clean > 0.5), luma_clean >= hi

    def relative(mask: np.ndarray) -> float:
        return float(chroma[mask].std() / luma_clean[mask].mean())

    return relative(dark) / relative(bright), float(chroma[dark].std() / luma_noise[dark].std())


def rain_streak_stats(rain: np.ndarray, angle_deg: float, threshold: int = 26) -> dict[str, float]:
    """Coverage, streaks per megapixel, median width (px) and median peak opacity of a uint8 ``rain`` map.

    A streak is an 8-connected component of pixels >= ``threshold`` (0.1 of full scale); coverage
    is the fraction of such pixels. Width is the half-maximum area over the length along the rain
    direction ``angle_deg`` (degrees from vertical), for components at least 4 px long; components
    under 6 px are left out of width and opacity. NaN where no component qualifies.
    """
    h, w = rain.shape
    on = rain >= threshold
    n, labels, stats, _ = cv2.connectedComponentsWithStats(on.astype(np.uint8), connectivity=8)
    along = np.array([math.sin(math.radians(angle_deg)), math.cos(math.radians(angle_deg))])
    widths, peaks = [], []
    for i in range(1, n):
        x, y, bw, bh, area = stats[i]
        if area < 6:
            continue
        sub, own = rain[y : y + bh, x : x + bw].astype(np.float64), labels[y : y + bh, x : x + bw] == i
        peak = sub[own].max()
        peaks.append(peak / 255.0)
        ys, xs = np.nonzero(own & (sub >= peak / 2))  # the streak at half maximum
        proj = xs * along[0] + ys * along[1]
        length = proj.max() - proj.min() + 1
        if length >= 4:
            widths.append(len(xs) / length)
    return {
        "coverage": float(on.mean()),
        "per_mp": (n - 1) / (h * w / 1e6),
        "width": float(np.median(widths)) if widths else math.nan,
        "peak": float(np.median(peaks)) if peaks else math.nan,
    }
