"""shadowed: cast shadows with soft penumbrae and SynShadow's per-channel affine darkening.

DA-CLIP's shadow data is SRD (real pairs). The synthetic model follows SynShadow (Inoue &
Yamasaki 2021): ``lq = matte * darken(img) + (1 - matte) * img`` in sRGB, where ``darken`` is,
per channel, the line through ``(x1_c, 0)`` and ``(1, y2)`` (slope below 1), clipped to [0, 1].
The x-intercepts differ per channel, ``x1_R = x1 + dR`` and ``x1_B = x1 - dB`` with
``dR, dB ~ N(0.05, 0.025)``: red is darkened more than blue, as in skylight-lit shadows.

The matte is the union of 1-3 occluders covering 5-40 % of the frame:
- ``blob``: smooth noise on a Gaussian envelope, thresholded (foliage, irregular objects);
- ``polygon``: 3-10 vertices at sorted angles around a centre, so it never self-intersects, then
  stretched and rotated (buildings, people, boards);
- ``bar``: a long thin band (poles, branches, cables).
Each shape is fitted to its share of the drawn coverage (the part inside the frame counts).
The penumbra is a Gaussian blur whose sigma goes from ``penumbra[0]`` to ``penumbra[1]`` (0.5-3 %
of the short side) along a random direction: shadows soften away from the contact point.

Everything is recorded: shape kinds, centres, areas, stretch, rotation, penumbra, darkening and
the ``seed`` of the shape details (vertex angles and radii, the noise field). Shapes are drawn at
a working resolution of at most 512 px on the short side and the (smooth) matte is resized to the
image, so a 4000x3000 image costs little more than a 512x512 one. Side output ``matte``: uint8,
255 = full shadow. Input PSNR on the bundled photos (median, interquartile range): light 28.6
(25.0-30.5) dB, medium 19.5 (17.6-21.5) dB, heavy 13.9 (13.0-16.4) dB.

albumentations' RandomShadow is not the same thing: hard-edged random-vertex polygons (often
self-intersecting), one uniform scale for all channels (no colour shift), no penumbra, no matte.
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

from .base import Result, check_severity, choose, draw, draw_int, draw_seed

KINDS: tuple[str, ...] = ("blob", "polygon", "bar")
WORK_SIDE = 512  # shapes and penumbra are rendered with at most this many pixels on the short side
BLOB_SIDE = 128  # the smooth blob field is computed at this size, then resized


# Shared by every preset: occluder kinds, penumbra sigma (fraction of the short side), and the
# mean and std of SynShadow's per-channel x-intercept offsets dR, dB.
_SHARED: dict[str, Any] = {
    "kinds": {"blob": 0.4, "polygon": 0.4, "bar": 0.2},
    "penumbra": (0.005, 0.03),
    "channel_offset": (0.05, 0.025),
}


class Shadowed:
    name = "shadowed"
    version = 1
    ranges: dict[str, dict[str, Any]] = {
        severity: {**preset, **_SHARED}
        for severity, preset in {
            "light": {"count": (1, 2), "coverage": (0.05, 0.15), "x1": (0.0, 0.10), "y2": (0.55, 0.85)},
            "medium": {"count": (1, 3), "coverage": (0.10, 0.30), "x1": (0.0, 0.20), "y2": (0.30, 0.65)},
            "heavy": {"count": (1, 3), "coverage": (0.25, 0.40), "x1": (0.05, 0.25), "y2": (0.10, 0.35)},
            "random": {"count": (1, 3), "coverage": (0.05, 0.40), "x1": (0.0, 0.25), "y2": (0.10, 0.90)},
        }.items()
    }

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...], severity: str) -> dict[str, Any]:
        spec = self.ranges[check_severity(severity)]
        count = draw_int(rng, spec["count"])
        coverage = draw(rng, spec["coverage"])
        shares = rng.dirichlet(np.full(count, 2.0))
        shadows = []
        for share in shares:
            kind = choose(rng, spec["kinds"])
            shadow: dict[str, Any] = {
                "kind": kind,
                "center": [float(rng.uniform(0.0, 1.0)), float(rng.uniform(0.0, 1.0))],
                "area": float(coverage * share),
                "rotation": float(rng.uniform(0.0, 180.0)),
            }
            if kind == "polygon":
                shadow["vertices"] = int(rng.integers(3, 11))
                shadow["stretch"] = float(math.exp(rng.uniform(0.0, math.log(3.0))))
            elif kind == "blob":
                shadow["stretch"] = float(math.exp(rng.uniform(0.0, math.log(2.5))))
                shadow["detail"] = int(rng.integers(3, 9))  # noise cells across the blob
                shadow["roughness"] = float(rng.uniform(0.2, 0.6))
            else:
                shadow["length"] = float(rng.uniform(0.5, 2.0))  # fraction of the image diagonal
            shadows.append(shadow)
        near, far = sorted(float(v) for v in rng.uniform(*spec["penumbra"], size=2))
        x1 = draw(rng, spec["x1"])
        mean, std = spec["channel_offset"]
        d_red, d_blue = (max(0.0, float(v)) for v in rng.normal(mean, std, size=2))
        x1_rgb = [min(x1 + d_red, 0.5), x1, max(x1 - d_blue, 0.0)]
        y2 = min(draw(rng, spec["y2"]), 0.98 * (1.0 - x1_rgb[0]))  # slope < 1 on every channel
        return {
            "shadows": shadows,
            "coverage": float(coverage),
            "penumbra": [near, far],
            "penumbra_angle": float(rng.uniform(0.0, 360.0)),
            "channel_offsets": [d_red, d_blue],
            "x1": [float(v) for v in x1_rgb],
            "y2": float(y2),
            "seed": draw_seed(rng),
        }

    def apply(self, img: np.ndarray, params: dict[str, Any]) -> Result:
        h, w = img.shape[:2]
        matte = render_matte((h, w), params)
        lut = darkening_lut(params["x1"], params["y2"])  # darken(v) - v per channel, 0..255 units
        diff = cv2.LUT(img, lut)
        out = img.astype(np.float32) + diff * matte[:, :, None]
        np.add(out, np.float32(0.5), out=out)
        np.clip(out, 0, 255, out=out)
        matte8 = (matte * np.float32(255.0) + np.float32(0.5)).astype(np.uint8)
        return Result(lq=out.astype(np.uint8), maps={"matte": matte8})


def darkening_lut(x1: list[float], y2: float) -> np.ndarray:
    """A 256x1x3 float32 table of ``darken(v) - v`` (0..255 units) for each RGB channel."""
    v = np.arange(256, dtype=np.float64) / 255.0
    columns = []
    for x1_c in x1:
        slope = y2 / (1.0 - x1_c)
        columns.append(np.clip(slope * (v - x1_c), 0.0, 1.0) - v)
    return (np.stack(columns, axis=-1) * 255.0).astype(np.float32).reshape(256, 1, 3)


def render_matte(shape: tuple[int, int], params: dict[str, Any]) -> np.ndarray:
    """The float32 HxW shadow matte in [0, 1] (1 = full shadow) for recorded params."""
    h, w = shape
    scale = min(1.0, WORK_SIDE / min(h, w))
    wh, ww = max(1, round(h * scale)), max(1, round(w * scale))
    rng = np.random.default_rng(int(params["seed"]))
    hard = np.zeros((wh, ww), np.float32)
    for shadow in params["shadows"]:
        hard = np.maximum(hard, _SHAPES[shadow["kind"]](rng, (wh, ww), shadow))
    matte = _penumbra(hard, params["penumbra"], params["penumbra_angle"], min(wh, ww))
    if (wh, ww) != (h, w):
        matte = cv2.resize(matte, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(matte, 0.0, 1.0)


def _penumbra(hard: np.ndarray, sigmas: list[float], angle: float, side: int) -> np.ndarray:
    near, far = (max(0.3, s * side) for s in sigmas)
    soft_near = cv2.GaussianBlur(hard, (0, 0), near, borderType=cv2.BORDER_REFLECT)
    if far - near < 0.05:
        return soft_near
    soft_far = cv2.GaussianBlur(hard, (0, 0), far, borderType=cv2.BORDER_REFLECT)
    h, w = hard.shape
    ux, uy = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    proj = np.arange(w, dtype=np.float32)[None, :] * np.float32(ux) + np.arange(h, dtype=np.float32)[:, None] * np.float32(uy)
    span = float(proj.max() - proj.min())
    ramp = (proj - proj.min()) / np.float32(span) if span > 0 else np.zeros_like(proj)
    return soft_near + ramp * (soft_far - soft_near)


def _fit(render, target_px: float, start: float, power: float) -> np.ndarray:
    """Render with a size factor adjusted (three secant-like steps) until the visible area matches."""
    factor = start
    mask = render(factor)
    for _ in range(3):
        visible = float(cv2.countNonZero(mask))
        if target_px <= 0 or abs(visible - target_px) <= 0.03 * target_px:
            break
        factor *= min(3.0, max(1.0 / 3.0, (target_px / max(visible, 1.0)) ** (1.0 / power)))
        mask = render(factor)
    return mask


def _transform(points: np.ndarray, center: tuple[float, float], stretch: float, rotation: float) -> np.ndarray:
    c, s = math.cos(math.radians(rotation)), math.sin(math.radians(rotation))
    x, y = points[:, 0] * stretch, points[:, 1] / stretch
    return np.stack([center[0] + c * x - s * y, center[1] + s * x + c * y], axis=1)


def _polygon(rng: np.random.Generator, shape: tuple[int, int], shadow: dict[str, Any]) -> np.ndarray:
    h, w = shape
    n = int(shadow["vertices"])
    # Sorted angles make a simple (star-shaped) polygon; jittered even spacing keeps every gap
    # below pi, so the polygon contains its centre and never degenerates into a sliver.
    angles = (np.arange(n) + rng.uniform(-0.2, 0.2, size=n)) * (2.0 * math.pi / n) + rng.uniform(0.0, 2.0 * math.pi)
    radii = rng.uniform(0.45, 1.0, size=n)
    unit = np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)
    center = (shadow["center"][0] * w, shadow["center"][1] * h)
    target = shadow["area"] * h * w
    base = math.sqrt(target / max(0.5 * abs(_shoelace(unit)), 1e-6))

    def render(factor: float) -> np.ndarray:
        pts = _transform(unit * factor, center, shadow["stretch"], shadow["rotation"])
        mask = np.zeros(shape, np.uint8)
        cv2.fillPoly(mask, [np.round(pts * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
        return mask

    return _fit(render, target, base, 2.0).astype(np.float32) / 255.0


def _bar(rng: np.random.Generator, shape: tuple[int, int], shadow: dict[str, Any]) -> np.ndarray:
    h, w = shape
    length = shadow["length"] * math.hypot(h, w)
    center = (shadow["center"][0] * w, shadow["center"][1] * h)
    target = shadow["area"] * h * w
    taper = float(rng.uniform(0.6, 1.0))  # branches thin out towards one end
    unit = np.array([[-0.5, -0.5], [0.5, -0.5 * taper], [0.5, 0.5 * taper], [-0.5, 0.5]])

    def render(width: float) -> np.ndarray:
        pts = _transform(unit * np.array([length, max(width, 1.0)]), center, 1.0, shadow["rotation"])
        mask = np.zeros(shape, np.uint8)
        cv2.fillPoly(mask, [np.round(pts * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
        return mask

    return _fit(render, target, target / length, 1.0).astype(np.float32) / 255.0


def _blob(rng: np.random.Generator, shape: tuple[int, int], shadow: dict[str, Any]) -> np.ndarray:
    h, w = shape
    k = shadow["area"] * h * w
    if k < 0.5:
        return np.zeros(shape, np.float32)
    # The field is smooth, so it is computed on a small grid and resized to the working size.
    small = min(1.0, BLOB_SIDE / min(h, w))
    sh, sw = max(1, round(h * small)), max(1, round(w * small))
    radius = math.sqrt(shadow["area"] * sh * sw / math.pi)
    cells = int(shadow["detail"])
    noise = rng.standard_normal((cells + 3, cells + 3)).astype(np.float32)
    # Envelope times smooth log-normal noise, in the blob's own (stretched, rotated) frame;
    # multiplicative, so there are no stray spots far from the centre.
    ys, xs = np.mgrid[0:sh, 0:sw].astype(np.float32) + np.float32(0.5)
    c, s = math.cos(math.radians(shadow["rotation"])), math.sin(math.radians(shadow["rotation"]))
    dx, dy = xs - np.float32(shadow["center"][0] * sw), ys - np.float32(shadow["center"][1] * sh)
    u = (c * dx + s * dy) / np.float32(radius * shadow["stretch"] + 1e-6)
    v = (-s * dx + c * dy) / np.float32(radius / shadow["stretch"] + 1e-6)
    envelope = np.exp(-0.5 * (u * u + v * v))
    grid = np.float32(cells / 5.0)  # -2.5..2.5 envelope radii span the noise grid
    map_x = np.clip((u + 2.5) * grid + 1.0, 0, cells + 2).astype(np.float32)
    map_y = np.clip((v + 2.5) * grid + 1.0, 0, cells + 2).astype(np.float32)
    smooth = cv2.remap(noise, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    field = envelope * np.exp(np.float32(shadow["roughness"]) * smooth)
    flat = field.ravel()
    k_small = int(min(max(round(shadow["area"] * flat.size), 1), flat.size))
    threshold = np.partition(flat, flat.size - k_small)[flat.size - k_small]
    if (sh, sw) != (h, w):
        field = cv2.resize(field, (w, h), interpolation=cv2.INTER_LINEAR)
    return (field >= threshold).astype(np.float32)


def _shoelace(points: np.ndarray) -> float:
    x, y = points[:, 0], points[:, 1]
    return float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


_SHAPES = {"blob": _blob, "polygon": _polygon, "bar": _bar}
