"""shadowed: cast shadows of real objects with a physical penumbra and SynShadow's affine darkening.

Real shadow data (SRD, Qu et al. CVPR 2017; ISTD, Wang et al. CVPR 2018) is captured by photographing
a scene with and without an occluder between the sun and the surface: people, poles, plants, hands,
boards. Their shadows are dark silhouettes of those objects with a crisp edge where the object
touches the surface and a thin penumbra that widens away from it. This type (params ``version`` 2)
renders that; version 1 (soft abstract blobs and bars) lives on in ``degradations.legacy.shadowed_v1``.
What both share: :mod:`degradations.shadow_darkening` and :mod:`degradations.shadow_geometry`.

Darkening (unchanged from version 1): SynShadow (Inoue & Yamasaki, TCSVT 2021),
``lq = matte * darken(img) + (1 - matte) * img`` in sRGB, where ``darken`` is, per channel, the line
through ``(x1_c, 0)`` and ``(1, y2)`` (slope below 1), clipped to [0, 1]; ``x1_R = x1 + dR`` and
``x1_B = x1 - dB`` with ``dR, dB ~ N(0.05, 0.025)``: red is darkened more than blue (skylight-lit).

Occluders: 1-3 procedural silhouettes (:mod:`degradations.silhouettes`): ``person`` (head, torso,
striding legs, bent arms), ``pole`` (post, sign, street lamp), ``plant`` (a stem branching 3-4
times with leaves), ``hand`` (forearm, palm, spread fingers). The shadow of an upright object on
the surface is its silhouette lengthened by ``elongation`` (low sun: long shadows) and sheared,
then rotated to the shadow direction and scaled so that its visible part covers its share of the
drawn ``coverage``.

Penumbra (geometric optics of an extended source): a light of angular diameter ``theta`` casts a
penumbra of width ``theta * d`` at a surface point whose occluding point is ``d`` away (Haines &
Moller, "Real-Time Shadows", ch. 1; the sun's ``theta`` is 0.0093 rad). For a grounded object the
occluding point of a shadow point at image distance ``s`` from the contact point is at height
``s / elongation``, so ``d = s * sqrt(1 + 1 / elongation**2)``; a hand is held ``lift`` silhouette
heights above the surface, so ``d`` is about that everywhere. The 10-90 % width of the edge is
``contact_width + theta * d`` (px at a 512-px short side for ``contact_width``: the edge at the
contact point); it is rendered as a Gaussian blur whose sigma (width / 2.563) varies per pixel,
by interpolating between a few blur levels.

Everything is recorded: kinds, centres, areas, rotation, elongation, shear, lift, contact width,
light size, darkening and the ``seed`` of the silhouette details (stride, arm angles, branching,
finger spread). Shapes are drawn at a working resolution of at most 512 px on the short side and
the (smooth) matte is resized to the image. Side output ``matte``: uint8, 255 = full shadow. Input
PSNR on the bundled photos: see the README's "What each type models" table.

albumentations' RandomShadow is not the same thing: hard-edged random-vertex polygons (often
self-intersecting), one uniform scale for all channels (no colour shift), no penumbra, no matte.
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

from .base import Result, check_severity, choose, draw, draw_int, draw_seed, log_uniform
from .shadow_darkening import PRESETS, darken_under, draw_darkening
from .shadow_geometry import WORK_SIDE, fit_to_area, shoelace, transform_points
from .silhouettes import SILHOUETTES

KINDS: tuple[str, ...] = ("person", "pole", "plant", "hand")
GROUNDED: frozenset[str] = frozenset({"person", "pole", "plant"})  # touch the surface at their origin
REFERENCE_SIDE = 512.0
TEN_NINETY = 2.5631  # 10-90 % width of a Gaussian-blurred step, in sigmas (2 * 1.2816)
LEVEL_RATIO = 1.5  # sigma ratio between neighbouring blur levels of the variable penumbra
MAX_LEVELS = 6

# Shared by every preset: occluder kinds, 10-90 % edge width at the contact point (px at 512),
# angular diameter of the light (rad: the sun 0.0093, a hazy sun or a bright patch of sky more),
# and the mean and std of SynShadow's per-channel x-intercept offsets dR, dB.
_SHARED: dict[str, Any] = {
    "kinds": {"person": 0.35, "pole": 0.2, "plant": 0.3, "hand": 0.15},
    "contact_width": (0.8, 2.0),
    "light_size": (0.0093, 0.012),
    "channel_offset": (0.05, 0.025),
}


class Shadowed:
    name = "shadowed"
    version = 2
    ranges: dict[str, dict[str, Any]] = {severity: {**preset, **_SHARED} for severity, preset in PRESETS.items()}

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...], severity: str) -> dict[str, Any]:
        spec = self.ranges[check_severity(severity)]
        count = draw_int(rng, spec["count"])
        coverage = draw(rng, spec["coverage"])
        shares = rng.dirichlet(np.full(count, 2.0))
        shadows = []
        for share in shares:
            kind = choose(rng, spec["kinds"])
            grounded = kind in GROUNDED
            shadows.append({
                "kind": kind,
                "center": [float(rng.uniform(0.15, 0.85)), float(rng.uniform(0.15, 0.85))],
                "area": float(coverage * share),
                "rotation": float(rng.uniform(0.0, 360.0)),  # direction the shadow points in the image
                "elongation": log_uniform(rng, 0.8, 2.5) if grounded else float(rng.uniform(0.9, 1.2)),
                "shear": float(rng.uniform(-0.3, 0.3)),
                "lift": 0.0 if grounded else float(rng.uniform(0.3, 1.0)),  # silhouette heights above the surface
            })
        d_red, d_blue, x1_rgb, y2 = draw_darkening(rng, spec)
        return {
            "shadows": shadows,
            "coverage": float(coverage),
            "contact_width": draw(rng, spec["contact_width"]),
            "light_size": draw(rng, spec["light_size"]),
            "channel_offsets": [d_red, d_blue],
            "x1": [float(v) for v in x1_rgb],
            "y2": float(y2),
            "seed": draw_seed(rng),
        }

    def apply(self, img: np.ndarray, params: dict[str, Any]) -> Result:
        return darken_under(img, render_matte(img.shape[:2], params), params)


def render_matte(shape: tuple[int, int], params: dict[str, Any]) -> np.ndarray:
    """The float32 HxW shadow matte in [0, 1] (1 = full shadow) for recorded version 2 params."""
    h, w = shape
    scale = min(1.0, WORK_SIDE / min(h, w))
    wh, ww = max(1, round(h * scale)), max(1, round(w * scale))
    unit = min(wh, ww) / REFERENCE_SIDE
    rng = np.random.default_rng(int(params["seed"]))
    matte = np.zeros((wh, ww), np.float32)
    for shadow in params["shadows"]:
        polygons = SILHOUETTES[shadow["kind"]](rng)
        hard, anchor, height = _cast(polygons, (wh, ww), shadow)
        _add_penumbra(matte, hard, anchor, shadow, float(params["contact_width"]) * unit,
                      float(params["light_size"]), height)
    if (wh, ww) != (h, w):
        matte = cv2.resize(matte, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(matte, 0.0, 1.0)


def _cast(
    polygons: list[np.ndarray], shape: tuple[int, int], shadow: dict[str, Any]
) -> tuple[np.ndarray, tuple[float, float], float]:
    """The hard (anti-aliased) uint8 shadow of a silhouette, its contact point in px and its height in px."""
    h, w = shape
    elongation, shear = float(shadow["elongation"]), float(shadow["shear"])
    local = []
    for poly in polygons:
        p = poly.astype(np.float64).copy()
        p[:, 0] += shear * p[:, 1]
        p[:, 1] *= elongation
        local.append(p)
    everything = np.concatenate(local)
    middle = (everything.min(axis=0) + everything.max(axis=0)) / 2.0
    local = [p - middle for p in local]
    # the silhouette's "up" (-y) is turned to point along ``rotation`` (0 deg = image right)
    rotation = float(shadow["rotation"]) + 90.0
    center = (shadow["center"][0] * w, shadow["center"][1] * h)
    target = shadow["area"] * h * w
    area = sum(0.5 * abs(shoelace(p)) for p in local)
    base = math.sqrt(target / max(area, 1e-6))

    def render(factor: float) -> np.ndarray:
        mask = np.zeros(shape, np.uint8)
        for p in local:
            pts = transform_points(p * factor, center, 1.0, rotation)
            cv2.fillConvexPoly(mask, np.round(pts * 16).astype(np.int32), 255, cv2.LINE_AA, shift=4)
        return mask

    factor = [base]

    def tracked(f: float) -> np.ndarray:
        factor[0] = f
        return render(f)

    hard = fit_to_area(tracked, target, base, 2.0)
    anchor = transform_points(-middle[None, :] * factor[0], center, 1.0, rotation)[0]
    return hard, (float(anchor[0]), float(anchor[1])), factor[0]


def _add_penumbra(
    matte: np.ndarray,
    hard: np.ndarray,
    anchor: tuple[float, float],
    shadow: dict[str, Any],
    contact: float,
    theta: float,
    height: float,
) -> None:
    """Blur ``hard`` with a per-pixel sigma from the penumbra model and max it into ``matte``."""
    x, y, bw, bh = cv2.boundingRect(hard)
    if bw == 0 or bh == 0:
        return
    h, w = hard.shape
    # the widest edge sits at the far end of the box from the contact point
    corners = np.array([[x, y], [x + bw, y], [x, y + bh], [x + bw, y + bh]], np.float64)
    far = float(np.hypot(corners[:, 0] - anchor[0], corners[:, 1] - anchor[1]).max())
    sigma_lo = max(0.3, contact / TEN_NINETY)
    sigma_hi = max(sigma_lo, _edge_width(far, shadow, contact, theta, height) / TEN_NINETY)
    pad = math.ceil(3.0 * sigma_hi) + 1
    x0, y0, x1, y1 = max(0, x - pad), max(0, y - pad), min(w, x + bw + pad), min(h, y + bh + pad)
    roi = hard[y0:y1, x0:x1].astype(np.float32) * np.float32(1.0 / 255.0)
    levels = min(MAX_LEVELS, max(1, math.ceil(math.log(sigma_hi / sigma_lo) / math.log(LEVEL_RATIO)) + 1))
    sigmas = [sigma_lo * LEVEL_RATIO**k for k in range(levels)]
    blurred = np.stack([cv2.GaussianBlur(roi, (0, 0), s, borderType=cv2.BORDER_REPLICATE) for s in sigmas])
    if levels == 1:
        soft = blurred[0]
    else:
        xs = np.arange(x0, x1, dtype=np.float32)[None, :] - np.float32(anchor[0])
        ys = np.arange(y0, y1, dtype=np.float32)[:, None] - np.float32(anchor[1])
        sigma = _edge_width(np.sqrt(xs * xs + ys * ys), shadow, contact, theta, height) / np.float32(TEN_NINETY)
        pos = np.log(np.maximum(sigma, np.float32(sigma_lo)) / np.float32(sigma_lo)) / np.float32(math.log(LEVEL_RATIO))
        np.clip(pos, 0.0, levels - 1.0, out=pos)
        lower = np.minimum(pos.astype(np.int64), levels - 2)
        frac = (pos - lower)[None]
        a = np.take_along_axis(blurred, lower[None], axis=0)
        b = np.take_along_axis(blurred, lower[None] + 1, axis=0)
        soft = (a + frac * (b - a))[0]
    np.maximum(matte[y0:y1, x0:x1], soft, out=matte[y0:y1, x0:x1])


def _edge_width(distance, shadow: dict[str, Any], contact: float, theta: float, height: float):
    """10-90 % penumbra width (px) at an image ``distance`` (px) from the contact point."""
    if shadow["kind"] in GROUNDED:
        occluder = distance * math.sqrt(1.0 + 1.0 / float(shadow["elongation"]) ** 2)
    else:  # held above the surface: about the same distance everywhere
        occluder = np.full_like(distance, float(shadow["lift"]) * height)
    return contact + theta * occluder
