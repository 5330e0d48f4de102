"""The array normaliser and the colour helpers every type relies on."""

from __future__ import annotations

import numpy as np
import pytest

from degradations.color import (
    linear_to_srgb,
    linear_to_srgb8,
    quantize,
    srgb_to_linear,
    to_rgb8,
    uint8_to_linear,
)


def test_to_rgb8_normalises_every_layout():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert to_rgb8(gray).shape == (3, 4, 3) and np.array_equal(to_rgb8(gray)[:, :, 2], gray)
    assert np.array_equal(to_rgb8(gray[:, :, None]), to_rgb8(gray))
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 3] = [[0, 255], [128, 255]]
    out = to_rgb8(rgba)
    assert out[0, 0].tolist() == [255, 255, 255], "transparent pixels are composited over white"
    assert out[0, 1].tolist() == [0, 0, 0] and out[1, 0].tolist() == [127, 127, 127]
    assert np.array_equal(to_rgb8(np.full((2, 2, 3), 65535, np.uint16)), np.full((2, 2, 3), 255, np.uint8))
    assert np.array_equal(to_rgb8(np.full((2, 2), 0.5, np.float32)), np.full((2, 2, 3), 128, np.uint8))
    assert to_rgb8(np.ones((2, 2), bool)).max() == 255


@pytest.mark.parametrize("bad", [np.zeros((0, 3, 3), np.uint8), np.zeros((2, 2, 5), np.uint8), np.zeros(4, np.uint8)])
def test_to_rgb8_rejects_non_images(bad):
    with pytest.raises(ValueError):
        to_rgb8(bad)


def test_to_rgb8_rejects_nan():
    with pytest.raises(ValueError, match="NaN"):
        to_rgb8(np.full((2, 2, 3), np.nan, np.float32))


def test_srgb_transfer_functions_invert_and_tables_agree():
    codes = np.arange(256, dtype=np.uint8)
    linear = uint8_to_linear(codes[None, :])
    assert np.allclose(linear[0], srgb_to_linear(codes / 255.0), atol=1e-7)
    assert np.array_equal(linear_to_srgb8(linear), codes[None, :]), "decode then encode is the identity on codes"
    values = np.random.default_rng(0).uniform(-0.1, 1.1, size=(64, 64, 3)).astype(np.float32)
    fast, exact = linear_to_srgb8(values), quantize(linear_to_srgb(values))
    assert np.abs(fast.astype(int) - exact).max() <= 1 and np.mean(fast != exact) < 0.005
