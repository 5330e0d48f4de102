"""Placing and sizing occluder shapes in the shadow matte, shared by versions 1 and 2 of ``shadowed``.

Both ``degradations.shadowed`` (version 2) and ``degradations.legacy.shadowed_v1`` draw their shapes
at a working size of at most :data:`WORK_SIDE` px on the short side, place them with
:func:`transform_points` and grow them to their share of the coverage with :func:`fit_to_area`:
changing anything here changes how recorded params of both versions replay (the legacy tests pin
their sha256).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

WORK_SIDE = 512  # shapes and penumbra are rendered with at most this many pixels on the short side


def fit_to_area(render, target_px: float, start: float, power: float) -> np.ndarray:
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


def transform_points(points: np.ndarray, center: tuple[float, float], stretch: float, rotation: float) -> np.ndarray:
    """Stretch ``points`` (x by ``stretch``, y by its inverse), rotate by ``rotation`` deg, move to ``center``."""
    c, s = math.cos(math.radians(rotation)), math.sin(math.radians(rotation))
    x, y = points[:, 0] * stretch, points[:, 1] / stretch
    return np.stack([center[0] + c * x - s * y, center[1] + s * x + c * y], axis=1)


def shoelace(points: np.ndarray) -> float:
    """Twice the signed area of a polygon (shoelace formula)."""
    x, y = points[:, 0], points[:, 1]
    return float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
