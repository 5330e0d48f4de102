"""raindrop: dense, defocused water drops on the glass in front of the lens (params version 2).

Real captures (RainDrop, Qian et al. "Attentive Generative Adversarial Network for Raindrop
Removal from a Single Image", CVPR 2018: a camera focused on the scene behind a wet glass plate)
show dozens to hundreds of drops per frame, most of them small, all out of focus: soft, slightly
bright blobs through which a blurred, refracted view of the scene shows. Version 1 (a few large,
sharp drops with dark rims) lives on in ``degradations.legacy.raindrop_v1``; the drop outline both
share is :mod:`degradations.drops`.

Model: ``I = J (1 - K * M) + K * (D M)``, with ``M`` the sharp drop alpha on the glass, ``D`` what
each drop shows and ``K`` the defocus kernel of the glass plane (Halimeh & Roser, "Raindrop
detection on car windshields using geometric-photometric environment construction and
intensity-based correlation", IV 2009; Roser & Geiger 2009; Hao et al. "Learning from Synthetic
Photorealistic Raindrop for Single Image Raindrop Removal", ICCVW 2019):
- optics of one drop: a small convex water lens; its interior is a flipped (top-bottom and
  left-right), minified view of a scene patch ``zoom`` times its size (wider towards the rim),
  itself out of focus (sampled from a half-resolution, blurred copy of the image). The patch a drop
  sees leans towards the bright sky and the drop adds a little scattered light:
  ``D = view + brightness (1 - view)``.
- defocus: the camera focuses on the scene, the drops sit on the glass, all at one depth, so one
  kernel ``K`` for the whole layer: a disk (the aperture) of radius ``defocus``, softened by a
  small Gaussian. ``K`` is applied to ``D M`` (premultiplied) and ``M`` together: a drop smaller
  than the blur disk becomes a faint, semi-transparent blob, as in the real captures.
- population: uniform positions; radii from a truncated power law ``p(r) ~ r^-a`` on
  ``[r_min, r_max]`` (many small drops, a few large ones, as drop-size distributions on glass
  are); a slightly elliptic outline with a wobbly boundary (two low harmonics).

Parameters (all recorded; the per-drop values come from ``seed``, see :func:`drop_population`):
- ``count``: drops in a square frame (the image's short side squared; a wider frame has
  proportionally more), so the same params mean the same glass at any resolution.
- ``radius``: ``[r_min, r_max]``, fractions of the short side; ``size_exponent``: ``a``.
- ``zoom``: minification of the view inside a drop (per drop x U(0.8, 1.2)).
- ``brightness``: lift towards white of the view inside (per drop x U(0.5, 1)).
- ``defocus``: radius of the defocus disk, px at a 512-px short side (scaled with the image).
- ``seed``: positions, radii, aspects, outlines and per-drop factors.

Side map ``mask``: the defocused alpha ``K * M`` as uint8 (0..255), exactly the alpha composited:
pixels with mask 0 are unchanged. Layers are rendered at most 1024 px on the long side, at half
that when the defocus disk is at least 2 px wide there (the blurred layer is smooth), and resized.
Input PSNR on the bundled photos: see the README's "What each type models" table.
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

from .base import Result, check_severity, draw, draw_int, draw_seed
from .color import to_float
from .drops import drop_distance
from .particles import (
    composite,
    convolve_kernels,
    disk_kernel,
    gaussian_kernel,
    quantized_alpha,
    resize_to,
    work_shape,
)

REFERENCE_SIDE = 512.0
HALF_RES_DEFOCUS = 2.0  # defocus radius (px at working size) from which the layer is rendered at half size
SMALL_DROP = 2.5  # drops with a radius (px at layer size) below this are stamped as ellipses, without the lens
VIEW_BLUR = 1.0  # sigma (px of the half-resolution source) of the out-of-focus view inside a drop


class Raindrop:
    name = "raindrop"
    version = 2
    ranges: dict[str, dict[str, Any]] = {
        "light": {"count": (40, 80), "r_min": 0.004, "r_max": (0.03, 0.045), "size_exponent": (1.8, 2.2),
                  "zoom": (2.5, 5.0), "brightness": (0.1, 0.35), "defocus": (5.0, 9.0)},
        "medium": {"count": (80, 160), "r_min": 0.004, "r_max": (0.055, 0.075), "size_exponent": (1.7, 2.1),
                   "zoom": (2.5, 5.0), "brightness": (0.1, 0.4), "defocus": (6.0, 11.0)},
        "heavy": {"count": (160, 300), "r_min": 0.004, "r_max": (0.065, 0.09), "size_exponent": (1.6, 2.0),
                  "zoom": (2.5, 5.0), "brightness": (0.1, 0.4), "defocus": (7.0, 13.0)},
        "random": {"count": (40, 300), "r_min": 0.004, "r_max": (0.03, 0.09), "size_exponent": (1.6, 2.2),
                   "zoom": (2.5, 5.0), "brightness": (0.1, 0.4), "defocus": (5.0, 13.0)},
    }

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...], severity: str) -> dict[str, Any]:
        spec = self.ranges[check_severity(severity)]
        return {
            "count": draw_int(rng, spec["count"]),
            "radius": [draw(rng, spec["r_min"]), draw(rng, spec["r_max"])],
            "size_exponent": draw(rng, spec["size_exponent"]),
            "zoom": draw(rng, spec["zoom"]),
            "brightness": draw(rng, spec["brightness"]),
            "defocus": draw(rng, spec["defocus"]),
            "seed": draw_seed(rng),
        }

    def apply(self, img: np.ndarray, params: dict[str, Any]) -> Result:
        h, w = img.shape[:2]
        wh, ww = work_shape(h, w)
        unit = min(wh, ww) / REFERENCE_SIDE
        coc = float(params["defocus"]) * unit
        scale = 0.5 if coc >= HALF_RES_DEFOCUS else 1.0
        lh, lw = max(1, round(wh * scale)), max(1, round(ww * scale))
        work = to_float(resize_to(img, wh, ww))
        premult, alpha = render_layer(work, (lh, lw), params, coc * scale)
        alpha = resize_to(alpha, h, w) if (lh, lw) != (h, w) else alpha
        np.clip(alpha, 0.0, 1.0, out=alpha)
        mask_u8, m = quantized_alpha(alpha)
        premult = resize_to(premult, h, w) if (lh, lw) != (h, w) else premult
        idx = np.flatnonzero(mask_u8)  # composite only the pixels the drops touch
        color = premult.reshape(-1, 3)[idx] / alpha.reshape(-1)[idx, None]
        np.clip(color, 0.0, 1.0, out=color)
        lq = img.copy()
        flat = composite(img.reshape(-1, 3)[None, idx], m.reshape(-1)[None, idx], color[None])
        lq.reshape(-1, 3)[idx] = flat[0]
        return Result(lq=lq, maps={"mask": mask_u8})


def drop_population(params: dict[str, Any], shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """Every drop of recorded params on an image of ``shape``: centres ``x``, ``y`` and ``radius``
    in px, ``aspect`` (height / width), ``zoom``, ``brightness`` and the outline ``wobble`` (n x 4)."""
    h, w = shape
    side = min(h, w)
    rng = np.random.default_rng(int(params["seed"]))
    n = int(round(int(params["count"]) * h * w / float(side * side)))
    r_min, r_max = (float(v) for v in params["radius"])
    a = float(params["size_exponent"])
    u = rng.uniform(0.0, 1.0, size=n)
    if abs(a - 1.0) < 1e-6:
        r = r_min * (r_max / r_min) ** u
    else:  # inverse CDF of p(r) ~ r^-a on [r_min, r_max]
        lo, hi = r_min ** (1.0 - a), r_max ** (1.0 - a)
        r = (lo + u * (hi - lo)) ** (1.0 / (1.0 - a))
    return {
        "x": rng.uniform(0.0, 1.0, size=n) * w,
        "y": rng.uniform(0.0, 1.0, size=n) * h,
        "radius": r * side,
        "aspect": rng.uniform(0.85, 1.25, size=n),
        "zoom": float(params["zoom"]) * rng.uniform(0.8, 1.2, size=n),
        "brightness": float(params["brightness"]) * rng.uniform(0.5, 1.0, size=n),
        "wobble": rng.uniform(0.0, 1.0, size=(n, 4)),
    }


def render_layer(
    img: np.ndarray, shape: tuple[int, int], params: dict[str, Any], coc: float
) -> tuple[np.ndarray, np.ndarray]:
    """Defocused premultiplied drop colour (HxWx3) and alpha (HxW) at ``shape`` for float32 ``img``.

    ``coc`` is the defocus disk radius in px at ``shape``."""
    lh, lw = shape
    source = cv2.resize(img, (max(1, img.shape[1] // 2), max(1, img.shape[0] // 2)), interpolation=cv2.INTER_AREA)
    source = cv2.GaussianBlur(source, (0, 0), VIEW_BLUR)
    sx, sy = source.shape[1] / lw, source.shape[0] / lh  # source px per layer px
    drops = drop_population(params, (lh, lw))
    alpha = np.zeros((lh, lw), np.float32)
    # identity map: where a drop is stamped without a lens it shows the (blurred) scene behind it
    map_x = np.repeat(((np.arange(lw, dtype=np.float32) + 0.5) * np.float32(sx) - 0.5)[None, :], lh, axis=0)
    map_y = np.repeat(((np.arange(lh, dtype=np.float32) + 0.5) * np.float32(sy) - 0.5)[:, None], lw, axis=1)
    lift = np.zeros((lh, lw), np.float32)
    for i in np.argsort(drops["radius"], kind="stable"):  # small first: large drops lie over them
        r = float(drops["radius"][i])
        cx, cy = float(drops["x"][i]), float(drops["y"][i])
        ax, ay = r / math.sqrt(drops["aspect"][i]), r * math.sqrt(drops["aspect"][i])
        x0, x1 = max(0, math.floor(cx - 1.2 * ax) - 1), min(lw, math.ceil(cx + 1.2 * ax) + 2)
        y0, y1 = max(0, math.floor(cy - 1.2 * ay) - 1), min(lh, math.ceil(cy + 1.2 * ay) + 2)
        if x1 <= x0 or y1 <= y0:
            continue
        u = ((np.arange(x0, x1, dtype=np.float32) + np.float32(0.5 - cx)) / np.float32(ax))[None, :]
        v = ((np.arange(y0, y1, dtype=np.float32) + np.float32(0.5 - cy)) / np.float32(ay))[:, None]
        d = np.sqrt(u * u + v * v) if r < SMALL_DROP else drop_distance(u, v, 0.0, drops["wobble"][i])
        edge = np.clip((np.float32(1.0) - d) * np.float32(r) + np.float32(0.5), 0.0, 1.0)
        roi_alpha = alpha[y0:y1, x0:x1]
        wins = edge > roi_alpha
        if r >= SMALL_DROP:  # lens: flipped, minified view, wider towards the rim
            dc = np.minimum(d, np.float32(1.2))
            gain = np.float32(drops["zoom"][i]) * (np.float32(1.0) + np.float32(0.35) * dc * dc)
            mx = (np.float32(cx) - u * np.float32(ax) * gain) * np.float32(sx) - np.float32(0.5)
            my = (np.float32(cy) - v * np.float32(ay) * gain) * np.float32(sy) - np.float32(0.5)
            np.copyto(map_x[y0:y1, x0:x1], mx, where=wins)
            np.copyto(map_y[y0:y1, x0:x1], my, where=wins)
        np.copyto(lift[y0:y1, x0:x1], np.float32(drops["brightness"][i]), where=wins)
        np.maximum(roi_alpha, edge, out=roi_alpha)
    view = cv2.remap(source, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    layer = np.empty((lh, lw, 4), np.float32)
    # D = view + brightness (1 - view), premultiplied by the sharp alpha
    layer[:, :, :3] = (view + lift[:, :, None] * (np.float32(1.0) - view)) * alpha[:, :, None]
    layer[:, :, 3] = alpha
    kernel = defocus_kernel(coc)
    if kernel.size > 1:
        layer = cv2.filter2D(layer, -1, kernel, borderType=cv2.BORDER_REFLECT_101)
    return layer[:, :, :3], layer[:, :, 3]


def defocus_kernel(radius: float) -> np.ndarray:
    """The aperture disk of ``radius`` px softened by a Gaussian of a quarter of it, summing to 1."""
    kernel = convolve_kernels(disk_kernel(radius), gaussian_kernel(0.25 * radius))
    return (kernel / np.float32(kernel.sum())).astype(np.float32)
