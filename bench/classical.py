"""Classical (non-learned) baselines per degradation type, from OpenCV and scikit-image.

Each baseline is a function ``(lq, param, sample) -> restored`` (HxWx3 uint8 RGB) with a small grid
of parameters; :func:`tune` picks the grid value with the best mean PSNR on *training* samples, so
validation images are never used to choose it. Types without a classical remover in OpenCV or
scikit-image get the closest generic filter (median for rain, snow and drops), and shadowed gets
none. The hole filler inpaints the pure-white pixels of the LQ image (holes are filled white, so
this is the hole mask plus any white scene pixels): classical inpainting needs a mask, the
restoration networks find the holes themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

Array = np.ndarray


def _bgr(f: Callable[[Array], Array]) -> Callable[[Array], Array]:
    return lambda rgb: cv2.cvtColor(f(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)), cv2.COLOR_BGR2RGB)


def nlm(lq: Array, h: float, sample: dict) -> Array:
    return _bgr(lambda bgr: cv2.fastNlMeansDenoisingColored(bgr, None, h, h, 7, 21))(lq)


def bilateral(lq: Array, sigma: float, sample: dict) -> Array:
    return cv2.bilateralFilter(lq, 5, sigma, 3)


def gamma(lq: Array, g: float, sample: dict) -> Array:
    """Brighten with a gamma curve, then stretch so the 99.5th percentile reaches white."""
    x = (lq.astype(np.float32) / 255) ** (1 / g)
    hi = max(float(np.percentile(x, 99.5)), 1e-3)
    return np.clip(x / hi * 255 + 0.5, 0, 255).astype(np.uint8)


def _guided(guide: Array, src: Array, radius: int, eps: float) -> Array:
    box = lambda a: cv2.boxFilter(a, -1, (2 * radius + 1, 2 * radius + 1))  # noqa: E731
    mean_i, mean_p = box(guide), box(src)
    a = (box(guide * src) - mean_i * mean_p) / (box(guide * guide) - mean_i**2 + eps)
    b = mean_p - a * mean_i
    return box(a) * guide + box(b)


def dark_channel_prior(lq: Array, omega: float, sample: dict, patch: int = 7, t0: float = 0.1) -> Array:
    """He et al. (2009): dark channel -> airlight from its brightest 0.1 % -> transmission, guided-filter refined."""
    img = lq.astype(np.float32) / 255
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (patch, patch))
    dark = cv2.erode(img.min(axis=2), kernel)
    n = max(1, dark.size // 1000)
    idx = np.argsort(dark.ravel())[-n:]
    airlight = img.reshape(-1, 3)[idx].max(axis=0).clip(0.05, 1)
    t = 1 - omega * cv2.erode((img / airlight).min(axis=2), kernel)
    t = _guided(img.mean(axis=2), t.astype(np.float32), 16, 1e-3).clip(t0, 1)
    out = (img - airlight) / t[..., None] + airlight
    return np.clip(out * 255 + 0.5, 0, 255).astype(np.uint8)


def inpaint(lq: Array, radius: float, sample: dict) -> Array:
    mask = np.all(lq == 255, axis=2).astype(np.uint8) * 255
    return _bgr(lambda bgr: cv2.inpaint(bgr, mask, radius, cv2.INPAINT_TELEA))(lq)


def unsharp(lq: Array, amount: float, sample: dict) -> Array:
    blur = cv2.GaussianBlur(lq.astype(np.float32), (0, 0), 1.5)
    return np.clip(lq + amount * (lq - blur) + 0.5, 0, 255).astype(np.uint8)


def median(lq: Array, k: float, sample: dict) -> Array:
    return cv2.medianBlur(lq, int(k))


@dataclass(frozen=True)
class Baseline:
    name: str
    fn: Callable[[Array, float, dict], Array]
    grid: tuple[float, ...]


BASELINES: dict[str, Baseline] = {
    "noisy": Baseline("OpenCV non-local means (h)", nlm, (10, 15, 20, 25, 30)),
    "jpeg-compressed": Baseline("OpenCV bilateral filter (sigma colour)", bilateral, (10, 20, 30, 50)),
    "low-light": Baseline("gamma + percentile stretch (gamma)", gamma, (1.5, 2.0, 2.5, 3.0, 4.0)),
    "hazy": Baseline("dark-channel prior, guided filter (omega)", dark_channel_prior, (0.6, 0.75, 0.9, 0.95)),
    "uncompleted": Baseline("OpenCV Telea inpainting of white pixels (radius)", inpaint, (3, 5, 9)),
    "motion-blurry": Baseline("unsharp mask (amount)", unsharp, (0.3, 0.6, 1.0)),
    "rainy": Baseline("median filter (size)", median, (3, 5)),
    "snowy": Baseline("median filter (size)", median, (3, 5)),
    "raindrop": Baseline("median filter (size)", median, (3, 5)),
}


def tune(task: str, train_samples: list[dict[str, Any]], psnr: Callable[[Array, Array], float]) -> float | None:
    """The grid value with the best mean PSNR on training samples (None: no baseline for the type)."""
    base = BASELINES.get(task)
    if base is None or not train_samples:
        return None
    return max(base.grid, key=lambda p: np.mean([psnr(base.fn(s["lq"], p, s), s["hq"]) for s in train_samples]))
