"""shadowed, params version 1: soft abstract occluder mattes (blobs, polygons, bars).

The renderer of ``version`` 1 params, moved here unchanged from ``degradations/shadowed.py`` when
version 2 (silhouettes of real objects with a distance-dependent penumbra) replaced it, so that
recorded params keep replaying bit-exact. The darkening (SynShadow's per-channel affine model)
is shared with version 2 (:mod:`degradations.shadow_darkening`), as is the shape placement
(:mod:`degradations.shadow_geometry`).

The matte is the union of 1-3 occluders covering 5-40 % of the frame (``blob``: smooth noise on a
Gaussian envelope, thresholded; ``polygon``: 3-10 vertices at sorted angles; ``bar``: a long thin
band), each fitted to its share of the drawn coverage, softened by a Gaussian whose sigma goes
from ``penumbra[0]`` to ``penumbra[1]`` (0.5-3 % of the short side) along ``penumbra_angle``.
``sample`` draws version 1 params (kept for comparisons).
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

from ..base import Result, check_severity, choose, draw, draw_int, draw_seed
from ..shadow_darkening import PRESETS, darken_under, draw_darkening
from ..shadow_geometry import WORK_SIDE, fit_to_area, shoelace, transform_points

KINDS: tuple[str, ...] = ("blob", "polygon", "bar")
BLOB_SIDE = 128  # the smooth blob field is computed at this size, then resized
VERSION = 1

_SHARED_V1: dict[str, Any] = {
    "kinds": {"blob": 0.4, "polygon": 0.4, "bar": 0.2},
    "penumbra": (0.005, 0.03),
    "channel_offset": (0.05, 0.025),
}
RANGES: dict[str, dict[str, Any]] = {severity: {**preset, **_SHARED_V1} for severity, preset in PRESETS.items()}


class ShadowedV1:
    """shadowed, params version 1 (replays recorded params; samples for comparisons)."""

    name = "shadowed"
    version = VERSION
    ranges: dict[str, dict[str, Any]] = RANGES

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...], severity: str) -> dict[str, Any]:
        spec = RANGES[check_severity(severity)]
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
        d_red, d_blue, x1_rgb, y2 = draw_darkening(rng, spec)
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
        return darken_under(img, render_matte(img.shape[:2], params), params)


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
    base = math.sqrt(target / max(0.5 * abs(shoelace(unit)), 1e-6))

    def render(factor: float) -> np.ndarray:
        pts = transform_points(unit * factor, center, shadow["stretch"], shadow["rotation"])
        mask = np.zeros(shape, np.uint8)
        cv2.fillPoly(mask, [np.round(pts * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
        return mask

    return fit_to_area(render, target, base, 2.0).astype(np.float32) / 255.0


def _bar(rng: np.random.Generator, shape: tuple[int, int], shadow: dict[str, Any]) -> np.ndarray:
    h, w = shape
    length = shadow["length"] * math.hypot(h, w)
    center = (shadow["center"][0] * w, shadow["center"][1] * h)
    target = shadow["area"] * h * w
    taper = float(rng.uniform(0.6, 1.0))  # branches thin out towards one end
    unit = np.array([[-0.5, -0.5], [0.5, -0.5 * taper], [0.5, 0.5 * taper], [-0.5, 0.5]])

    def render(width: float) -> np.ndarray:
        pts = transform_points(unit * np.array([length, max(width, 1.0)]), center, 1.0, shadow["rotation"])
        mask = np.zeros(shape, np.uint8)
        cv2.fillPoly(mask, [np.round(pts * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
        return mask

    return fit_to_area(render, target, target / length, 1.0).astype(np.float32) / 255.0


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


_SHAPES = {"blob": _blob, "polygon": _polygon, "bar": _bar}
