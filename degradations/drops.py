"""The outline of one water drop on the glass, shared by versions 1 and 2 of ``raindrop``.

Both ``degradations.raindrop`` (version 2) and ``degradations.legacy.raindrop_v1`` shape their drops
with :func:`drop_distance`: changing anything here changes how recorded params of both versions
replay (the legacy tests pin their sha256).
"""

from __future__ import annotations

import math

import numpy as np


def drop_distance(u: np.ndarray, v: np.ndarray, tail: float, wobble: np.ndarray) -> np.ndarray:
    """Normalised distance to the drop outline (ellipse with a wobbly boundary, plus a tail blob)."""
    rho = np.sqrt(u * u + v * v) + np.float32(1e-6)
    c, s = u / rho, v / rho  # cos and sin of the polar angle, without trigonometric calls
    c2, s2 = c * c - s * s, 2 * c * s  # cos 2t, sin 2t
    c3, s3 = c * (4 * c * c - 3), s * (3 - 4 * s * s)  # cos 3t, sin 3t
    p2, p3 = 6.2832 * wobble[2], 6.2832 * wobble[3]
    a2, a3 = 0.08 * wobble[0], 0.06 * wobble[1]
    boundary = (1.0 + np.float32(a2 * math.cos(p2)) * c2 - np.float32(a2 * math.sin(p2)) * s2
                + np.float32(a3 * math.cos(p3)) * c3 - np.float32(a3 * math.sin(p3)) * s3)
    d = rho / boundary
    if tail > 0:
        # a smaller blob trailing below (a drop running down the glass), merged by a smooth minimum
        tu, tv = u / np.float32(0.6), (v - np.float32(0.9 * tail)) / np.float32(0.6)
        d_tail = np.sqrt(tu * tu + tv * tv)
        k = np.float32(0.25)
        hmix = np.clip(0.5 + (d_tail - d) * (0.5 / k), 0.0, 1.0)
        d = d_tail + (d - d_tail) * hmix - k * hmix * (1.0 - hmix)
    return d.astype(np.float32, copy=False)
