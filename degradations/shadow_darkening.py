"""SynShadow's darkening and the per-severity presets, shared by versions 1 and 2 of ``shadowed``.

SynShadow (Inoue & Yamasaki, TCSVT 2021): ``lq = matte * darken(img) + (1 - matte) * img`` in sRGB,
``darken`` per channel the line through ``(x1_c, 0)`` and ``(1, y2)``, clipped to [0, 1]. Both
``degradations.shadowed`` (version 2) and ``degradations.legacy.shadowed_v1`` sample with
:data:`PRESETS` and :func:`draw_darkening` and render with :func:`darken_under`: changing anything
here changes what both versions sample and how their recorded params replay (the legacy tests pin
their sha256).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from .base import Result, draw

# Shadow count, coverage and SynShadow darkening per severity (unchanged from version 1).
PRESETS: dict[str, dict[str, Any]] = {
    "light": {"count": (1, 2), "coverage": (0.05, 0.15), "x1": (0.0, 0.10), "y2": (0.55, 0.85)},
    "medium": {"count": (1, 3), "coverage": (0.10, 0.30), "x1": (0.0, 0.20), "y2": (0.30, 0.65)},
    "heavy": {"count": (1, 3), "coverage": (0.25, 0.40), "x1": (0.05, 0.25), "y2": (0.10, 0.35)},
    "random": {"count": (1, 3), "coverage": (0.05, 0.40), "x1": (0.0, 0.25), "y2": (0.10, 0.90)},
}


def draw_darkening(rng: np.random.Generator, spec: dict[str, Any]) -> tuple[float, float, list[float], float]:
    """SynShadow's per-channel affine darkening: ``(d_red, d_blue, x1 per channel, y2)``; red's
    intercept above blue's (bluish shadows under skylight), slope < 1 on every channel."""
    x1 = draw(rng, spec["x1"])
    mean, std = spec["channel_offset"]
    d_red, d_blue = (max(0.0, float(v)) for v in rng.normal(mean, std, size=2))
    x1_rgb = [min(x1 + d_red, 0.5), x1, max(x1 - d_blue, 0.0)]
    y2 = min(draw(rng, spec["y2"]), 0.98 * (1.0 - x1_rgb[0]))
    return d_red, d_blue, x1_rgb, y2


def darken_under(img: np.ndarray, matte: np.ndarray, params: dict[str, Any]) -> Result:
    """SynShadow's darkening weighted by the float32 ``matte``; the ``matte`` side map as uint8."""
    lut = darkening_lut(params["x1"], params["y2"])  # darken(v) - v per channel, 0..255 units
    diff = cv2.LUT(img, lut)
    out = img.astype(np.float32) + diff * matte[:, :, None]
    np.add(out, np.float32(0.5), out=out)
    np.clip(out, 0, 255, out=out)
    matte8 = (matte * np.float32(255.0) + np.float32(0.5)).astype(np.uint8)
    return Result(lq=out.astype(np.uint8), maps={"matte": matte8})


def darkening_lut(x1: list[float], y2: float) -> np.ndarray:
    """A 256x1x3 float32 table of ``darken(v) - v`` (0..255 units) for each RGB channel."""
    v = np.arange(256, dtype=np.float64) / 255.0
    columns = []
    for x1_c in x1:
        slope = y2 / (1.0 - x1_c)
        columns.append(np.clip(slope * (v - x1_c), 0.0, 1.0) - v)
    return (np.stack(columns, axis=-1) * 255.0).astype(np.float32).reshape(256, 1, 3)
