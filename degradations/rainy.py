"""rainy: rain streaks in 1-3 depth layers, screen-blended, with an optional veil (Rain100L/H-like).

Model (Yang et al. 2017, JORDER; the Photoshop recipe behind Rain100L/H):
``O = [1 - (1 - J)(1 - R)] * T + A * (1 - T)`` with ``J`` the clean image in [0, 1], ``R`` the
rain layer and ``T``/``A`` an optional veil (rain accumulation: distant rain scatters light
like fog). Each layer is sparse random seeds (values U(0.6, 1) x ``intensity``) convolved
with an anti-aliased rotated line kernel (``cv2.line`` LINE_AA, faded at both ends, widened by
a Gaussian of FWHM ``width``, at least a soft 1-px profile; sub-pixel streaks are fainter in
proportion) in one ``cv2.filter2D``; the layers are max-combined. Layers share one wind
direction ``angle`` with a small per-layer jitter; near layers (last in the list) are longer,
wider, brighter and sparser, far ones denser, fainter and slightly blurred.

Parameters (all recorded; ``seed`` regenerates the seed positions). Sizes are given for a
512-px-high image and scale with the height, so a params dict means the same rain at any size.
- ``angle``: shared streak angle in degrees from the vertical (positive: lower end to the right).
- ``layers``: one dict per layer: ``angle`` (deg), ``length`` (fraction of the image height),
  ``width`` (px), ``density`` (seeds per pixel), ``intensity`` (peak brightness of a streak,
  0-1), ``blur`` (extra Gaussian sigma, px).
- ``veil_transmission`` ``T`` (1.0 = no veil) and ``veil_airlight`` ``A`` (grey level 0-1).
In ``ranges`` the per-layer bounds hold for every layer (nearer layers toward the long, wide,
bright and sparse ends), ``jitter`` bounds each layer's angle around the shared one and
``veil_p`` is the chance of a veil.

Side map ``rain``: the rain layer ``R`` as uint8 (0..255), exactly the layer that was blended:
where it is 0 and there is no veil, the pixel is unchanged. Layers are rendered at most
1024 px on the long side and resized, so large photos stay fast.

Presets, input PSNR per image measured on the scikit-image photos (astronaut, chelsea, coffee;
12 seeds each; median and min-max): ``light`` (1 layer, sparse thin streaks) 27 dB, 24.5-30,
like Rain100L (26-27 dB); ``medium`` (2 layers) 17.8 dB, 15.5-20; ``heavy`` (3 dense layers
plus a veil) 12.4 dB, 11-14.5, like Rain100H (12-14 dB). ``random`` spans all of it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Result, check_severity, draw, draw_int, draw_seed
from .particles import (
    REFERENCE_SIDE,
    composite,
    convolve_kernels,
    gaussian_kernel,
    lerp,
    line_kernel,
    quantized_alpha,
    render_layer,
    resize_to,
    work_shape,
)

WHITE = np.ones(3, np.float32)


class Rainy:
    name = "rainy"
    version = 1
    ranges: dict[str, dict[str, Any]] = {
        "light": {
            "layers": 1, "angle": (-15.0, 15.0), "jitter": 3.0, "length": (0.04, 0.08), "width": (1.0, 1.6),
            "density": (0.0006, 0.0012), "intensity": (0.4, 0.65), "blur": (0.0, 0.3), "veil_p": 0.0,
        },
        "medium": {
            "layers": 2, "angle": (-20.0, 20.0), "jitter": 5.0, "length": (0.05, 0.10), "width": (1.0, 2.5),
            "density": (0.0012, 0.0024), "intensity": (0.45, 0.75), "blur": (0.0, 0.6), "veil_p": 0.0,
        },
        "heavy": {
            "layers": 3, "angle": (-30.0, 30.0), "jitter": 5.0, "length": (0.06, 0.12), "width": (1.5, 3.0),
            "density": (0.0009, 0.0021), "intensity": (0.55, 0.85), "blur": (0.0, 1.0), "veil_p": 1.0,
            "transmission": (0.8, 0.9), "airlight": (0.7, 0.95),
        },
        "random": {
            "layers": (1, 3), "angle": (-30.0, 30.0), "jitter": 5.0, "length": (0.04, 0.12),
            "width": (1.0, 3.0),
            "density": (0.0006, 0.005), "intensity": (0.35, 0.9), "blur": (0.0, 1.0), "veil_p": 0.4,
            "transmission": (0.7, 0.95), "airlight": (0.7, 0.95),
        },
    }

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...], severity: str) -> dict[str, Any]:
        spec = self.ranges[check_severity(severity)]
        angle = draw(rng, spec["angle"])
        n = draw_int(rng, spec["layers"])
        layers = []
        for i in range(n):
            depth = (i + 0.5) / n  # 0 far .. 1 near: near layers longer, wider, brighter, sparser
            near = float(np.clip(0.6 * depth + rng.uniform(0.0, 0.4), 0.0, 1.0))
            layers.append({
                "angle": angle + draw(rng, (-spec["jitter"], spec["jitter"])),
                "length": lerp(spec["length"], near),
                "width": lerp(spec["width"], near),
                "density": lerp(spec["density"], 1.0 - near),
                "intensity": lerp(spec["intensity"], near),
                "blur": lerp(spec["blur"], 1.0 - near),
            })
        veil = bool(rng.uniform() < spec["veil_p"])
        return {
            "angle": angle,
            "layers": layers,
            "veil_transmission": draw(rng, spec["transmission"]) if veil else 1.0,
            "veil_airlight": draw(rng, spec["airlight"]) if veil else 0.0,
            "seed": draw_seed(rng),
        }

    def apply(self, img: np.ndarray, params: dict[str, Any]) -> Result:
        h, w = img.shape[:2]
        rain = rain_layer((h, w), params["layers"], params["seed"])
        rain_u8, r = quantized_alpha(rain)
        # screen blend 1 - (1 - J)(1 - R) = J (1 - R) + 1 * R, then the veil
        lq = composite(img, r, WHITE, float(params["veil_transmission"]), float(params["veil_airlight"]))
        return Result(lq=lq, maps={"rain": rain_u8})


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

