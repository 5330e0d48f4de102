"""Inpainting hole masks: LaMa thin/medium/thick strokes, DeepFill-v2 free-form strokes, boxes.

Every generator scales with the image: sizes are given for a 256-px short side (LaMa's and
DeepFill's training size) and multiplied by ``min(h, w) / 256``. Masks are uint8, 255 = hole.

:func:`hole_mask` draws a target ratio inside the band ``[lo, hi]`` and adds one primitive (a
stroke or a box) at a time until the hole ratio reaches it; a primitive that would overshoot
``hi`` is undone and another one is drawn (rejection sampling on the hole ratio). Only the bounding box of each primitive is
copied and counted, so a 4000x3000 mask costs about as much as a 512x512 one per primitive.

Styles
- ``thin`` / ``medium`` / ``thick``: LaMa's irregular brush strokes (``configs/data_gen``
  thin/medium/thick 256: max width 10 / 50 / 100 px, max segment 40 / 100 / 200 px); medium
  and thick mix in boxes with probability 0.3, as LaMa's mixed generator does.
- ``freeform``: DeepFill v2 (Yu et al. 2019): 4-12 vertices, turning angles 2*pi/5 +- U(0, 2*pi/15)
  with alternating sign, segment length ~ N(r, r/2) clipped to [0, 2r] with r = diagonal / 8,
  width U(12, 40) px, round joints, a random overall rotation (DeepFill draws 1-3 such strokes
  and flips the mask; here strokes are added until the hole ratio is reached).
- ``box``: axis-aligned rectangles, 30-150 px sides (LaMa's thick boxes), as CoarseDropout draws.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

STYLES: tuple[str, ...] = ("thin", "medium", "thick", "freeform", "box")
REFERENCE_SIDE = 256.0


@dataclass(frozen=True)
class StrokeSpec:
    """LaMa irregular-stroke settings at the 256-px reference size."""

    segments: tuple[int, int]  # segments per stroke (inclusive range)
    max_len: float
    max_width: float
    box_probability: float
    box_side: tuple[float, float]


LAMA: dict[str, StrokeSpec] = {
    "thin": StrokeSpec(segments=(1, 5), max_len=40.0, max_width=10.0, box_probability=0.0, box_side=(10, 50)),
    "medium": StrokeSpec(segments=(1, 5), max_len=100.0, max_width=50.0, box_probability=0.3, box_side=(10, 50)),
    "thick": StrokeSpec(segments=(1, 5), max_len=200.0, max_width=100.0, box_probability=0.3, box_side=(30, 150)),
}

# A primitive is a list of drawing ops.
Op = tuple[str, np.ndarray, int]  # ("line", Nx2 int32 points, thickness) or ("rect", 2x2 corners, 0)


def hole_mask(
    rng: np.random.Generator,
    shape: tuple[int, int],
    style: str,
    ratio: tuple[float, float],
    target: float | None = None,
    max_primitives: int = 600,
    max_rejections: int = 60,
) -> np.ndarray:
    """A uint8 HxW mask (255 = hole) whose hole ratio lies in ``ratio = (lo, hi)`` when reachable.

    Primitives are added until the ratio reaches ``target`` (drawn uniformly in the band when
    not given). Tiny images may not allow the band (one pixel is 0 % or 100 %): then the mask is
    the closest one found from below. The result depends only on ``rng``'s state and the arguments.
    """
    if style not in _GENERATORS:
        raise ValueError(f"unknown mask style {style!r}; valid: {', '.join(STYLES)}")
    h, w = int(shape[0]), int(shape[1])
    lo, hi = float(ratio[0]), float(ratio[1])
    if not 0.0 <= lo <= hi <= 1.0:
        raise ValueError(f"hole ratio range must satisfy 0 <= lo <= hi <= 1, got {ratio}")
    mask = np.zeros((h, w), np.uint8)
    total = h * w
    # A target inside the band spreads the ratios over it instead of piling them up at ``lo``.
    if target is None:
        target = float(rng.uniform(lo, hi)) if hi > lo else lo
    if not lo <= target <= hi:
        raise ValueError(f"target hole ratio {target} is outside the band {ratio}")
    target_lo, target_hi = target * total, hi * total
    count = 0
    rejections = 0
    scale = max(min(h, w) / REFERENCE_SIDE, 1.0 / REFERENCE_SIDE)
    generate = _GENERATORS[style]
    for _ in range(max_primitives):
        if count >= target_lo:
            break
        ops = generate(rng, h, w, scale)
        x0, y0, x1, y1 = _bbox(ops, h, w)
        if x1 <= x0 or y1 <= y0:
            continue
        roi = mask[y0:y1, x0:x1]
        backup = roi.copy()
        before = cv2.countNonZero(roi)
        _draw(mask, ops)
        new = count - before + cv2.countNonZero(roi)
        if new > target_hi:
            roi[...] = backup
            rejections += 1
            if rejections > max_rejections:
                break
            continue
        count = new
    return mask


def _stroke_points(rng: np.random.Generator, h: int, w: int, lengths: np.ndarray, angles: np.ndarray) -> np.ndarray:
    x, y = float(rng.uniform(0, w)), float(rng.uniform(0, h))
    points = [(x, y)]
    for length, angle in zip(lengths, angles):
        # Not clipped to the frame: clipping makes strokes crawl along the borders; OpenCV clips the drawing.
        x = x + float(length) * math.cos(angle)
        y = y + float(length) * math.sin(angle)
        points.append((x, y))
    return np.round(np.asarray(points)).astype(np.int32)


def _lama(spec: StrokeSpec) -> Callable[[np.random.Generator, int, int, float], list[Op]]:
    def generate(rng: np.random.Generator, h: int, w: int, scale: float) -> list[Op]:
        if rng.random() < spec.box_probability:
            return _box_ops(rng, h, w, scale, spec.box_side)
        n = int(rng.integers(spec.segments[0], spec.segments[1] + 1))
        lengths = (10.0 + rng.uniform(0.0, spec.max_len, size=n)) * scale
        start = rng.uniform(0.0, 2.0 * math.pi)
        angles = start + np.cumsum(np.concatenate([[0.0], rng.uniform(-1.2, 1.2, size=n - 1)]))
        width = max(1, int(round((5.0 + rng.uniform(0.0, spec.max_width)) * scale)))
        return [("line", _stroke_points(rng, h, w, lengths, angles), width)]

    return generate


def _freeform(rng: np.random.Generator, h: int, w: int, scale: float) -> list[Op]:
    n = int(rng.integers(4, 13))
    mean_angle, angle_range = 2.0 * math.pi / 5.0, 2.0 * math.pi / 15.0
    a_min = mean_angle - rng.uniform(0, angle_range)
    a_max = mean_angle + rng.uniform(0, angle_range)
    turns = rng.uniform(a_min, a_max, size=n)
    turns[::2] = 2.0 * math.pi - turns[::2]
    turns += rng.uniform(0.0, 2.0 * math.pi)  # DeepFill flips the finished mask; a rotation covers that
    radius = math.hypot(h, w) / 8.0
    lengths = np.clip(rng.normal(radius, radius / 2.0, size=n), 0.0, 2.0 * radius)
    width = max(1, int(round(rng.uniform(12.0, 40.0) * scale)))
    return [("line", _stroke_points(rng, h, w, lengths, turns), width)]


def _box_ops(rng: np.random.Generator, h: int, w: int, scale: float, side: tuple[float, float]) -> list[Op]:
    bw = max(1, int(round(rng.uniform(*side) * scale)))
    bh = max(1, int(round(rng.uniform(*side) * scale)))
    x0 = int(rng.integers(0, max(1, w - bw + 1)))
    y0 = int(rng.integers(0, max(1, h - bh + 1)))
    return [("rect", np.array([[x0, y0], [x0 + bw - 1, y0 + bh - 1]], np.int32), 0)]


def _box(rng: np.random.Generator, h: int, w: int, scale: float) -> list[Op]:
    return _box_ops(rng, h, w, scale, (30.0, 150.0))


_GENERATORS: dict[str, Callable[[np.random.Generator, int, int, float], list[Op]]] = {
    "thin": _lama(LAMA["thin"]),
    "medium": _lama(LAMA["medium"]),
    "thick": _lama(LAMA["thick"]),
    "freeform": _freeform,
    "box": _box,
}


def _bbox(ops: list[Op], h: int, w: int) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = w, h, 0, 0
    for _kind, pts, thickness in ops:
        pad = thickness // 2 + 2
        x0 = min(x0, int(pts[:, 0].min()) - pad)
        y0 = min(y0, int(pts[:, 1].min()) - pad)
        x1 = max(x1, int(pts[:, 0].max()) + pad + 1)
        y1 = max(y1, int(pts[:, 1].max()) + pad + 1)
    return max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)


def _draw(mask: np.ndarray, ops: list[Op]) -> None:
    for kind, pts, thickness in ops:
        if kind == "rect":
            cv2.rectangle(mask, tuple(int(v) for v in pts[0]), tuple(int(v) for v in pts[1]), 255, -1)
            continue
        # Thick OpenCV lines have round caps; circles at the joints round the corners too (DeepFill).
        cv2.polylines(mask, [pts.reshape(-1, 1, 2)], False, 255, thickness, cv2.LINE_8)
        if thickness > 2:
            for x, y in pts:
                cv2.circle(mask, (int(x), int(y)), thickness // 2, 255, -1, cv2.LINE_8)
