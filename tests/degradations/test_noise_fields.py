"""The fast Gaussian field is a faithful N(0, sigma^2) sample, reproducible from its generator."""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from degradations.noise_fields import standard_normal


def test_field_is_standard_normal():
    field = standard_normal(np.random.default_rng(0), (400, 500, 3)).astype(np.float64).ravel()
    assert abs(field.mean()) < 0.005 and abs(field.std() - 1.0) < 0.005
    # Kolmogorov-Smirnov distance to the normal CDF, far below what 600k samples can resolve
    sorted_field = np.sort(field[::7])
    empirical = np.arange(1, sorted_field.size + 1) / sorted_field.size
    assert np.max(np.abs(empirical - ndtr(sorted_field))) < 0.005
    scaled = standard_normal(np.random.default_rng(1), (300, 300), scale=25.0)
    assert scaled.dtype == np.float32 and abs(scaled.std() - 25.0) < 0.2


def test_field_is_reproducible_and_uses_only_the_given_generator():
    a = standard_normal(np.random.default_rng(5), (64, 64))
    state = np.random.get_state()[1].copy()
    b = standard_normal(np.random.default_rng(5), (64, 64))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, standard_normal(np.random.default_rng(6), (64, 64)))
    assert np.array_equal(np.random.get_state()[1], state)
