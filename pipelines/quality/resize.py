"""MATLAB's ``imresize`` (bicubic, antialiased when shrinking): the downscaling NIQE's second
scale is defined with, written as two dense weight matrices (``out = W_h @ img @ W_w.T``).

Keys' cubic kernel (a = -0.5), widened by ``1 / scale`` when shrinking; output pixel ``x``
(1-based) samples input ``u = x / scale + 0.5 (1 - 1 / scale)``; indices outside the image are
mirrored with the edge pixel repeated (MATLAB's and BasicSR's symmetric padding).
"""

from __future__ import annotations

import functools
import math

import numpy as np

__all__ = ["cubic", "imresize", "resize_weights"]

KERNEL_WIDTH = 4.0


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys' bicubic kernel with a = -0.5."""
    ax = np.abs(x)
    ax2, ax3 = ax**2, ax**3
    near = (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1)
    far = (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2))
    return near + far


@functools.lru_cache(maxsize=32)
def resize_weights(in_length: int, out_length: int, scale: float, antialias: bool = True) -> np.ndarray:
    """The ``(out_length, in_length)`` matrix that resizes one axis (read-only, cached)."""
    width = KERNEL_WIDTH / scale if scale < 1 and antialias else KERNEL_WIDTH
    x = np.arange(1, out_length + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    taps = math.ceil(width) + 2
    indices = left[:, None] + np.arange(taps)[None, :]  # 1-based input positions
    distance = u[:, None] - indices
    weights = scale * cubic(distance * scale) if scale < 1 and antialias else cubic(distance)
    weights /= weights.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(in_length), np.arange(in_length)[::-1]])  # symmetric, edge repeated
    columns = mirror[(indices.astype(np.int64) - 1) % (2 * in_length)]
    matrix = np.zeros((out_length, in_length))
    np.add.at(matrix, (np.repeat(np.arange(out_length), taps), columns.ravel()), weights.ravel())
    matrix.setflags(write=False)
    return matrix


def imresize(img: np.ndarray, scale: float, antialias: bool = True) -> np.ndarray:
    """Resize a 2-D float image by ``scale`` (output size ``ceil(size * scale)``), no rounding."""
    if img.ndim != 2:
        raise ValueError(f"imresize takes a 2-D image, got shape {img.shape}")
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    h, w = img.shape
    rows = resize_weights(h, math.ceil(h * scale), float(scale), antialias)
    cols = resize_weights(w, math.ceil(w * scale), float(scale), antialias)
    return rows @ np.asarray(img, dtype=np.float64) @ cols.T
