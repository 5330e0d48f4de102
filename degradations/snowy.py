"""snowy: falling snow in 2-4 depth layers of defocused flakes, with fall streaks and a veil.

Model (Snow100K: Liu et al. 2018, DesnowNet; veil as in CSD, Chen et al. 2021):
``O = [J (1 - Z) + C Z] * T + A (1 - T)``, with ``J`` the clean image in [0, 1], ``Z`` the snow
alpha, ``C`` the snow colour (near white with a faint blue tint) and an optional veil ``T``/``A``.
``Z = 1 - prod_i (1 - z_i)`` over depth layers, from far (many tiny sharp flakes) to near (few
large flakes, defocused). Each layer is Poisson-placed flakes (impulses of opacity
U(0.6, 1) x ``opacity``) convolved with one flake kernel: an anti-aliased disk, a Gaussian
defocus and, for moving flakes, a normalised line kernel (the fall streak over the exposure,
which spreads a flake's light without adding any). Two flake sizes (0.75x and 1.25x ``radius``)
per layer give varied flakes at two ``cv2.filter2D`` calls per layer.

Parameters (all recorded; ``seed`` regenerates the flake positions). Sizes are given for an
image with a 512-px short side and scale with it, so a params dict means the same snow at any
size.
- ``angle``: fall direction in degrees from the vertical, shared by the layers.
- ``layers``: one dict per layer: ``radius`` (px), ``density`` (flakes per pixel), ``opacity``
  (0-1), ``defocus`` (Gaussian sigma, px), ``streak`` (fall-streak length as a multiple of the
  radius, 0 = none), ``angle`` (deg).
- ``color``: RGB snow colour in [0, 1]; ``veil_transmission`` ``T`` (1.0 = none) and
  ``veil_airlight`` ``A`` (grey level, tinted like the snow).
In ``ranges``, ``radius`` and ``density`` are (far layer, near layer), with the layers between
spaced geometrically; ``defocus`` and ``streak`` grow from the first value toward the second
with depth; ``veil_p`` is the chance of a veil.

Side map ``snow``: the snow alpha ``Z`` as uint8 (0..255), exactly the alpha composited.
Layers are rendered at most 1024 px on the long side and resized, so large photos stay fast.

Presets (Snow100K S/M/L by flake size and density), input PSNR per image measured on the
scikit-image photos (astronaut, chelsea, coffee; 12 seeds each; median and min-max): ``light``
2 layers of small flakes, 26 dB, 24-28.5; ``medium`` 3 layers, half of them with a light veil,
18.7 dB, 16-21.5; ``heavy`` 4 layers with large defocused flakes and a veil, 13.2 dB, 11-16.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Result, check_severity, draw, draw_int, draw_seed
from .particles import (
    REFERENCE_SIDE,
    composite,
    convolve_kernels,
    disk_kernel,
    gaussian_kernel,
    lerp,
    line_kernel,
    quantized_alpha,
    render_layer,
    resize_to,
    work_shape,
)

SIZE_FACTORS = (0.75, 1.25)


class Snowy:
    name = "snowy"
    version = 1
    ranges: dict[str, dict[str, Any]] = {
        "light": {
            "layers": 2, "radius": (0.7, 3.0), "density": (6e-3, 4.5e-4), "opacity": (0.65, 0.95),
            "defocus": (0.0, 0.5), "streak": (0.0, 2.0), "angle": (-20.0, 20.0), "veil_p": 0.0,
        },
        "medium": {
            "layers": 3, "radius": (0.7, 5.0), "density": (1.3e-2, 6e-4), "opacity": (0.7, 1.0),
            "defocus": (0.0, 1.2), "streak": (0.0, 2.5), "angle": (-25.0, 25.0), "veil_p": 0.5,
            "transmission": (0.85, 0.95), "airlight": (0.8, 0.95),
        },
        "heavy": {
            "layers": 4, "radius": (0.8, 8.0), "density": (1.5e-2, 6e-4), "opacity": (0.8, 1.0),
            "defocus": (0.2, 2.5), "streak": (0.0, 3.0), "angle": (-30.0, 30.0), "veil_p": 1.0,
            "transmission": (0.75, 0.9), "airlight": (0.8, 0.95),
        },
        "random": {
            "layers": (2, 4), "radius": (0.7, 8.0), "density": (1.5e-2, 4e-4), "opacity": (0.6, 1.0),
            "defocus": (0.0, 2.5), "streak": (0.0, 3.0), "angle": (-30.0, 30.0), "veil_p": 0.5,
            "transmission": (0.75, 0.95), "airlight": (0.8, 0.95),
        },
    }

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...], severity: str) -> dict[str, Any]:
        spec = self.ranges[check_severity(severity)]
        angle = draw(rng, spec["angle"])
        n = draw_int(rng, spec["layers"])
        r_lo, r_hi = spec["radius"]
        d_dense, d_sparse = spec["density"]
        layers = []
        for i in range(n):
            # depth 0 = far (tiny, dense, sharp) .. 1 = near (large, sparse, defocused, streaked)
            z = float(np.clip(i / max(n - 1, 1) + rng.uniform(-0.1, 0.1), 0.0, 1.0))
            layers.append({
                "radius": r_lo * (r_hi / r_lo) ** z,
                "density": d_dense * (d_sparse / d_dense) ** z,
                "opacity": draw(rng, spec["opacity"]),
                "defocus": lerp(spec["defocus"], z * rng.uniform(0.7, 1.0)),
                "streak": lerp(spec["streak"], z * rng.uniform(0.0, 1.0)),
                "angle": angle + draw(rng, (-5.0, 5.0)),
            })
        tint = draw(rng, (0.0, 0.06))  # faint blue: red and green slightly below blue
        white = draw(rng, (0.9, 1.0))
        veil = bool(rng.uniform() < spec["veil_p"])
        return {
            "angle": angle,
            "layers": layers,
            "color": [white * (1.0 - tint), white * (1.0 - 0.5 * tint), white],
            "veil_transmission": draw(rng, spec["transmission"]) if veil else 1.0,
            "veil_airlight": draw(rng, spec["airlight"]) if veil else 0.0,
            "seed": draw_seed(rng),
        }

    def apply(self, img: np.ndarray, params: dict[str, Any]) -> Result:
        h, w = img.shape[:2]
        snow_u8, z = quantized_alpha(snow_alpha((h, w), params["layers"], params["seed"]))
        color = np.asarray(params["color"], np.float32)
        t = float(params["veil_transmission"])
        airlight = np.float32(params["veil_airlight"]) * color / max(float(color.max()), 1e-6)  # snow-tinted
        lq = composite(img, z, color, t, airlight if t < 1.0 else 0.0)
        return Result(lq=lq, maps={"snow": snow_u8})


def flake_kernel(radius: float, defocus: float, streak: float, angle: float) -> np.ndarray:
    """Disk of ``radius`` px, Gaussian ``defocus`` sigma, then a fall streak of ``streak`` radii."""
    kernel = disk_kernel(radius)
    if defocus >= 0.3:
        kernel = convolve_kernels(kernel, gaussian_kernel(defocus))
    length = streak * radius
    if length >= 1.5:
        line = line_kernel(length, angle, taper=0.0)
        kernel = convolve_kernels(kernel, line / line.sum())
    return kernel


def snow_alpha(shape: tuple[int, int], layers: list[dict[str, Any]], seed: int) -> np.ndarray:
    """Snow alpha ``Z`` in [0, 1] (float32, ``shape``): layers combined as ``1 - prod(1 - z_i)``."""
    h, w = shape
    wh, ww = work_shape(h, w)
    unit = min(wh, ww) / REFERENCE_SIDE
    rng = np.random.default_rng(seed)
    clear = np.ones((wh, ww), np.float32)  # prod(1 - z_i)
    for layer in layers:
        opacity = float(layer["opacity"])
        for factor in SIZE_FACTORS:
            radius = max(0.3, layer["radius"] * factor * unit)
            kernel = flake_kernel(radius, layer["defocus"] * unit, layer["streak"], layer["angle"])
            density = layer["density"] / len(SIZE_FACTORS)
            flakes = render_layer(rng, (wh, ww), density, kernel, 0.6 * opacity, opacity, unit)
            clear *= np.float32(1.0) - np.clip(flakes, 0.0, 1.0)
    return resize_to(np.float32(1.0) - clear, h, w).clip(0.0, 1.0)


__all__ = ["Snowy", "flake_kernel", "snow_alpha"]
