"""Every degradation type handles a 12-megapixel photo (3000x4000, medium severity).

Camera originals are this size; a type that only works on 512x512 crops would fail the first
real dataset. Speed is measured in bench/degradation_speed.py, not here.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import degradations as D


@pytest.fixture(scope="module")
def large(astronaut) -> np.ndarray:
    return np.ascontiguousarray(cv2.resize(astronaut, (4000, 3000), interpolation=cv2.INTER_LINEAR))


@pytest.mark.parametrize("name", D.NAMES)
def test_large_input(name, large):
    params = D.sample_params(name, np.random.default_rng(0), large.shape, "medium")
    result = D.get(name).apply(large, params)
    assert result.lq.shape == (3000, 4000, 3) and result.lq.dtype == np.uint8
    assert result.lq.flags.c_contiguous
    assert not np.array_equal(result.lq, large), "a medium degradation must change the image"
    for key, value in result.maps.items():
        if value.ndim >= 2 and key != "kernel":
            assert value.shape[:2] == (3000, 4000), (key, value.shape)
