import numpy as np
import pytest

from pipelines.quality.noise import noise_sigma
from tests.pipelines.quality.photos import NAMES, noised, photo


def test_noise_sigma_is_in_grey_levels():
    flat = np.full((128, 128, 3), 120, np.uint8)
    assert noise_sigma(flat) == pytest.approx(0.0, abs=1e-12)
    # the same noise on all three channels: luma carries it unchanged
    noise = np.random.default_rng(3).normal(0, 10, (128, 128, 1))
    grey_noise = np.clip(np.round(120 + noise), 0, 255).astype(np.uint8).repeat(3, axis=2)
    assert noise_sigma(grey_noise) == pytest.approx(10, rel=0.1)


def test_noise_sigma_rises_with_noise_on_photos():
    for name in NAMES:
        levels = [noise_sigma(noised(photo(name), s)) for s in (0, 5, 15, 30)]
        assert levels == sorted(levels), name
        assert levels[0] < 3 < 5 < levels[2]
