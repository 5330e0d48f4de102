"""uncompleted: image with holes to inpaint (brush strokes and boxes), filled white as in DA-CLIP.

DA-CLIP's inpainting data (CelebA-HQ 256) multiplies the face by a binary brush-stroke mask and
fills the holes with white (``LQ = mask * img + (1 - mask)``); its 100 shipped masks are thin to
medium strokes covering about 35-40 % of the image. Here the mask comes from
:mod:`degradations.masks`: LaMa thin / medium / thick strokes (medium and thick mixed with
boxes), DeepFill-v2 free-form strokes, or boxes alone, with rejection sampling so the hole ratio
lands in a band. The band is part of the params, so it is recorded and checkable.

Parameters: ``style`` (thin, medium, thick, freeform, box), ``hole_ratio`` ``[lo, hi]`` (fraction
of pixels in holes; strokes are added until ``target_ratio``, drawn in the band, is reached, and
one that would pass ``hi`` is redrawn), ``fill`` (white as DA-CLIP; black as LaMa's network input; mean: the mean
colour of the kept pixels; noise: uniform random colours) and ``seed`` (the mask geometry and the
noise fill). Presets: light 10-20 %, medium 20-35 %, heavy 35-50 % holes (heavy is closest to
DA-CLIP's masks); ``random`` draws a 5 % wide band anywhere in 5-50 % and any style. Styles in
the presets: thin 35 %, medium 30 %, freeform 20 %, thick 10 %, box 5 %. The fill is chosen
with ``Uncompleted(fill=...)`` or by editing ``params["fill"]`` before :func:`replay`. Side output ``mask``: uint8, 255 = hole.

Pixels outside the holes are returned unchanged, bit for bit. albumentations' CoarseDropout
draws rectangles only (no brush strokes, no hole-ratio control), so it is not the same thing.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from .base import Result, check_severity, choose, draw_seed
from .masks import STYLES, hole_mask

FILLS: tuple[str, ...] = ("white", "black", "mean", "noise")

_STROKE_MIX = {"thin": 0.35, "medium": 0.3, "freeform": 0.2, "thick": 0.1, "box": 0.05}


class Uncompleted:
    name = "uncompleted"
    version = 1
    ranges: dict[str, dict[str, Any]] = {
        "light": {"hole_ratio": (0.10, 0.20), "style": _STROKE_MIX, "fill": "white"},
        "medium": {"hole_ratio": (0.20, 0.35), "style": _STROKE_MIX, "fill": "white"},
        "heavy": {"hole_ratio": (0.35, 0.50), "style": _STROKE_MIX, "fill": "white"},
        "random": {
            "hole_ratio": {"lo": (0.05, 0.45), "width": 0.05},
            "style": {style: 1.0 for style in STYLES},
            "fill": "white",
        },
    }

    def __init__(self, fill: str = "white") -> None:
        if fill not in FILLS:
            raise ValueError(f"unknown fill {fill!r}; valid: {', '.join(FILLS)}")
        self.fill = fill

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...], severity: str) -> dict[str, Any]:
        spec = self.ranges[check_severity(severity)]
        band = spec["hole_ratio"]
        if isinstance(band, dict):
            lo = float(rng.uniform(*band["lo"]))
            ratio = [lo, lo + float(band["width"])]
        else:
            ratio = [float(band[0]), float(band[1])]
        return {
            "style": choose(rng, spec["style"]),
            "hole_ratio": ratio,
            "target_ratio": float(rng.uniform(*ratio)),
            "fill": self.fill,
            "seed": draw_seed(rng),
        }

    def apply(self, img: np.ndarray, params: dict[str, Any]) -> Result:
        fill = params["fill"]
        if fill not in FILLS:
            raise ValueError(f"unknown fill {fill!r}; valid: {', '.join(FILLS)}")
        seed = int(params["seed"])
        mask = hole_mask(
            np.random.default_rng(seed), img.shape[:2], params["style"], tuple(params["hole_ratio"]),
            target=params["target_ratio"],
        )
        hole3 = cv2.merge([mask, mask, mask])  # 255 in holes: bitwise ops keep the other pixels exact
        if fill == "white":
            lq = cv2.bitwise_or(img, hole3)
        elif fill == "black":
            lq = cv2.bitwise_and(img, cv2.bitwise_not(hole3))
        else:
            if fill == "mean":
                kept = cv2.bitwise_not(mask)
                mean = cv2.mean(img, mask=kept) if cv2.countNonZero(kept) else cv2.mean(img)
                colour = np.round(np.asarray(mean[:3])).astype(np.uint8)
                filler = np.broadcast_to(colour, img.shape)
            else:  # noise: an independent stream of the same recorded seed
                filler = np.random.default_rng([seed, 1]).integers(0, 256, size=img.shape, dtype=np.uint8)
            lq = cv2.bitwise_or(cv2.bitwise_and(img, cv2.bitwise_not(hole3)), cv2.bitwise_and(filler, hole3))
        return Result(lq=lq, maps={"mask": mask})
