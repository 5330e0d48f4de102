"""Shared fixtures. Tests never touch the network: the hub is offline and albumentations'
update check is off before anything imports them."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


@pytest.fixture(scope="session")
def photos() -> dict[str, np.ndarray]:
    """A few real RGB photos bundled with scikit-image, at their native sizes."""
    from skimage import data

    return {name: np.ascontiguousarray(getattr(data, name)()) for name in ("astronaut", "chelsea", "coffee", "rocket")}
