"""rainy: documented PSNR bands, a side map that matches what changed, Yang's screen blend and the
veil, streak direction, realism of version 2, and bit-exact replay of version-1 params.

Realism targets: streak density and width (from the ``rain`` side map, 256-px images, pixels >= 0.1
of full scale): Rain100L (Yang et al. 2017, one sparse streak direction) and real rain photos show
sparse, thin, faint streaks; Rain100H (five directions, the reference ``rainy.png``) covers about half
the frame. Targets: coverage light 0.1-6 %, medium 3-18 %, heavy 35-80 %; streak width (half-maximum
area / length, px) <= 1.25 for light and medium (a rain drop's image is about a pixel wide, Garg &
Nayar 2007); median streak peak opacity <= 0.35 for light and medium (a drop covers a pixel for a
small part of the exposure, Garg & Nayar) and >= 0.45 for heavy (Rain100H's bright streaks).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

import degradations as D
from degradations.realism import rain_streak_stats

from .helpers import (
    PRESETS,
    check_large_input,
    check_map_zero_means_unchanged,
    check_same_weather_at_any_resolution,
    check_side_map_grows,
    check_weather_psnr_bands,
    inside,
    resized,
    streak_angle,
    without_veil,
)

# Per-image input PSNR bands (dB) documented in the module's docstring (min-max over the bundled
# photos and 12 seeds), and the median they are centred on (checked within +-2.5 dB on 3 seeds).
BANDS = {"light": (22.5, 35.5, 28.0), "medium": (17.0, 26.5, 21.6), "heavy": (10.0, 15.5, 12.7)}


def _v1_params(severity: str, seed: int, shape: tuple[int, ...]) -> dict:
    sampled = D.get("rainy", 1).sample(np.random.default_rng(seed), shape, severity)
    return {"name": "rainy", "severity": severity, "version": 1, **sampled}


def test_input_psnr_inside_documented_bands_and_monotone(three):
    check_weather_psnr_bands("rainy", three, BANDS)


def test_side_map_is_nonempty_and_grows_with_severity(astronaut):
    check_side_map_grows("rainy", astronaut)


@pytest.mark.parametrize("severity", ["medium", "heavy", "random"])
def test_map_zero_means_pixel_unchanged_and_changes_sit_on_the_map(severity, astronaut):
    check_map_zero_means_unchanged("rainy", severity, astronaut)


def test_params_mean_the_same_weather_at_any_resolution(astronaut):
    check_same_weather_at_any_resolution("rainy", astronaut)


def test_large_input_works():
    check_large_input("rainy")


def test_rain_is_a_screen_blend_and_the_veil_lifts_everything(astronaut):
    img = astronaut[:160, :160]
    params = D.sample_params("rainy", np.random.default_rng(2), img.shape, "heavy")
    assert params["veil_transmission"] < 1.0, "heavy rain has a veil"
    params["drop_radiance"] = 1.0  # white drops: Yang's screen blend (a grey drop may darken bright pixels)
    no_veil = D.get("rainy").apply(img, without_veil(params))
    assert (no_veil.lq >= img).all(), "screen blending only brightens"
    veiled = D.get("rainy").apply(img, params)
    assert np.array_equal(veiled.maps["rain"], no_veil.maps["rain"])
    below = (no_veil.lq.astype(float) < params["veil_airlight"] * 255 - 10).all(axis=2)
    above = (no_veil.lq.astype(float) > params["veil_airlight"] * 255 + 10).all(axis=2)
    assert below.any() and above.any()
    assert (veiled.lq[below] > no_veil.lq[below]).all(), "the veil lifts what is darker than the airlight"
    assert (veiled.lq[above] < no_veil.lq[above]).all(), "and dims what is brighter"


@pytest.mark.parametrize("angle", [-25.0, -8.0, 0.0, 12.0, 28.0])
def test_rain_streaks_follow_the_sampled_angle(angle, astronaut):
    img = astronaut[:256, :256]
    params = D.sample_params("rainy", np.random.default_rng(5), img.shape, "medium")
    params["angle"] = angle
    for layer in params["layers"]:
        layer["angle"] = angle
    rain = D.get("rainy").apply(img, params).maps["rain"]
    assert abs(streak_angle(rain) - angle) < 3.0
    # and the sampler's per-layer angles stay around the shared direction
    sampled = D.sample_params("rainy", np.random.default_rng(6), img.shape, "heavy")
    assert all(abs(layer["angle"] - sampled["angle"]) <= 5.0 for layer in sampled["layers"])


@pytest.mark.parametrize("severity", ["light", "medium", "heavy", "random"])
def test_sampled_values_stay_inside_the_documented_ranges(severity):
    shape = (300, 400, 3)
    for seed in range(8):
        rng = np.random.default_rng(seed)
        spec = D.get("rainy").ranges[severity]
        p = D.get("rainy").sample(rng, shape, severity)
        assert inside(len(p["layers"]), spec["layers"]) and inside(p["angle"], spec["angle"])
        for layer in p["layers"]:
            keys = ("diameter", "width", "density", "intensity", "blur")
            assert all(inside(layer[k], spec[k]) for k in keys)
            assert 0.0 < layer["length"] <= 0.25  # derived from exposure and drop speed
        assert inside(p["exposure"], spec["exposure"]) and inside(p["drop_radiance"], spec["radiance"])
        assert p["veil_transmission"] == 1.0 or inside(p["veil_transmission"], spec["transmission"])


# ------------------------------------------------------------------------------ realism

RAIN_TARGETS = {  # coverage band, max width (px at 256), peak opacity bound
    "light": ((0.001, 0.06), 1.25, ("<=", 0.35)),
    "medium": ((0.03, 0.18), 1.25, ("<=", 0.35)),
    "heavy": ((0.35, 0.80), None, (">=", 0.45)),
}


@pytest.mark.parametrize("severity", PRESETS)
def test_rain_streak_density_width_and_opacity(severity, photos):
    img = resized(photos["astronaut"], 256)
    (lo, hi), max_width, (op, bound) = RAIN_TARGETS[severity]
    stats = []
    for seed in (0, 1, 2):
        params = D.sample_params("rainy", np.random.default_rng(seed), img.shape, severity)
        stats.append(rain_streak_stats(D.get("rainy").apply(img, params).maps["rain"], params["angle"]))
    coverage = [s["coverage"] for s in stats]
    assert lo <= min(coverage) and max(coverage) <= hi, coverage
    assert all(s["per_mp"] > 0 for s in stats)
    peak = float(np.median([s["peak"] for s in stats]))
    assert peak <= bound if op == "<=" else peak >= bound, peak
    if max_width is not None:
        assert float(np.nanmedian([s["width"] for s in stats])) <= max_width
    if severity == "medium":  # what changed: version 1's medium was Rain100H-dense
        v1 = _v1_params("medium", 0, img.shape)
        old = rain_streak_stats(D.replay(img, v1).maps["rain"], v1["angle"])
        assert old["coverage"] > hi


def test_rain_streak_length_follows_exposure_and_drop_speed():
    from degradations.rainy import streak_length, terminal_velocity

    assert terminal_velocity(1.0) == pytest.approx(4.0, abs=0.05)  # Gunn & Kinzer: ~4 m/s at 1 mm
    assert terminal_velocity(3.0) == pytest.approx(8.06, abs=0.15)  # measured 8.06, the fit 7.95
    # 1-px drop image, 1 mm drop, 1/125 s: the drop falls 32 drop diameters during the exposure
    assert streak_length(1.0, 1.0, 1 / 125) == pytest.approx(1 + 4.0 * 8.0, rel=0.02)
    for seed in range(5):
        p = D.sample_params("rainy", np.random.default_rng(seed), (256, 256, 3), "medium")
        for layer in p["layers"]:
            expected = streak_length(layer["width"], layer["diameter"], p["exposure"]) / 512
            assert layer["length"] == pytest.approx(min(0.25, expected))


def test_rain_drop_radiance_is_the_streak_colour():
    img = np.full((96, 96, 3), 40, np.uint8)
    params = D.sample_params("rainy", np.random.default_rng(3), img.shape, "heavy")
    params.update(veil_transmission=1.0, veil_airlight=0.0, drop_radiance=0.5)
    result = D.get("rainy").apply(img, params)
    full = result.maps["rain"] == 255
    if full.any():
        assert np.all(np.abs(result.lq[full].astype(int) - 128) <= 1)
    part = (result.maps["rain"] > 0) & ~full
    assert (result.lq[part] >= 40).all() and (result.lq[part] <= 128).all()
    assert (result.lq[result.maps["rain"] > 128] > 80).all(), "mostly-opaque streaks take the drop's grey"


# ------------------------------------------------------------------ version-1 params replay

# Recorded on the version-1 code (commit 59cd827) for astronaut()[::4, ::4] (128x128):
# sha256 of the LQ bytes and of the ``rain`` side map.
V1_RECORDS = [
    ({"name": "rainy", "severity": "medium", "version": 1, "angle": 5.003818664186678, "layers": [
        {"angle": 7.760675566638613, "length": 0.07544427601939152, "width": 1.7633282805817454,
         "density": 0.0017893373755346036, "intensity": 0.602665656116349, "blur": 0.2946686877673019},
        {"angle": 3.0054815132989323, "length": 0.07700414379981184, "width": 1.810124313994355,
         "density": 0.0017519005488045157, "intensity": 0.612024862798871, "blur": 0.27595027440225794}],
      "veil_transmission": 1.0, "veil_airlight": 0.0, "seed": 48563862895646263},
     "b35ab34643ba91beae3989030af936f427759fc1e5e1116c306335bab73f178d",
     "0dfe2023d195c750ad2b46ad848b5eb780304d697b45d285a3aab61096309e35"),
    ({"name": "rainy", "severity": "heavy", "version": 1, "angle": -22.285787833848023, "layers": [
        {"angle": -21.270804257614447, "length": 0.07798266869856275, "width": 1.949566717464069,
         "density": 0.0017403466260287447, "intensity": 0.6399133434928138, "blur": 0.700288855023954},
        {"angle": -25.806526988073465, "length": 0.07868853620092667, "width": 1.9672134050231667,
         "density": 0.0017262292759814665, "intensity": 0.6434426810046334, "blur": 0.6885243966512222},
        {"angle": -26.581582072306055, "length": 0.11227706455104887, "width": 2.8069266137762217,
         "density": 0.0010544587089790225, "intensity": 0.8113853227552443, "blur": 0.12871559081585215}],
      "veil_transmission": 0.8948328453291775, "veil_airlight": 0.8554708981990957, "seed": 3403360859201049159},
     "58175148690a94f4104fb899ac3030b4558b29b647390888741af2667cc46f4b",
     "09ba3872ad3bb2c97a8cc2d27a0fe5a9b705739adafc4353ba5405c8e3b621da"),
]


@pytest.mark.parametrize("params, lq_sha, rain_sha", V1_RECORDS, ids=["rain-med", "rain-heavy"])
def test_version_1_params_replay_bit_exact(params, lq_sha, rain_sha, astronaut):
    img = np.ascontiguousarray(astronaut[::4, ::4])
    result = D.replay(img, params)
    assert hashlib.sha256(result.lq.tobytes()).hexdigest() == lq_sha
    assert hashlib.sha256(result.maps["rain"].tobytes()).hexdigest() == rain_sha
    assert D.get(params["name"]).version == 2
