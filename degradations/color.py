"""Array normalisation and colour-space helpers shared by the degradation types.

``to_rgb8`` is the one documented normaliser for arrays: grayscale (HxW or HxWx1), RGBA
(composited over white, the usual convention for photos with transparency), 16-bit, float
and bool images all become HxWx3 uint8 RGB. Decoding files (EXIF rotation, palette, CMYK)
happens in ``pipelines.common.images.load_image``, which ends by calling this function.
"""

from __future__ import annotations

import cv2
import numpy as np

_SRGB_TO_LINEAR_LUT: np.ndarray | None = None
_LINEAR_GRID = 1 << 16
_LINEAR_TO_SRGB8_LUT: np.ndarray | None = None


def to_rgb8(img: np.ndarray) -> np.ndarray:
    """Return ``img`` as a C-contiguous HxWx3 uint8 RGB array (a copy only when needed)."""
    arr = np.asarray(img)
    if arr.ndim not in (2, 3) or arr.size == 0:
        raise ValueError(f"expected an HxW or HxWxC image, got shape {arr.shape}")
    if arr.ndim == 3 and arr.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"expected 1-4 channels, got {arr.shape[2]} (shape {arr.shape})")
    arr = _to_uint8(arr)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    channels = arr.shape[2]
    if channels in (2, 4):  # gray+alpha or RGBA: composite over white
        colour, alpha = arr[:, :, :-1].astype(np.float32), arr[:, :, -1:].astype(np.float32) / 255.0
        arr = np.clip(colour * alpha + 255.0 * (1.0 - alpha) + 0.5, 0, 255).astype(np.uint8)
        channels -= 1
    if channels == 1:
        arr = np.repeat(arr, 3, axis=2)
    return np.ascontiguousarray(arr)


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if arr.dtype == np.uint16:
        return ((arr.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)):
            raise ValueError("image contains NaN or infinite values")
        return np.clip(np.rint(arr * 255.0), 0, 255).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.integer):
        top = 65535 if arr.max(initial=0) > 255 else 255
        return np.clip(np.rint(arr.astype(np.float64) * (255.0 / top)), 0, 255).astype(np.uint8)
    raise ValueError(f"unsupported image dtype {arr.dtype}")


def to_float(img: np.ndarray) -> np.ndarray:
    """uint8 -> float32 in [0, 1]."""
    return img.astype(np.float32) * np.float32(1.0 / 255.0)


def quantize(img: np.ndarray) -> np.ndarray:
    """float in [0, 1] -> uint8, rounding to nearest and clipping (NaN becomes 0)."""
    out = np.nan_to_num(img, nan=0.0, posinf=1.0, neginf=0.0) * np.float32(255.0) + np.float32(0.5)
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """Exact sRGB decoding of float values in [0, 1] (float32 out)."""
    x = np.asarray(x, dtype=np.float32)
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    """Exact sRGB encoding of float linear values (clipped to [0, 1] first)."""
    x = np.clip(np.asarray(x, dtype=np.float32), 0.0, 1.0)
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * np.power(x, 1.0 / 2.4) - 0.055).astype(np.float32)


def uint8_to_linear(img: np.ndarray) -> np.ndarray:
    """uint8 sRGB -> float32 linear through a 256-entry table (fast path)."""
    global _SRGB_TO_LINEAR_LUT
    if _SRGB_TO_LINEAR_LUT is None:
        _SRGB_TO_LINEAR_LUT = srgb_to_linear(np.arange(256, dtype=np.float32) / 255.0)
    return cv2.LUT(img, _SRGB_TO_LINEAR_LUT)


def linear_to_srgb8(x: np.ndarray) -> np.ndarray:
    """float linear -> uint8 sRGB (clipped, rounded) through a 65,536-entry table.

    About 6x faster than ``quantize(linear_to_srgb(x))`` and equal to it except at rounding
    ties (at most one code, on ~0.1% of values).
    """
    global _LINEAR_TO_SRGB8_LUT
    if _LINEAR_TO_SRGB8_LUT is None:
        grid = (np.arange(_LINEAR_GRID, dtype=np.float64) / (_LINEAR_GRID - 1)).astype(np.float32)
        _LINEAR_TO_SRGB8_LUT = quantize(linear_to_srgb(grid))
    x = np.clip(np.asarray(x, dtype=np.float32), 0.0, 1.0)
    flat = x.reshape(1, -1) if x.ndim < 2 else x.reshape(x.shape[0], -1)
    index = cv2.multiply(flat, float(_LINEAR_GRID - 1), dtype=cv2.CV_16U)  # rounds and saturates
    return np.take(_LINEAR_TO_SRGB8_LUT, index).reshape(x.shape)


def psnr(a: np.ndarray, b: np.ndarray, data_range: float = 255.0) -> float:
    """PSNR in dB between two images of the same shape (inf when identical)."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(data_range**2 / mse)
