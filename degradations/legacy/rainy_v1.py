"""rainy, params version 1: 1-3 streak layers screen-blended in white, veil only in ``heavy``.

Kept so that params recorded before version 2 replay bit for bit; new samples use
``degradations.rainy`` (fine sparse streaks and a veil for light/medium, drop radiance and
streak length from Garg & Nayar). Model: ``O = [1 - (1 - J)(1 - R)] * T + A * (1 - T)``
(Yang et al. 2017), ``R`` from :func:`degradations.rain_streaks.rain_layer`, the renderer both versions
share. Input PSNR on the bundled photos (median): light 27 dB, medium 17.8, heavy 12.4.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..base import Result, check_severity, draw, draw_int, draw_seed
from ..particles import composite, lerp, quantized_alpha
from ..rain_streaks import rain_layer

VERSION = 1
WHITE = np.ones(3, np.float32)  # the streak colour: Yang's screen blend

RANGES: dict[str, dict[str, Any]] = {
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
        "layers": (1, 3), "angle": (-30.0, 30.0), "jitter": 5.0, "length": (0.04, 0.12), "width": (1.0, 3.0),
        "density": (0.0006, 0.005), "intensity": (0.35, 0.9), "blur": (0.0, 1.0), "veil_p": 0.4,
        "transmission": (0.7, 0.95), "airlight": (0.7, 0.95),
    },
}


class RainyV1:
    """rainy, params version 1 (replays recorded params; samples for comparisons)."""

    name = "rainy"
    version = VERSION
    ranges: dict[str, dict[str, Any]] = RANGES

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...], severity: str) -> dict[str, Any]:
        """The version-1 sampler (without ``name``/``severity``/``version``), for comparisons."""
        spec = RANGES[check_severity(severity)]
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
