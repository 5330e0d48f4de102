"""rainy: fine, translucent rain streaks in depth layers plus the veil of rain accumulation.

Real rain photos mostly show sparse, thin, faint streaks over a slightly hazy scene; dense, wide,
bright streaks are the Rain100H look (Yang et al. 2017). Version 2 makes ``light`` and ``medium``
fine, sparse and veiled and keeps ``heavy`` Rain100H-like (version-1 params, the old presets,
replay through ``degradations.legacy.rainy_v1``, picked by the registry).

Model (Yang et al. 2017's rain model with accumulation, as in Li et al. 2019, "Heavy rain image
restoration"): ``O = [J (1 - R) + E R] * T + A * (1 - T)``, with ``J`` the clean image in [0, 1],
``R`` the streak layer, ``E`` the drop radiance and ``T``/``A`` the veil (distant rain scatters
light like fog). With ``E = 1`` the streak term is Yang's screen blend ``1 - (1 - J)(1 - R)``.

Streak appearance (Garg & Nayar 2007, "Vision and rain"): a drop of diameter ``D`` falling at
its terminal velocity ``v(D) = 9.65 - 10.3 exp(-0.6 D)`` m/s (Atlas et al. 1973, ``D`` in mm)
is imaged, during an exposure ``T_e``, as a motion-blurred streak as wide as the drop's image
(``width`` px) and ``width * (1 + v T_e / D)`` long: length follows from exposure and speed, so
far, sub-pixel drops give short streaks. A drop stays over a pixel for only a small part of the
exposure, so streaks are translucent (``intensity``, the peak of ``R``, well below 1 except in
``heavy``; sub-pixel streaks are fainter in proportion to their width), and a drop refracts a wide
view of the (mostly brighter) environment, so it tends toward a bright grey ``E``.

Rendering: each layer is sparse random seeds (values U(0.6, 1) x ``intensity``) convolved with an
anti-aliased rotated line kernel (``cv2.line`` LINE_AA, faded at both ends, widened by a Gaussian
of FWHM ``width``, at least a soft 1-px profile) in one ``cv2.filter2D``; the layers are
max-combined (:func:`degradations.rain_streaks.rain_layer`, shared with version 1). Layers share one wind direction
``angle`` with a small per-layer jitter; near layers (last in the list) are wider, so longer,
brighter and sparser; far ones denser, fainter and slightly blurred.

Parameters (all recorded; ``seed`` regenerates the seed positions). Sizes are given for a
512-px-high image and scale with the height, so a params dict means the same rain at any size.
- ``angle``: shared streak angle in degrees from the vertical (positive: lower end to the right).
- ``exposure``: the exposure time ``T_e`` in seconds; ``drop_radiance``: ``E`` (grey, 0-1).
- ``layers``: one dict per layer: ``angle`` (deg), ``diameter`` (drop ``D``, mm), ``width`` (px),
  ``length`` (fraction of the image height, derived as above and capped at 0.25), ``density``
  (seeds per pixel), ``intensity`` (peak of ``R``, 0-1), ``blur`` (extra Gaussian sigma, px).
- ``veil_transmission`` ``T`` (1.0 = no veil) and ``veil_airlight`` ``A`` (grey level 0-1).

Side map ``rain``: the streak layer ``R`` as uint8 (0..255), exactly the layer that was blended:
where it is 0 and there is no veil, the pixel is unchanged. Layers are rendered at most 1024 px
on the long side and resized, so large photos stay fast.

Presets, input PSNR per image on the scikit-image photos (astronaut, chelsea, coffee; 20 seeds
each; median and min-max): ``light`` (1 layer of fine sparse streaks and a light veil) 28 dB,
22.7-35, like Rain100L (26-27 dB); ``medium`` (2 fine layers and a veil) 21.6 dB, 17.4-26.4;
``heavy`` (3 dense wide layers and a veil) 12.7 dB, 10.1-15.5, like Rain100H (12-14 dB).
``random`` spans all of it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Result, check_severity, draw, draw_int, draw_seed, log_uniform
from .particles import REFERENCE_SIDE, composite, lerp, quantized_alpha
from .rain_streaks import rain_layer

MAX_LENGTH = 0.25  # of the image height: longer streaks would need exposures no camera uses in rain


def terminal_velocity(diameter_mm: float) -> float:
    """Terminal fall speed of a rain drop in m/s (Atlas et al. 1973's fit to Gunn & Kinzer)."""
    return max(0.0, 9.65 - 10.3 * float(np.exp(-0.6 * diameter_mm)))


def streak_length(width_px: float, diameter_mm: float, exposure_s: float) -> float:
    """Streak length in px: the drop's image (``width_px`` wide) plus its path during the exposure."""
    return width_px * (1.0 + terminal_velocity(diameter_mm) * exposure_s * 1000.0 / diameter_mm)


class Rainy:
    name = "rainy"
    version = 2
    ranges: dict[str, dict[str, Any]] = {
        "light": {
            "layers": 1, "angle": (-15.0, 15.0), "jitter": 3.0, "exposure": (1 / 250, 1 / 60),
            "diameter": (0.5, 2.0), "width": (0.6, 1.2), "density": (0.0004, 0.0009), "intensity": (0.3, 0.5),
            "blur": (0.0, 0.3), "radiance": (0.8, 1.0), "veil_p": 1.0, "transmission": (0.9, 0.97),
            "airlight": (0.7, 0.95),
        },
        "medium": {
            "layers": 2, "angle": (-20.0, 20.0), "jitter": 4.0, "exposure": (1 / 250, 1 / 60),
            "diameter": (0.5, 2.5), "width": (0.5, 1.6), "density": (0.0006, 0.0015), "intensity": (0.3, 0.6),
            "blur": (0.0, 0.5), "radiance": (0.8, 1.0), "veil_p": 1.0, "transmission": (0.82, 0.93),
            "airlight": (0.7, 0.95),
        },
        "heavy": {
            "layers": 3, "angle": (-30.0, 30.0), "jitter": 5.0, "exposure": (1 / 250, 1 / 100),
            "diameter": (1.0, 3.0), "width": (1.5, 3.0), "density": (0.0009, 0.0021), "intensity": (0.55, 0.85),
            "blur": (0.0, 1.0), "radiance": (0.9, 1.0), "veil_p": 1.0, "transmission": (0.8, 0.9),
            "airlight": (0.7, 0.95),
        },
        "random": {
            "layers": (1, 3), "angle": (-30.0, 30.0), "jitter": 5.0, "exposure": (1 / 250, 1 / 60),
            "diameter": (0.5, 3.0), "width": (0.5, 3.0), "density": (0.0004, 0.0021), "intensity": (0.3, 0.85),
            "blur": (0.0, 1.0), "radiance": (0.8, 1.0), "veil_p": 0.75, "transmission": (0.8, 0.97),
            "airlight": (0.7, 0.95),
        },
    }

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...], severity: str) -> dict[str, Any]:
        spec = self.ranges[check_severity(severity)]
        angle = draw(rng, spec["angle"])
        exposure = log_uniform(rng, *spec["exposure"])
        n = draw_int(rng, spec["layers"])
        layers = []
        for i in range(n):
            depth = (i + 0.5) / n  # 0 far .. 1 near: near layers wider (so longer), brighter, sparser
            near = float(np.clip(0.6 * depth + rng.uniform(0.0, 0.4), 0.0, 1.0))
            diameter = draw(rng, spec["diameter"])
            width = lerp(spec["width"], near)
            layers.append({
                "angle": angle + draw(rng, (-spec["jitter"], spec["jitter"])),
                "diameter": diameter,
                "width": width,
                "length": min(MAX_LENGTH, streak_length(width, diameter, exposure) / REFERENCE_SIDE),
                "density": lerp(spec["density"], 1.0 - near),
                "intensity": lerp(spec["intensity"], near),
                "blur": lerp(spec["blur"], 1.0 - near),
            })
        veil = bool(rng.uniform() < spec["veil_p"])
        return {
            "angle": angle,
            "exposure": exposure,
            "drop_radiance": draw(rng, spec["radiance"]),
            "layers": layers,
            "veil_transmission": draw(rng, spec["transmission"]) if veil else 1.0,
            "veil_airlight": draw(rng, spec["airlight"]) if veil else 0.0,
            "seed": draw_seed(rng),
        }

    def apply(self, img: np.ndarray, params: dict[str, Any]) -> Result:
        h, w = img.shape[:2]
        rain = rain_layer((h, w), params["layers"], params["seed"])
        rain_u8, r = quantized_alpha(rain)
        colour = np.full(3, float(params["drop_radiance"]), np.float32)
        lq = composite(img, r, colour, float(params["veil_transmission"]), float(params["veil_airlight"]))
        return Result(lq=lq, maps={"rain": rain_u8})
