"""scikit-image's bundled photos at small sizes, and degraded copies of them, for the quality tests."""

from __future__ import annotations

import functools

import cv2
import numpy as np
from skimage import data

NAMES = ("astronaut", "camera", "coffee", "chelsea", "rocket", "motorcycle")
DEGRADATIONS = ("blur2", "noise15", "jpeg10")


@functools.cache
def photo(name: str, side: int = 256) -> np.ndarray:
    """The photo as HxWx3 uint8 RGB, its long side resized to ``side`` (area filter)."""
    img = data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(data, name)()
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    scale = side / max(img.shape[:2])
    size = (round(img.shape[1] * scale), round(img.shape[0] * scale))
    out = cv2.resize(img, size, interpolation=cv2.INTER_AREA) if scale < 1 else img
    out.setflags(write=False)
    return out


def blurred(rgb: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    return cv2.GaussianBlur(rgb, (0, 0), sigma)


def noised(rgb: np.ndarray, sigma: float = 15.0, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0.0, sigma, rgb.shape)
    return np.clip(np.round(rgb + noise), 0, 255).astype(np.uint8)


def jpeg(rgb: np.ndarray, quality: int = 10) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])


def degraded(rgb: np.ndarray, how: str) -> np.ndarray:
    return {"blur2": blurred, "noise15": noised, "jpeg10": jpeg}[how](rgb)
