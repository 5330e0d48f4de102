"""Relative depth for haze without downloaded weights (research report, section 2).

Every provider returns float32 depth in [0, 1], larger = farther, 1 = the far field (horizon and
sky); ``hazy`` turns it into transmission with t = t_far ** d, so only relative depth matters.

- :func:`heuristic_depth`: a flat-ground perspective prior below a random, slightly rolled
  horizon (far = 1 above it), mixed with Zhu et al.'s colour-attenuation cue (bright and
  desaturated = far, which mostly finds sky), then refined by a guided filter with the image as
  guide so depth edges follow image edges (no halos).
- :func:`uniform_depth`: constant depth, i.e. homogeneous haze with no distance cue.
- :func:`user_depth`: a depth map computed elsewhere (metres, disparity-derived depth, any
  non-negative units), scaled by its maximum.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

# Zhu, Mai & Shao 2015 (CAP): d = theta0 + theta1 * V + theta2 * S.
CAP_THETA = (0.121779, 0.959710, -0.780245)
GUIDED_LOW_SIDE = 256  # the guided filter runs at about this short side (He & Sun's fast variant)


def horizon_prior(shape: tuple[int, ...], horizon: float, ground_scale: float, roll: float) -> np.ndarray:
    """Depth of a flat ground plane seen by a level camera, and far (1) above the horizon.

    ``horizon`` is the horizon row at the image centre as a fraction of the height, ``roll`` its
    tilt in degrees, ``ground_scale`` (fraction of the height) how fast the ground gets near:
    below the horizon d = s / (y - y_h + s), so d = 1 at the horizon and s / (1 - y_h + s) at
    the bottom row.
    """
    h, w = int(shape[0]), int(shape[1])
    ys = ((np.arange(h, dtype=np.float32) + 0.5) / h)[:, None]
    xs = ((np.arange(w, dtype=np.float32) + 0.5) / h)[None, :]  # in units of the height
    y_h = np.float32(horizon) + np.float32(math.tan(math.radians(roll))) * (xs - np.float32(0.5 * w / h))
    below = np.maximum(ys - y_h, np.float32(0.0))
    s = np.float32(ground_scale)
    return (s / (below + s)).astype(np.float32)


def colour_attenuation(img: np.ndarray) -> np.ndarray:
    """Zhu et al.'s colour-attenuation depth cue from HSV value and saturation, clipped to [0, 1]."""
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
    t0, t1, t2 = CAP_THETA
    v = hsv[:, :, 2].astype(np.float32) * np.float32(t1 / 255.0)
    s = hsv[:, :, 1].astype(np.float32) * np.float32(t2 / 255.0)
    return np.clip(v + s + np.float32(t0), 0.0, 1.0)


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter (gray guide), run at reduced resolution for large images.

    Box filters use BORDER_REFLECT; the linear coefficients are upsampled bilinearly and applied
    to the full-resolution guide (the "fast guided filter").
    """
    h, w = guide.shape[:2]
    factor = max(1, min(h, w) // GUIDED_LOW_SIDE)
    if factor > 1:
        size = (max(1, w // factor), max(1, h // factor))
        g = cv2.resize(guide, size, interpolation=cv2.INTER_AREA)
        p = cv2.resize(src, size, interpolation=cv2.INTER_AREA)
    else:
        g, p = guide, src
    r = min(max(1, round(radius / factor)), (min(g.shape[:2]) - 1) // 2)
    if r < 1:
        return src.astype(np.float32)
    ksize = (2 * r + 1, 2 * r + 1)

    def box(x: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(x, cv2.CV_32F, ksize, borderType=cv2.BORDER_REFLECT)

    mean_g, mean_p = box(g), box(p)
    var_g = box(g * g) - mean_g * mean_g
    cov_gp = box(g * p) - mean_g * mean_p
    a = cov_gp / (var_g + np.float32(eps))
    b = mean_p - a * mean_g
    mean_a, mean_b = box(a), box(b)
    if factor > 1:
        mean_a = cv2.resize(mean_a, (w, h), interpolation=cv2.INTER_LINEAR)
        mean_b = cv2.resize(mean_b, (w, h), interpolation=cv2.INTER_LINEAR)
    return mean_a * guide + mean_b


def heuristic_depth(
    img: np.ndarray,
    horizon: float,
    ground_scale: float,
    roll: float,
    cap_weight: float = 0.2,
    radius_fraction: float = 0.03,
    eps: float = 1e-3,
) -> np.ndarray:
    """guided_filter((1 - w) * horizon_prior + w * min_filter(colour_attenuation), image) in [0, 1].

    As in Zhu et al., the colour-attenuation cue is min-filtered over the guided filter's window
    first: that removes its pixel-level texture (which the guided filter would copy into depth)
    and keeps small white objects from reading as far.
    """
    radius = max(1, round(radius_fraction * min(img.shape[:2])))
    cap = colour_attenuation(img)
    cap = cv2.erode(
        cap,
        cv2.getStructuringElement(cv2.MORPH_RECT, (2 * radius + 1, 2 * radius + 1)),
        borderType=cv2.BORDER_REFLECT,
    )
    prior = horizon_prior(img.shape, horizon, ground_scale, roll)
    coarse = np.float32(1.0 - cap_weight) * prior + np.float32(cap_weight) * cap
    guide = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32) * np.float32(1.0 / 255.0)
    refined = guided_filter(guide, coarse, radius, eps)
    return np.clip(refined, 0.0, 1.0)


def uniform_depth(shape: tuple[int, ...], value: float) -> np.ndarray:
    """Constant depth ``value`` (homogeneous haze)."""
    return np.full(tuple(int(n) for n in shape[:2]), np.float32(value), dtype=np.float32)


def user_depth(depth: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Validate a user depth map (HxW or HxWx1, finite, >= 0, larger = farther); scale to [0, 1].

    An all-zero map gives zero depth everywhere (no haze).
    """
    arr = np.asarray(depth)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim != 2 or arr.shape != tuple(shape[:2]):
        raise ValueError(
            f"depth must be an HxW map matching the image {tuple(shape[:2])}, got shape {arr.shape}"
        )
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"depth must be a real numeric array, got dtype {arr.dtype}")
    arr = arr.astype(np.float32)
    if not np.all(np.isfinite(arr)):
        raise ValueError("depth contains NaN or infinite values; give sky a large finite depth instead")
    if arr.min(initial=0.0) < 0:
        raise ValueError("depth must be non-negative (larger = farther)")
    top = float(arr.max(initial=0.0))
    return arr / np.float32(top) if top > 0 else arr
