"""Rain streak layers, the renderer versions 1 and 2 of ``rainy`` share.

Each layer is sparse random seeds convolved with an anti-aliased rotated line kernel widened by a
Gaussian of FWHM ``width`` (at least a soft 1-px profile); the layers are max-combined. Both
``degradations.rainy`` (version 2) and ``degradations.legacy.rainy_v1`` call :func:`rain_layer`
with their recorded ``layers`` and ``seed``: changing anything here changes how recorded params of
both versions replay (the legacy tests pin their sha256).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .particles import (
    REFERENCE_SIDE,
    convolve_kernels,
    gaussian_kernel,
    line_kernel,
    render_layer,
    resize_to,
    work_shape,
)


def rain_layer(shape: tuple[int, int], layers: list[dict[str, Any]], seed: int) -> np.ndarray:
    """Max-combined streak layers in [0, 1], float32 of ``shape``."""
    h, w = shape
    wh, ww = work_shape(h, w)
    unit = wh / REFERENCE_SIDE
    rng = np.random.default_rng(seed)
    out = np.zeros((wh, ww), np.float32)
    for layer in layers:
        kernel = line_kernel(max(1.0, layer["length"] * wh), layer["angle"])
        # cross-section: the 1-px line widened by a Gaussian of FWHM ``width`` (at least a soft
        # 1-px profile: a streak is a motion-blurred drop, never a hard aliased line)
        width_px = layer["width"] * unit
        sigma = max(0.45, float(np.hypot(max(width_px, 1.0) / 2.355, layer["blur"] * unit)))
        kernel = convolve_kernels(kernel, gaussian_kernel(sigma))
        kernel /= kernel.max()
        intensity = float(layer["intensity"]) * min(1.0, width_px)  # sub-pixel streaks are fainter
        density = float(layer["density"])
        streaks = render_layer(rng, (wh, ww), density, kernel, 0.6 * intensity, intensity, unit)
        np.maximum(out, np.minimum(streaks, np.float32(1.0)), out=out)
    return resize_to(out, h, w).clip(0.0, 1.0)
