"""Fixtures the per-type test files share (the photos themselves come from tests/conftest.py)."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def three(photos) -> dict[str, np.ndarray]:
    """astronaut, chelsea and coffee at their native sizes."""
    return {k: photos[k] for k in ("astronaut", "chelsea", "coffee")}


@pytest.fixture(scope="session")
def three_small(photos) -> dict[str, np.ndarray]:
    """Three photos at 192x256 or so (tests stay fast)."""
    return {k: np.ascontiguousarray(photos[k][::2, ::2][:192, :256]) for k in ("astronaut", "chelsea", "coffee")}
