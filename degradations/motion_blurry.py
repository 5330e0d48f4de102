"""motion-blurry: camera-shake blur with a random trajectory kernel, applied in linear light.

Model: B = K * S (+ n). The kernel K is the point-spread function of a random camera
trajectory (Boracchi & Foi 2012, the generator DeblurGAN uses; see ``degradations.trajectory``):
a constant-speed random walk with inertia, Gaussian shake, a centripetal pull and rare impulsive
reversals, integrated over an exposure fraction and splatted with sub-pixel (bilinear) weights.
K sums to 1 and its centroid is the centre pixel, so LQ and HQ stay pixel-aligned. The sharp
image is decoded to linear light (exact sRGB), convolved with ``cv2.filter2D`` (BORDER_REFLECT;
thin kernels are split into direct-filtered strips, 3-10x faster than OpenCV's DFT path),
re-encoded to sRGB, optionally given mild Gaussian noise and quantised once. The kernel is the
``kernel`` side map (float32, odd square size).

Parameters (all recorded)
- ``length_at_512``: arc length of the exposed path in pixels for an image whose short side is
  512; ``length`` is the same scaled to this image's short side (the value ``apply`` uses).
- ``anxiety`` (0.001-0.01), ``centripetal`` (0-0.7), ``big_shake`` (0-0.2), ``gaussian_shake``
  (0-10): DeblurGAN's trajectory parameters; ``angle``: initial direction in degrees.
- ``exposure`` in {0.1, 0.5, 1}: fraction of a full 2000-step walk the shutter integrates
  (0.1 is nearly straight, 1 curls).
- ``noise_sigma``: std of additive sRGB Gaussian noise in 0-255 units (0 = none).
- ``domain``: ``linear`` (always sampled; the physically right domain, like GoPro's averaging
  of frames after inverting the camera response) or ``srgb`` (convolve the encoded values, as
  most synthetic-blur code does; accepted on replay for comparisons).
- ``seed``: the random walk's steps and the noise.

Presets differ only in blur length (light 5-12 px, medium 12-24 px, heavy 24-40 px at a 512-px
short side) and add no noise, so the class stays pure blur; ``random`` covers 5-40 px and adds
noise of sigma 1-3 to a quarter of the samples.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from .base import Result, check_severity, draw, draw_seed
from .color import linear_to_srgb, linear_to_srgb8, quantize, to_float, uint8_to_linear
from .trajectory import motion_kernel

REFERENCE_SIDE = 512
STRIP_TAPS = 130  # cv2.filter2D uses a DFT for float kernels of this many taps or more
MAX_DIRECT_TAPS = 768  # above this, one DFT is cheaper than the direct strips
_SHAPE_RANGES: dict[str, Any] = {
    "anxiety": (0.001, 0.01),
    "exposure": [0.1, 0.5, 1.0],  # choices
    "centripetal": (0.0, 0.7),
    "big_shake": (0.0, 0.2),
    "gaussian_shake": (0.0, 10.0),
    "angle": (0.0, 360.0),
    "domain": "linear",
}


class MotionBlurry:
    name = "motion-blurry"
    version = 1
    ranges: dict[str, dict[str, Any]] = {
        "light": {"length_at_512": (5.0, 12.0), **_SHAPE_RANGES, "noise_probability": 0.0},
        "medium": {"length_at_512": (12.0, 24.0), **_SHAPE_RANGES, "noise_probability": 0.0},
        "heavy": {"length_at_512": (24.0, 40.0), **_SHAPE_RANGES, "noise_probability": 0.0},
        "random": {
            "length_at_512": (5.0, 40.0),
            **_SHAPE_RANGES,
            "noise_probability": 0.25,
            "noise_sigma": (1.0, 3.0),
        },
    }

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...], severity: str) -> dict[str, Any]:
        spec = self.ranges[check_severity(severity)]
        length_at_512 = draw(rng, spec["length_at_512"])
        params: dict[str, Any] = {
            "length_at_512": length_at_512,
            "length": length_at_512 * min(shape[0], shape[1]) / REFERENCE_SIDE,
            "anxiety": draw(rng, spec["anxiety"]),
            "exposure": float(spec["exposure"][int(rng.integers(len(spec["exposure"])))]),
            "centripetal": draw(rng, spec["centripetal"]),
            "big_shake": draw(rng, spec["big_shake"]),
            "gaussian_shake": draw(rng, spec["gaussian_shake"]),
            "angle": draw(rng, spec["angle"]),
            "noise_sigma": 0.0,
            "domain": spec["domain"],
        }
        if rng.random() < spec["noise_probability"]:
            params["noise_sigma"] = draw(rng, spec["noise_sigma"])
        params["seed"] = draw_seed(rng)
        return params

    def apply(self, img: np.ndarray, params: dict[str, Any]) -> Result:
        kernel = kernel_for(params)
        domain = params["domain"]
        sigma = float(params["noise_sigma"])
        if domain == "linear" and sigma == 0:  # fast path: encode and quantise through one table
            return Result(lq=linear_to_srgb8(convolve(uint8_to_linear(img), kernel)), maps={"kernel": kernel})
        if domain == "linear":
            out = blur_linear(img, kernel)
        elif domain == "srgb":
            out = convolve(to_float(img), kernel)
        else:
            raise ValueError(f"unknown motion-blurry domain {domain!r}; valid: linear, srgb")
        if sigma > 0:
            noise_rng = np.random.default_rng([int(params["seed"]), 1])
            out += noise_rng.standard_normal(out.shape, dtype=np.float32) * np.float32(sigma / 255.0)
        return Result(lq=quantize(out), maps={"kernel": kernel})


def kernel_for(params: dict[str, Any]) -> np.ndarray:
    """The PSF (float32, sums to 1, centroid at the centre) that ``params`` describe."""
    return motion_kernel(
        int(params["seed"]),
        float(params["length"]),
        float(params["anxiety"]),
        float(params["exposure"]),
        float(params["centripetal"]),
        float(params["big_shake"]),
        float(params["gaussian_shake"]),
        float(params["angle"]),
    )


def blur_linear(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Convolve an sRGB uint8 image with ``kernel`` in linear light; float32 sRGB in [0, 1] out."""
    return linear_to_srgb(convolve(uint8_to_linear(img), kernel))


def convolve(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """True convolution (kernel centre at the origin) of a float32 image, BORDER_REFLECT.

    A trajectory kernel is a thin curve in a mostly empty square. ``cv2.filter2D`` switches to a
    DFT for kernels of 130 taps or more and then costs the same as ~1000 direct taps, so the
    kernel is cut into row strips, each cropped to its non-zero columns and kept under 130
    taps; the strips are filtered directly on a reflect-padded copy and summed. Kernels whose
    strips would still hold more than :data:`MAX_DIRECT_TAPS` taps use the DFT. The choice
    depends only on the kernel, so replay is bit-exact.
    """
    flipped = np.ascontiguousarray(cv2.flip(kernel, -1))  # filter2D correlates
    if flipped.size < STRIP_TAPS:
        return cv2.filter2D(image, -1, flipped, borderType=cv2.BORDER_REFLECT)
    strips = _strips(flipped)
    if sum(n * m for _, n, _, m in strips) > MAX_DIRECT_TAPS:
        return cv2.filter2D(image, -1, flipped, borderType=cv2.BORDER_REFLECT)
    c = (flipped.shape[0] - 1) // 2
    h, w = image.shape[:2]
    padded = cv2.copyMakeBorder(image, c, c, c, c, cv2.BORDER_REFLECT)
    out: np.ndarray | None = None
    for row, n, col, m in strips:
        window = padded[row : row + h + n - 1, col : col + w + m - 1]
        part = cv2.filter2D(window, -1, flipped[row : row + n, col : col + m], anchor=(0, 0))[:h, :w]
        out = part.copy() if out is None else cv2.add(out, part)
    return out


def _strips(kernel: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Greedy (row, rows, col, cols) boxes covering the non-zero taps, each under STRIP_TAPS."""
    nonzero = kernel != 0
    width = kernel.shape[1]
    has = nonzero.any(axis=1)
    first = np.where(has, nonzero.argmax(axis=1), width).tolist()
    last = np.where(has, width - 1 - nonzero[:, ::-1].argmax(axis=1), -1).tolist()
    rows = np.flatnonzero(has).tolist()
    boxes = []
    row, end = rows[0], rows[-1]
    while row <= end:
        lo, hi, n = first[row], last[row], 1
        while row + n <= end:
            new_lo, new_hi = min(lo, first[row + n]), max(hi, last[row + n])
            if (n + 1) * (new_hi - new_lo + 1) >= STRIP_TAPS:
                break
            lo, hi, n = new_lo, new_hi, n + 1
        boxes.append((row, n, lo, hi - lo + 1))
        row += n
        while row <= end and not has[row]:
            row += 1
    return boxes
