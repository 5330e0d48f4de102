"""Shared machinery for the weather types (rainy, snowy, raindrop).

- A *working resolution*: particle layers are rendered at most ``MAX_WORK_SIDE`` pixels on the
  long side and resized back, so a 4000x3000 photo costs little more than a 1024 px one. Sizes
  in params are fractions of the image or pixels of a 512-px reference image, scaled with the
  image, so a recorded params dict means the same weather at any resolution.
- Kernels: an anti-aliased, length-tapered line (rain streaks, flake fall streaks), an
  anti-aliased disk (flakes), a Gaussian (defocus), combined by small kernel convolutions.
- Layers: sparse impulses (one per particle, the particle's opacity as value) convolved with a
  particle kernel in one ``cv2.filter2D`` call: "draw then blur", the vectorised way to stamp
  thousands of identical sprites. The canvas is padded by the kernel radius so particles
  centred just outside the frame still reach into it.
- Compositing: ``[J (1 - alpha) + C alpha] T + A (1 - T)`` fused straight to uint8; the veil
  ``T``/``A`` is the atmospheric-scattering term of heavy rain and snow.

All functions are pure; randomness comes only through an explicit ``np.random.Generator``.
Versions 1 and 2 of rainy and raindrop render through these functions: changing them changes how
recorded params of both versions replay (the legacy tests pin their sha256).
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

MAX_WORK_SIDE = 1024
REFERENCE_SIDE = 512.0  # sizes and densities in params are given for a 512-px image
_AA_SHIFT = 4  # cv2 drawing: coordinates in 1/16 pixel


def work_shape(h: int, w: int, max_side: int = MAX_WORK_SIDE) -> tuple[int, int]:
    """Shape at which particle layers are rendered (the image shape unless it is large)."""
    scale = min(1.0, max_side / max(h, w, 1))
    return max(1, round(h * scale)), max(1, round(w * scale))


def resize_to(arr: np.ndarray, h: int, w: int) -> np.ndarray:
    """Resize an image or layer to ``(h, w)``: bilinear up, area down, no-op at the same shape."""
    if arr.shape[:2] == (h, w):
        return arr
    interp = cv2.INTER_LINEAR if h >= arr.shape[0] else cv2.INTER_AREA
    return cv2.resize(arr, (w, h), interpolation=interp)


def lerp(bounds: Any, t: float) -> float:
    """Linear interpolation inside ``(lo, hi)`` at ``t`` in [0, 1]; a scalar is returned as is."""
    if isinstance(bounds, (tuple, list)):
        lo, hi = bounds
        return float(lo + (hi - lo) * t)
    return float(bounds)


def gaussian_kernel(sigma: float) -> np.ndarray:
    """Normalised 2-D Gaussian kernel (1x1 identity for sigma < 0.3)."""
    if sigma < 0.3:
        return np.ones((1, 1), np.float32)
    g = cv2.getGaussianKernel(2 * math.ceil(3 * sigma) + 1, sigma, cv2.CV_32F)
    return (g @ g.T).astype(np.float32)


def convolve_kernels(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Full 2-D convolution of two small kernels (output size ha+hb-1 x wa+wb-1).

    Both kernels used here are point-symmetric, so OpenCV's correlation equals convolution.
    """
    if b.size == 1:
        return (a * b.flat[0]).astype(np.float32)
    if a.size == 1:
        return (b * a.flat[0]).astype(np.float32)
    ph, pw = b.shape[0] // 2, b.shape[1] // 2  # kernels here are odd-sized
    padded = cv2.copyMakeBorder(a.astype(np.float32), ph, ph, pw, pw, cv2.BORDER_CONSTANT, value=0)
    out = cv2.filter2D(padded, -1, b.astype(np.float32), borderType=cv2.BORDER_CONSTANT)
    return _trim(out)


def _trim(kernel: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Drop all-zero border rows/cols, keeping the kernel centred (odd sizes)."""
    peak = float(kernel.max()) if kernel.size else 0.0
    if peak <= 0:
        return np.ones((1, 1), np.float32)
    rows = np.flatnonzero(kernel.max(axis=1) > eps * peak)
    cols = np.flatnonzero(kernel.max(axis=0) > eps * peak)
    ch, cw = kernel.shape[0] // 2, kernel.shape[1] // 2
    rh = max(ch - rows[0], rows[-1] - ch)
    rw = max(cw - cols[0], cols[-1] - cw)
    return np.ascontiguousarray(kernel[ch - rh : ch + rh + 1, cw - rw : cw + rw + 1], dtype=np.float32)


def line_kernel(length: float, angle_deg: float, taper: float = 0.25) -> np.ndarray:
    """Anti-aliased 1-px line of ``length`` px through the centre, peak 1.

    ``angle_deg`` is measured from the vertical: 0 is a vertical line, positive angles tilt the
    lower end to the right (rain blown to the right). ``taper`` is the fraction of the length
    over which each end fades out (a streak is a moving drop, brighter in the middle).
    """
    length = max(float(length), 1.0)
    half = length / 2.0
    theta = math.radians(angle_deg)
    dx, dy = math.sin(theta), math.cos(theta)
    r = math.ceil(half) + 1
    size = 2 * r + 1
    canvas = np.zeros((size, size), np.float32)
    scale = 1 << _AA_SHIFT
    p0 = (round((r - dx * half) * scale), round((r - dy * half) * scale))
    p1 = (round((r + dx * half) * scale), round((r + dy * half) * scale))
    cv2.line(canvas, p0, p1, 1.0, 1, cv2.LINE_AA, _AA_SHIFT)
    if taper > 0 and length > 2:
        ys, xs = np.mgrid[-r : r + 1, -r : r + 1].astype(np.float32)
        t = np.abs(xs * dx + ys * dy) / half  # 0 at the centre, 1 at the ends
        fade = np.clip((1.0 - t) / max(taper, 1e-3), 0.0, 1.0)
        canvas *= np.sqrt(fade)
    return _normalise_peak(_trim(canvas))


def disk_kernel(radius: float) -> np.ndarray:
    """Anti-aliased disk (coverage approximated by a 1-px linear edge), scaled to its area when tiny."""
    radius = max(float(radius), 0.05)
    r = math.ceil(radius + 1)
    ys, xs = np.mgrid[-r : r + 1, -r : r + 1].astype(np.float32)
    disk = np.clip(radius + 0.5 - np.sqrt(xs * xs + ys * ys), 0.0, 1.0)
    if radius < 0.7:  # sub-pixel flake: its total coverage is the disk's area
        disk *= min(1.0, math.pi * radius * radius) / max(float(disk.sum()), 1e-6)
    return _trim(disk.astype(np.float32))


def _normalise_peak(kernel: np.ndarray) -> np.ndarray:
    peak = float(kernel.max())
    return (kernel / peak).astype(np.float32) if peak > 0 else kernel


def scatter_impulses(
    rng: np.random.Generator, shape: tuple[int, int], count: int, lo: float, hi: float
) -> np.ndarray:
    """A float32 canvas with ``count`` impulses at uniform random pixels, values U(lo, hi).

    Coincident impulses keep the larger value (two drops at one pixel are one drop).
    """
    canvas = np.zeros(shape, np.float32)
    if count <= 0 or canvas.size == 0:
        return canvas
    idx = rng.integers(0, canvas.size, size=count)
    values = rng.uniform(lo, hi, size=count).astype(np.float32)
    order = np.argsort(values, kind="stable")  # later writes win: the largest value lands last
    canvas.reshape(-1)[idx[order]] = values[order]
    return canvas


def render_layer(
    rng: np.random.Generator,
    shape: tuple[int, int],
    density: float,
    kernel: np.ndarray,
    lo: float,
    hi: float,
    unit: float = 1.0,
) -> np.ndarray:
    """Particles at ``density`` per pixel of the reference size, each an impulse U(lo, hi)
    convolved with ``kernel``.

    ``unit`` is the image's pixel size relative to the reference (0.5 for an image half as
    large): the count scales by ``1 / unit**2`` so the same params cover the same fraction of
    any image. It is floored at a quarter of the geometric-mean size, which bounds the count for
    extreme aspect ratios (and at most 8 particles per pixel). Particles are scattered over the frame padded by the kernel radius,
    so the layer has no empty band along the borders. Returns float32 ``shape`` (not clipped).
    """
    h, w = shape
    kh, kw = kernel.shape
    ph, pw = kh // 2, kw // 2
    big = (h + 2 * ph, w + 2 * pw)
    unit = max(float(unit), math.sqrt(h * w) / (4.0 * REFERENCE_SIDE), 1e-6)
    count = int(rng.poisson(density * big[0] * big[1] / (unit * unit)))
    count = min(count, 8 * big[0] * big[1])  # only tiny images hit this: the layer is saturated anyway
    canvas = scatter_impulses(rng, big, count, lo, hi)
    if kernel.size > 1:
        canvas = cv2.filter2D(canvas, -1, kernel, borderType=cv2.BORDER_CONSTANT)
    return np.ascontiguousarray(canvas[ph : ph + h, pw : pw + w])


def composite(
    img: np.ndarray,
    alpha: np.ndarray,
    colour: np.ndarray,
    transmission: float = 1.0,
    airlight: float | np.ndarray = 0.0,
) -> np.ndarray:
    """``[J (1 - alpha) + C alpha] * T + A (1 - T)`` on uint8 ``img``, straight to uint8.

    ``colour`` is an RGB triple or an HxWx3 array in [0, 1] (screen blending with a layer ``R``
    is this with ``alpha = R`` and white); ``airlight`` a grey level or an RGB triple. Fused and
    done in row blocks that fit in cache, so a 12-megapixel photo costs a few passes of uint8
    reads, not a dozen full-frame float arrays. Where ``alpha`` is 0 and ``T`` is 1 the pixel
    comes back unchanged.
    """
    h, w = alpha.shape
    out = np.empty_like(img)
    t = np.float32(transmission)
    c255 = np.asarray(colour, np.float32) * np.float32(255.0)
    offset = np.asarray(airlight, np.float32) * np.float32(255.0) * (np.float32(1.0) - t) + np.float32(0.5)
    step = max(1, 65536 // max(w, 1))
    for y0 in range(0, h, step):
        y1 = min(h, y0 + step)
        col = c255 if c255.ndim == 1 else c255[y0:y1]
        x = img[y0:y1].astype(np.float32)
        x -= col
        x *= ((np.float32(1.0) - alpha[y0:y1]) * t)[:, :, None]
        x += col * t + offset  # + 0.5: round to nearest in the cast below
        np.clip(x, 0.0, 255.0, out=x)
        out[y0:y1] = x  # float -> uint8 truncates
    return out


def quantized_alpha(alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Quantise an alpha/layer in [0, 1] to uint8 and return ``(map_u8, alpha_float)``.

    The float alpha returned is exactly ``map_u8 / 255``, so the side map is the layer that was
    composited and a 0 in the map means the pixel was not touched by it.
    """
    u8 = np.clip(alpha * np.float32(255.0) + np.float32(0.5), 0, 255).astype(np.uint8)
    return u8, u8.astype(np.float32) * np.float32(1.0 / 255.0)
