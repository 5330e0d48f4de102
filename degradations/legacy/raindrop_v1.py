"""raindrop, params version 1: a few sharp refractive drops with a dark rim and a highlight.

The renderer of ``version`` 1 params, moved here unchanged from ``degradations/raindrop.py`` when
version 2 (dense, defocused drops) replaced it, so that recorded params keep replaying bit-exact.

Model: ``I = J (1 - M) + D M`` with ``M`` the drop alpha and ``D`` the drop appearance. A drop is a
small water lens: its interior shows an inverted, minified view of a wider patch of the scene
around it, a darker rim and often a small specular highlight; ``D M`` and ``M`` are blurred
together with a Gaussian of sigma ``defocus``. After Roser & Geiger 2009 and Halimeh & Roser
2009. Each drop is rendered inside its own region of interest; layers are rendered at most
1024 px on the long side and resized. ``sample`` draws version 1 params (kept for comparisons).

Parameters: ``drops`` (one dict per drop: ``x``, ``y``, ``radius``, ``aspect``, ``tail``, ``zoom``,
``rim``, ``highlight``), ``defocus`` (blur sigma, px at a 512-px short side), ``seed`` (boundary
wobble). Presets: light 10-20 drops, medium 20-40, heavy 40-60 larger drops.
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

from ..base import Result, check_severity, draw, draw_int, draw_seed
from ..color import to_float
from ..drops import drop_distance
from ..particles import composite, quantized_alpha, resize_to, work_shape

REFERENCE_SIDE = 512.0
# drops this large and this defocused (px at working size) are rendered at half resolution
HALF_RES_SIGMA = 2.0
HALF_RES_RADIUS = 8.0
VERSION = 1

RANGES: dict[str, dict[str, Any]] = {
    "light": {
        "count": (10, 20), "radius": (0.012, 0.05), "aspect": (0.8, 1.3), "tail": (0.0, 0.8),
        "zoom": (2.5, 4.5), "rim": (0.1, 0.3), "highlight": (0.0, 0.5), "defocus": (1.0, 2.5),
    },
    "medium": {
        "count": (20, 40), "radius": (0.015, 0.07), "aspect": (0.8, 1.3), "tail": (0.0, 1.0),
        "zoom": (2.5, 4.5), "rim": (0.1, 0.3), "highlight": (0.0, 0.6), "defocus": (1.0, 3.0),
    },
    "heavy": {
        "count": (40, 60), "radius": (0.02, 0.08), "aspect": (0.8, 1.3), "tail": (0.0, 1.2),
        "zoom": (2.5, 5.0), "rim": (0.15, 0.3), "highlight": (0.0, 0.6), "defocus": (1.5, 4.0),
    },
    "random": {
        "count": (10, 60), "radius": (0.012, 0.08), "aspect": (0.8, 1.3), "tail": (0.0, 1.2),
        "zoom": (2.5, 5.0), "rim": (0.1, 0.3), "highlight": (0.0, 0.6), "defocus": (1.0, 4.0),
    },
}


class RaindropV1:
    """raindrop, params version 1 (replays recorded params; samples for comparisons)."""

    name = "raindrop"
    version = VERSION
    ranges: dict[str, dict[str, Any]] = RANGES

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...], severity: str) -> dict[str, Any]:
        spec = RANGES[check_severity(severity)]
        r_lo, r_hi = spec["radius"]
        drops = []
        for _ in range(draw_int(rng, spec["count"])):
            drops.append({
                "x": draw(rng, (0.0, 1.0)),
                "y": draw(rng, (0.0, 1.0)),
                "radius": r_lo * (r_hi / r_lo) ** (rng.uniform() ** 1.5),  # heavy-tailed: many small
                "aspect": draw(rng, spec["aspect"]),
                "tail": draw(rng, spec["tail"]) if rng.uniform() < 0.5 else 0.0,
                "zoom": draw(rng, spec["zoom"]),
                "rim": draw(rng, spec["rim"]),
                "highlight": draw(rng, spec["highlight"]),
            })
        return {"drops": drops, "defocus": draw(rng, spec["defocus"]), "seed": draw_seed(rng)}

    def apply(self, img: np.ndarray, params: dict[str, Any]) -> Result:
        h, w = img.shape[:2]
        wh, ww = work_shape(h, w)
        work = to_float(resize_to(img, wh, ww))
        premult, alpha = render_drops(work, params["drops"], params["defocus"], params["seed"])
        if (wh, ww) == (h, w):  # composite only the pixels the drops touch
            mask_u8, m = quantized_alpha(alpha)
            idx = np.flatnonzero(mask_u8)
            color = premult.reshape(-1, 3)[idx] / alpha.reshape(-1)[idx, None]
            lq = img.copy()
            flat = composite(img.reshape(-1, 3)[None, idx], m.reshape(-1)[None, idx], color[None])
            lq.reshape(-1, 3)[idx] = flat[0]
            return Result(lq=lq, maps={"mask": mask_u8})
        # large image: un-premultiply at working size, where there is no drop use the scene (so that
        # resizing never blends a drop's edge with black), resize, composite
        covered = alpha > np.float32(1e-4)
        color = np.where(covered[:, :, None], premult / np.maximum(alpha, np.float32(1e-4))[:, :, None], work)
        np.clip(color, 0.0, 1.0, out=color)  # linear resizing keeps it inside [0, 1]
        mask_u8, m = quantized_alpha(resize_to(alpha, h, w))
        lq = composite(img, m, resize_to(color, h, w))  # J (1 - M) + D M
        return Result(lq=lq, maps={"mask": mask_u8})


def render_drops(
    img: np.ndarray, drops: list[dict[str, Any]], defocus: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Premultiplied drop colour (HxWx3) and drop alpha (HxW) for float32 ``img`` in [0, 1]."""
    h, w = img.shape[:2]
    unit = min(h, w) / REFERENCE_SIDE
    sigma = max(0.0, float(defocus) * unit)
    source = cv2.resize(img, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA)
    layer = np.zeros((h, w, 4), np.float32)  # premultiplied RGB and alpha
    rng = np.random.default_rng(seed)
    margin = math.ceil(3.0 * sigma) + 1 if sigma >= 0.3 else 0
    for drop in drops:
        lens = _Lens(drop, rng.uniform(0.0, 1.0, size=4), h, w, source)
        # shape box (the drop and its 1-px edge), then the blur margin around it
        bx0, bx1 = math.floor(lens.cx - 1.2 * lens.ax) - 1, math.ceil(lens.cx + 1.2 * lens.ax) + 2
        by0 = math.floor(lens.cy - 1.2 * lens.ay) - 1
        by1 = math.ceil(lens.cy + (1.2 + 0.9 * lens.tail) * lens.ay) + 2
        x0, x1 = max(0, bx0 - margin), min(w, bx1 + margin)
        y0, y1 = max(0, by0 - margin), min(h, by1 + margin)
        if x1 <= x0 or y1 <= y0:
            continue
        if sigma >= HALF_RES_SIGMA and lens.r >= HALF_RES_RADIUS:
            pa = _render_half(lens, bx0 - margin, bx1 + margin, by0 - margin, by1 + margin, sigma)
            pa = pa[y0 - (by0 - margin) : y1 - (by0 - margin), x0 - (bx0 - margin) : x1 - (bx0 - margin)]
        else:
            pa = _render_full(lens, (bx0, bx1, by0, by1), (x0, x1, y0, y1), margin, sigma)
            if pa is None:
                continue
        roi = layer[y0:y1, x0:x1]
        roi *= np.float32(1.0) - pa[:, :, 3:]  # "over": earlier drops are covered by this one
        roi += pa
    return layer[:, :, :3], np.clip(layer[:, :, 3], 0.0, 1.0)


class _Lens:
    """One drop's geometry and optics, evaluated on any grid of pixel centres."""

    def __init__(self, drop: dict[str, Any], wobble: np.ndarray, h: int, w: int, source: np.ndarray):
        self.r = max(0.75, float(drop["radius"]) * min(h, w))
        aspect = float(drop["aspect"])
        self.ax, self.ay = self.r / math.sqrt(aspect), self.r * math.sqrt(aspect)
        self.cx, self.cy = float(drop["x"]) * w, float(drop["y"]) * h
        self.tail = float(drop["tail"])
        self.zoom, self.rim, self.highlight = float(drop["zoom"]), float(drop["rim"]), float(drop["highlight"])
        self.wobble = wobble
        self.source = source
        self.sx, self.sy = source.shape[1] / w, source.shape[0] / h

    def render(self, xs: np.ndarray, ys: np.ndarray, edge_width: float = 1.0) -> np.ndarray:
        """Unblurred premultiplied RGBA of the drop at pixel centres ``xs`` (cols) x ``ys`` (rows)."""
        u = ((xs.astype(np.float32) - np.float32(self.cx)) / np.float32(self.ax))[None, :]
        v = ((ys.astype(np.float32) - np.float32(self.cy)) / np.float32(self.ay))[:, None]
        d = drop_distance(u, v, self.tail, self.wobble)  # 1 on the boundary, <1 inside
        # anti-aliased edge one output pixel wide
        edge = np.clip((1.0 - d) * np.float32(self.r / edge_width) + np.float32(0.5), 0.0, 1.0)
        # lens: inverted, minified view of a patch ``zoom`` times larger; wider angles near the rim
        dc = np.minimum(d, np.float32(1.2))
        gain = np.float32(self.zoom) * (np.float32(1.0) + np.float32(0.35) * dc * dc)
        map_x = (np.float32(self.cx) - u * np.float32(self.ax) * gain) * np.float32(self.sx) - np.float32(0.5)
        map_y = (np.float32(self.cy) - v * np.float32(self.ay) * gain) * np.float32(self.sy) - np.float32(0.5)
        tex = cv2.remap(self.source, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        shade = np.float32(1.0) - np.float32(self.rim) * _smoothstep(0.55, 1.0, d)
        pa = np.empty(edge.shape + (4,), np.float32)
        np.multiply(tex, (shade * edge)[:, :, None], out=pa[:, :, :3])
        if self.highlight > 0:
            hu, hv = u + np.float32(0.35), v + np.float32(0.4)
            spot = np.exp((hu * hu + hv * hv) * np.float32(-1.0 / (2 * 0.12**2)))
            pa[:, :, :3] += (spot * (np.float32(self.highlight) * edge))[:, :, None]
        pa[:, :, 3] = edge
        return pa


def _render_full(
    lens: _Lens, box: tuple[int, int, int, int], roi: tuple[int, int, int, int], margin: int, sigma: float
) -> np.ndarray | None:
    """The drop at full resolution over ``roi``: the shape is evaluated only inside its box (and
    within ``margin`` of the frame), then padded and blurred."""
    bx0, bx1, by0, by1 = box
    x0, x1, y0, y1 = roi
    sx0, sx1 = max(bx0, x0 - margin), min(bx1, x1 + margin)
    sy0, sy1 = max(by0, y0 - margin), min(by1, y1 + margin)
    if sx1 <= sx0 or sy1 <= sy0:
        return None
    pa = lens.render(np.arange(sx0, sx1) + 0.5, np.arange(sy0, sy1) + 0.5)
    if not margin:
        return pa
    # defocus: blur premultiplied colour and alpha together, in one call
    pad = (sy0 - (y0 - margin), (y1 + margin) - sy1, sx0 - (x0 - margin), (x1 + margin) - sx1)
    pa = cv2.copyMakeBorder(pa, *pad, cv2.BORDER_CONSTANT, value=0)
    ksize = (2 * margin + 1, 2 * margin + 1)
    return cv2.GaussianBlur(pa, ksize, sigma, borderType=cv2.BORDER_CONSTANT)[margin:-margin, margin:-margin]


def _render_half(lens: _Lens, x0: int, x1: int, y0: int, y1: int, sigma: float) -> np.ndarray:
    """The drop over the (unclipped) box ``[y0, y1) x [x0, x1)`` rendered at half resolution,
    blurred by ``sigma / 2`` and upsampled: for large, strongly defocused drops the result is
    the same to the eye at a quarter of the cost."""
    nx, ny = (x1 - x0 + 1) // 2, (y1 - y0 + 1) // 2
    pa = lens.render(x0 + 2 * np.arange(nx) + 1.0, y0 + 2 * np.arange(ny) + 1.0, edge_width=2.0)
    pa = cv2.GaussianBlur(pa, (0, 0), sigma / 2, borderType=cv2.BORDER_CONSTANT)
    return cv2.resize(pa, (2 * nx, 2 * ny), interpolation=cv2.INTER_LINEAR)


def _smoothstep(lo: float, hi: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - np.float32(lo)) * np.float32(1.0 / (hi - lo)), 0.0, 1.0)
    return t * t * (np.float32(3.0) - 2 * t)
