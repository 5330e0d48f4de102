"""snowy: documented PSNR bands, a side map that matches what changed, and near-white, blue-tinted flakes."""

from __future__ import annotations

import numpy as np
import pytest

import degradations as D

from .helpers import (
    check_large_input,
    check_map_zero_means_unchanged,
    check_same_weather_at_any_resolution,
    check_side_map_grows,
    check_weather_psnr_bands,
    inside,
    without_veil,
)

# Per-image input PSNR bands (dB) documented in the module's docstring (min-max over the bundled
# photos and 12 seeds), and the median they are centred on (checked within +-2.5 dB on 3 seeds).
BANDS = {"light": (24.0, 28.5, 26.1), "medium": (16.0, 21.5, 18.7), "heavy": (11.0, 16.0, 13.2)}


def test_input_psnr_inside_documented_bands_and_monotone(three):
    check_weather_psnr_bands("snowy", three, BANDS)


def test_side_map_is_nonempty_and_grows_with_severity(astronaut):
    check_side_map_grows("snowy", astronaut)


@pytest.mark.parametrize("severity", ["medium", "heavy", "random"])
def test_map_zero_means_pixel_unchanged_and_changes_sit_on_the_map(severity, astronaut):
    check_map_zero_means_unchanged("snowy", severity, astronaut)


def test_params_mean_the_same_weather_at_any_resolution(astronaut):
    check_same_weather_at_any_resolution("snowy", astronaut)


def test_large_input_works():
    check_large_input("snowy")


def test_snow_is_near_white_with_a_blue_tint(astronaut):
    black = np.zeros((192, 192, 3), np.uint8)
    params = without_veil(D.sample_params("snowy", np.random.default_rng(9), black.shape, "heavy"))
    result = D.get("snowy").apply(black, params)
    snow = result.maps["snow"].astype(np.float64)
    dense = snow >= 128
    assert dense.sum() > 50
    colour = (result.lq[dense] / (snow[dense, None] / 255.0)).mean(axis=0)  # on black, lq = Z * C
    assert np.allclose(colour, np.array(params["color"]) * 255, atol=4.0)
    assert colour.min() > 0.85 * 255 and colour[2] >= colour[0]
    assert params["color"][2] >= params["color"][1] >= params["color"][0]


@pytest.mark.parametrize("severity", ["light", "medium", "heavy", "random"])
def test_sampled_values_stay_inside_the_documented_ranges(severity):
    shape = (300, 400, 3)
    for seed in range(8):
        rng = np.random.default_rng(seed)
        spec = D.get("snowy").ranges[severity]
        p = D.get("snowy").sample(rng, shape, severity)
        assert inside(len(p["layers"]), spec["layers"]) and inside(p["angle"], spec["angle"])
        for layer in p["layers"]:
            keys = ("radius", "density", "opacity", "defocus", "streak")
            assert all(inside(layer[k], spec[k]) for k in keys)
