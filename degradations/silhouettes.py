"""Procedural occluder silhouettes for cast shadows: people, poles and posts, branching plants, hands.

Each generator returns a list of simple polygons (``N x 2`` float arrays) in the occluder's own unit
frame: the point where the object meets the surface (feet, foot of a post, base of a stem, wrist) is
the origin, the object extends upwards to ``y = -1`` and is roughly centred on ``x = 0``. Their union
is the silhouette; :func:`degradations.shadowed` stretches, rotates and scales it into a cast shadow.
Every random detail (stride, arm angles, branching, finger spread) comes from the ``rng`` given, so a
recorded seed redraws the same silhouette.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

Polygons = list[np.ndarray]


def capsule(p0: tuple[float, float], p1: tuple[float, float], width: float, steps: int = 6) -> np.ndarray:
    """A segment of ``width`` with round ends (a limb, a branch, a finger) as one convex polygon."""
    (x0, y0), (x1, y1) = p0, p1
    angle = math.atan2(y1 - y0, x1 - x0)
    r = width / 2.0
    half = np.linspace(-math.pi / 2, math.pi / 2, steps + 1)
    end1 = np.stack([x1 + r * np.cos(angle + half), y1 + r * np.sin(angle + half)], axis=1)
    end0 = np.stack([x0 + r * np.cos(angle + math.pi + half), y0 + r * np.sin(angle + math.pi + half)], axis=1)
    return np.concatenate([end1, end0])


def ellipse(center: tuple[float, float], ax: float, ay: float, angle: float = 0.0, steps: int = 16) -> np.ndarray:
    t = np.linspace(0.0, 2.0 * math.pi, steps, endpoint=False)
    x, y = ax * np.cos(t), ay * np.sin(t)
    c, s = math.cos(angle), math.sin(angle)
    return np.stack([center[0] + c * x - s * y, center[1] + s * x + c * y], axis=1)


def person(rng: np.random.Generator) -> Polygons:
    """Head, torso, two legs with a stride, two arms bent at the elbow."""
    stride = float(rng.uniform(0.0, 0.2))
    build = float(rng.uniform(0.85, 1.2))  # shoulder and hip width
    parts = [
        ellipse((0.0, -0.915), 0.058, 0.07),  # head
        capsule((0.0, -0.86), (0.0, -0.8), 0.05),  # neck
        np.array([[-0.085 * build, -0.47], [0.085 * build, -0.47], [0.125 * build, -0.79], [-0.125 * build, -0.79]]),
    ]
    for side in (-1.0, 1.0):
        parts.append(capsule((side * 0.045 * build, -0.48), (side * stride / 2.0, -0.02), 0.075))  # leg
        shoulder = (side * 0.11 * build, -0.78)
        upper = float(rng.uniform(-0.15, 0.7))  # outward swing of the upper arm from hanging down
        fore = upper + float(rng.uniform(0.0, 1.2))  # elbow bend
        elbow = (shoulder[0] + side * 0.17 * math.sin(upper), shoulder[1] + 0.17 * math.cos(upper))
        wrist = (elbow[0] + side * 0.16 * math.sin(fore), elbow[1] + 0.16 * math.cos(fore))
        parts += [capsule(shoulder, elbow, 0.06), capsule(elbow, wrist, 0.05)]
    return parts


def pole(rng: np.random.Generator) -> Polygons:
    """A post: plain, with a sign board on top, or a street lamp with an arm."""
    w = float(rng.uniform(0.04, 0.08))
    parts = [np.array([[-w / 2, 0.0], [w / 2, 0.0], [w / 2, -1.0], [-w / 2, -1.0]])]
    variant = int(rng.integers(3))
    if variant == 1:  # sign board
        bw, bh = float(rng.uniform(0.12, 0.3)), float(rng.uniform(0.08, 0.2))
        parts.append(np.array([[-bw / 2, -1.0 + bh], [bw / 2, -1.0 + bh], [bw / 2, -1.0], [-bw / 2, -1.0]]))
    elif variant == 2:  # lamp arm and head
        reach = float(rng.uniform(0.12, 0.3)) * (1 if rng.uniform() < 0.5 else -1)
        parts.append(capsule((0.0, -0.97), (reach, -1.0), 0.6 * w))
        parts.append(ellipse((reach, -0.985), 0.05, 0.02))
    return parts


def plant(rng: np.random.Generator) -> Polygons:
    """A stem that branches two or three times, with leaves at the tips (foliage, branches)."""
    parts: Polygons = []
    depth = int(rng.integers(3, 5))
    stack = [((0.0, 0.0), -math.pi / 2 + float(rng.uniform(-0.2, 0.2)), 0.4, 0.045, depth)]
    while stack:
        start, angle, length, width, level = stack.pop()
        end = (start[0] + length * math.cos(angle), start[1] + length * math.sin(angle))
        parts.append(capsule(start, end, width, steps=4))
        if level == 0:
            for _ in range(int(rng.integers(1, 4))):
                size = float(rng.uniform(0.05, 0.1))
                tilt = angle + float(rng.uniform(-1.0, 1.0))
                centre = (end[0] + size * math.cos(tilt), end[1] + size * math.sin(tilt))
                parts.append(ellipse(centre, size, 0.45 * size, tilt, steps=10))
            continue
        for _ in range(int(rng.integers(2, 4))):
            stack.append((end, angle + float(rng.uniform(-0.8, 0.8)), length * float(rng.uniform(0.55, 0.8)),
                          max(width * 0.65, 0.008), level - 1))
    return parts


def hand(rng: np.random.Generator) -> Polygons:
    """Forearm from the wrist end, palm, four fingers spread apart and a thumb."""
    spread = float(rng.uniform(0.05, 0.25))  # radians between neighbouring fingers
    parts = [capsule((0.0, 0.0), (0.0, -0.45), 0.17), ellipse((0.0, -0.58), 0.105, 0.13)]
    for i, length in enumerate((0.19, 0.22, 0.21, 0.16)):
        angle = (i - 1.5) * spread
        base = (-0.075 + 0.05 * i, -0.68)
        tip = (base[0] + length * math.sin(angle), base[1] - length * math.cos(angle))
        parts.append(capsule(base, tip, 0.045))
    side = 1.0 if rng.uniform() < 0.5 else -1.0
    thumb = float(rng.uniform(0.5, 1.2))
    parts.append(capsule((side * 0.08, -0.52), (side * (0.08 + 0.17 * math.sin(thumb)), -0.52 - 0.17 * math.cos(thumb)),
                         0.05))
    return parts


SILHOUETTES: dict[str, Callable[[np.random.Generator], Polygons]] = {
    "person": person, "pole": pole, "plant": plant, "hand": hand,
}
