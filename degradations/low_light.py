"""low-light: under-exposure plus Poisson-Gaussian sensor noise, simulated in linear light.

``linear`` variant (physically based, 75 % of samples): decode sRGB to linear radiance, scale
by the exposure factor ``k`` (2-5 stops down) and per-channel ``gains`` (a white-balance error of
up to +-8 %), add sensor noise of variance ``a x + b`` (Poisson shot noise in its Gaussian
approximation plus read noise, as in Brooks et al. 2019's unprocessing), clip, re-encode to
sRGB and quantise once.

``gamma`` variant (Lv et al. 2021, 25 % of samples): the classic curve on sRGB values,
beta * (alpha * I) ** gamma, then the same gains and sensor noise in linear light.

Noise: the shot level ``a`` is log-uniform (Brooks' range 1e-4 to 1.2e-2 for ``random``) and the
read level follows Brooks' fit, log b = 2.18 log a + 1.20 + N(0, 0.26); both are recorded.
Presets target the LOL benchmark (real low-light input PSNR about 7.8 dB): light k 0.15-0.3,
medium k 0.07-0.14, heavy k 0.04-0.07 (linear variant); the gamma variant's gamma/beta ranges
are chosen per preset to give the same darkness.
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

from .base import Result, check_severity, choose, draw, draw_seed, log_uniform
from .color import linear_to_srgb8, srgb_to_linear
from .noise_fields import standard_normal

VARIANTS = ("linear", "gamma")
_CODES = np.arange(256, dtype=np.float64) / 255.0
_CODES_LINEAR = srgb_to_linear(_CODES.astype(np.float32)).astype(np.float64)  # constant table
_VARIANT_SPLIT = {"linear": 0.75, "gamma": 0.25}
_GAINS = (0.92, 1.08)


class LowLight:
    name = "low-light"
    version = 1
    ranges: dict[str, dict[str, Any]] = {
        "light": {
            "variant": _VARIANT_SPLIT,
            "k": (0.15, 0.3),
            "shot": (1e-4, 2e-3),
            "gains": _GAINS,
            "alpha": (0.9, 1.0),
            "beta": (0.7, 1.0),
            "gamma": (1.7, 2.4),
        },
        "medium": {
            "variant": _VARIANT_SPLIT,
            "k": (0.07, 0.14),
            "shot": (2e-4, 5e-3),
            "gains": _GAINS,
            "alpha": (0.9, 1.0),
            "beta": (0.6, 0.9),
            "gamma": (2.4, 3.4),
        },
        "heavy": {
            "variant": _VARIANT_SPLIT,
            "k": (0.04, 0.07),
            "shot": (5e-4, 1.2e-2),
            "gains": _GAINS,
            "alpha": (0.9, 1.0),
            "beta": (0.55, 0.85),
            "gamma": (3.4, 4.6),
        },
        "random": {
            "variant": _VARIANT_SPLIT,
            "k": (0.03, 0.3),
            "shot": (1e-4, 1.2e-2),
            "gains": _GAINS,
            "alpha": (0.9, 1.0),
            "beta": (0.5, 1.0),
            "gamma": (1.5, 5.0),
        },
    }

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...], severity: str) -> dict[str, Any]:
        spec = self.ranges[check_severity(severity)]
        variant = choose(rng, spec["variant"])
        params: dict[str, Any] = {"variant": variant}
        if variant == "linear":
            params["k"] = draw(rng, spec["k"])
        else:
            params.update(
                alpha=draw(rng, spec["alpha"]), beta=draw(rng, spec["beta"]), gamma=draw(rng, spec["gamma"])
            )
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
