"""low-light, params version 1: global under-exposure plus Poisson-Gaussian sensor noise in linear light.

Kept so that params recorded before version 2 replay bit for bit; new samples use
``degradations.low_light`` (spatially varying illumination, noise through a camera pipeline).

``linear`` variant (75 % of samples): decode sRGB to linear radiance, scale by the exposure factor
``k`` (2-5 stops down) and per-channel ``gains`` (a white-balance error of up to +-8 %), add
sensor noise of variance ``a x + b`` (Brooks et al. 2019), clip, re-encode to sRGB and quantise.
``gamma`` variant (Lv et al. 2021, 25 %): beta * (alpha * I) ** gamma on sRGB values, then the same
gains and sensor noise in linear light. The read level follows Brooks' fit,
log b = 2.18 log a + 1.20 + N(0, 0.26). Input PSNR on the bundled photos: light 10-15.6 dB,
medium 8-11.6, heavy 7-9.5 (LOL: about 7.8).
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

from ..base import Result, check_severity, choose, draw, draw_seed, log_uniform
from ..color import linear_to_srgb8, srgb_to_linear
from ..noise_fields import standard_normal

VARIANTS = ("linear", "gamma")
_CODES = np.arange(256, dtype=np.float64) / 255.0
_CODES_LINEAR = srgb_to_linear(_CODES.astype(np.float32)).astype(np.float64)  # constant table
_VARIANT_SPLIT = {"linear": 0.75, "gamma": 0.25}
_GAINS = (0.92, 1.08)

VERSION = 1

RANGES: dict[str, dict[str, Any]] = {
    "light": {
        "variant": _VARIANT_SPLIT, "k": (0.15, 0.3), "shot": (1e-4, 2e-3), "gains": _GAINS,
        "alpha": (0.9, 1.0), "beta": (0.7, 1.0), "gamma": (1.7, 2.4),
    },
    "medium": {
        "variant": _VARIANT_SPLIT, "k": (0.07, 0.14), "shot": (2e-4, 5e-3), "gains": _GAINS,
        "alpha": (0.9, 1.0), "beta": (0.6, 0.9), "gamma": (2.4, 3.4),
    },
    "heavy": {
        "variant": _VARIANT_SPLIT, "k": (0.04, 0.07), "shot": (5e-4, 1.2e-2), "gains": _GAINS,
        "alpha": (0.9, 1.0), "beta": (0.55, 0.85), "gamma": (3.4, 4.6),
    },
    "random": {
        "variant": _VARIANT_SPLIT, "k": (0.03, 0.3), "shot": (1e-4, 1.2e-2), "gains": _GAINS,
        "alpha": (0.9, 1.0), "beta": (0.5, 1.0), "gamma": (1.5, 5.0),
    },
}


class LowLightV1:
    """low-light, params version 1 (replays recorded params; samples for comparisons)."""

    name = "low-light"
    version = VERSION
    ranges: dict[str, dict[str, Any]] = RANGES

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...], severity: str) -> dict[str, Any]:
        """The version-1 sampler (without ``name``/``severity``/``version``), for comparisons."""
        spec = RANGES[check_severity(severity)]
        variant = choose(rng, spec["variant"])
        params: dict[str, Any] = {"variant": variant}
        if variant == "linear":
            params["k"] = draw(rng, spec["k"])
        else:
            params.update(alpha=draw(rng, spec["alpha"]), beta=draw(rng, spec["beta"]), gamma=draw(rng, spec["gamma"]))
        params["gains"] = [float(g) for g in rng.uniform(*spec["gains"], size=3)]
        a = log_uniform(rng, *spec["shot"])
        params["a"] = a
        params["b"] = float(math.exp(2.18 * math.log(a) + 1.20 + rng.normal(0.0, 0.26)))
        params["seed"] = draw_seed(rng)
        return params

    def apply(self, img: np.ndarray, params: dict[str, Any]) -> Result:
        dark = cv2.LUT(img, dark_table(params))
        rng = np.random.default_rng(int(params["seed"]))
        std = np.sqrt(dark * np.float32(params["a"]) + np.float32(params["b"]))
        noisy = dark + standard_normal(rng, dark.shape) * std
        return Result(lq=linear_to_srgb8(noisy))


def dark_table(params: dict[str, Any]) -> np.ndarray:
    """(1, 256, 3) float32 table: sRGB code -> darkened linear value per channel, noise-free."""
    variant = params["variant"]
    if variant == "linear":
        base = _CODES_LINEAR * float(params["k"])
    elif variant == "gamma":
        curve = float(params["beta"]) * (float(params["alpha"]) * _CODES) ** float(params["gamma"])
        base = srgb_to_linear(curve.astype(np.float32)).astype(np.float64)
    else:
        raise ValueError(f"unknown low-light variant {variant!r}; valid: {', '.join(VARIANTS)}")
    table = base[:, None] * np.asarray(params["gains"], dtype=np.float64)[None, :]
    return np.ascontiguousarray(np.clip(table, 0.0, 1.0).astype(np.float32)[None])
