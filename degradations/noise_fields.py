"""Fast, seedable Gaussian noise fields.

``numpy.random.Generator.standard_normal`` costs about 15 ms for a 512x512x3 float32 field on
one core, more than everything else the noisy type does. Here a field is drawn as 16-bit
uniform integers (fast bulk bit generation) mapped through a 65,536-entry table of exact
normal quantiles: the result is N(0, 1) up to a Kolmogorov distance of 1/65,536 and a tail
cut at 4.3 sigma, far below what an 8-bit image can show, at about a seventh of the cost.
The stream comes from the caller's ``Generator``, so fields stay reproducible from a seed.
"""

from __future__ import annotations

import numpy as np

_TABLE_SIZE = 65536
_QUANTILES: np.ndarray | None = None


def _quantile_table() -> np.ndarray:
    global _QUANTILES
    if _QUANTILES is None:
        from scipy.special import ndtri  # scipy ships with scikit-image

        _QUANTILES = ndtri((np.arange(_TABLE_SIZE, dtype=np.float64) + 0.5) / _TABLE_SIZE).astype(np.float32)
    return _QUANTILES


def standard_normal(rng: np.random.Generator, shape: tuple[int, ...], scale: float = 1.0) -> np.ndarray:
    """A float32 field of N(0, scale^2) samples drawn from ``rng``."""
    table = _quantile_table()
    if scale != 1.0:
        table = table * np.float32(scale)
    return table[rng.integers(0, _TABLE_SIZE, size=shape, dtype=np.uint16)]
