"""noisy: additive sensor-like noise on the sRGB image.

Variants
- ``gaussian``: AWGN, y = x + N(0, sigma^2), the CBSD68/DA-CLIP setting (sigma in 0-255 units).
- ``gray``: the same noise field on all three channels (luminance noise).
- ``poisson-gaussian``: heteroscedastic, variance a*x + b (Foi et al. 2008) with x in [0, 1].
- ``correlated``: channel-correlated Gaussian noise (BSRGAN style), random 3x3 covariance
  scaled so each channel's std is about sigma.

Presets are the benchmark levels sigma = 15 / 25 / 50; ``random`` covers sigma in [1, 55]
and all variants. Noise is added in float32 (in 0-255 units), then rounded and saturated to
uint8 once. Fields come from :func:`degradations.noise_fields.standard_normal` (exact normal
quantiles, seeded from the recorded ``seed``), which is what makes this type faster than
albumentations' GaussNoise while keeping a full 64-bit seed per sample.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from .base import Result, check_severity, choose, draw, draw_seed, log_uniform
from .color import quantize, to_float
from .noise_fields import standard_normal

VARIANTS = ("gaussian", "gray", "poisson-gaussian", "correlated")


class Noisy:
    name = "noisy"
    version = 1
    ranges: dict[str, dict[str, Any]] = {
        "light": {"variant": "gaussian", "sigma": 15.0},
        "medium": {"variant": "gaussian", "sigma": 25.0},
        "heavy": {"variant": "gaussian", "sigma": 50.0},
        "random": {
            "variant": {"gaussian": 0.5, "gray": 0.1, "poisson-gaussian": 0.2, "correlated": 0.2},
            "sigma": (1.0, 55.0),
            "shot": (1e-4, 3e-2),
        },
    }

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...], severity: str) -> dict[str, Any]:
        spec = self.ranges[check_severity(severity)]
        variant = spec["variant"] if isinstance(spec["variant"], str) else choose(rng, spec["variant"])
        params: dict[str, Any] = {"variant": variant, "sigma": draw(rng, spec["sigma"])}
        if variant == "poisson-gaussian":
            params["shot"] = log_uniform(rng, *spec["shot"])
        if variant == "correlated":
            params["correlation"] = [float(v) for v in rng.uniform(-1.0, 1.0, size=3)]
        params["seed"] = draw_seed(rng)
        return params

    def apply(self, img: np.ndarray, params: dict[str, Any]) -> Result:
        rng = np.random.default_rng(params["seed"])
        sigma = float(params["sigma"])  # 0-255 units
        variant = params["variant"]
        if variant == "gaussian":
            noise = standard_normal(rng, img.shape, scale=sigma)
        elif variant == "gray":
            noise = np.repeat(standard_normal(rng, img.shape[:2] + (1,), scale=sigma), 3, axis=2)
        elif variant == "correlated":
            noise = standard_normal(rng, img.shape) @ (_mixing_matrix(params["correlation"]).T * np.float32(sigma))
        elif variant == "poisson-gaussian":
            x = to_float(img)
            std = np.sqrt(np.float32(params["shot"]) * x + np.float32(sigma / 255.0) ** 2)
            return Result(lq=quantize(x + standard_normal(rng, img.shape) * std))
        else:
            raise ValueError(f"unknown noisy variant {variant!r}; valid: {', '.join(VARIANTS)}")
        # one pass: uint8 + float32 noise, rounded and saturated to uint8
        return Result(lq=cv2.add(img, noise, dtype=cv2.CV_8U))


def _mixing_matrix(correlation: list[float]) -> np.ndarray:
    """Cholesky factor of a unit-diagonal covariance built from three pairwise correlations."""
    r01, r02, r12 = (0.9 * float(c) for c in correlation)
    cov = np.array([[1.0, r01, r02], [r01, 1.0, r12], [r02, r12, 1.0]])
    eigval, eigvec = np.linalg.eigh(cov)
    cov = eigvec @ np.diag(np.clip(eigval, 1e-3, None)) @ eigvec.T  # nearest positive definite
    scale = np.sqrt(np.diag(cov))
    cov = cov / np.outer(scale, scale)
    return np.linalg.cholesky(cov).astype(np.float32)
