"""low-light: the documented PSNR band, the physics it claims (version 2: uneven lighting, colour noise
in the shadows; version 1: Poisson-Gaussian noise, Lv's gamma curve), and bit-exact replay of version-1 params.

Realism targets (the same measurements on the version-1 renderer are what the revision changed):

- spatial variance of the illumination: the coefficient of variation (std / mean) of the heavily
  blurred LQ/HQ linear-luminance ratio. Real night and indoor captures (LOL, Wei et al. 2018; SID,
  Chen et al. 2018; the reference ``low-light.png``) are lit by a few lamps and windows: bright pools
  next to near-black regions, a 2-5x brightness ratio across the frame, which is a CV of roughly
  0.3-1. A global exposure scale (version 1) gives about 0. Target: >= 0.3 per preset (median),
  >= 0.2 per image.
- shadow colour noise: the std of the noise's opponent-colour components (R-G, B-G, in 8-bit codes)
  relative to the clean signal's mean luma, in the darkest quarter of the image over the brightest
  quarter. Shot plus read noise makes relative noise fall with the signal (Brooks et al. 2019; Foi
  et al. 2008), so the ratio is > 1; target > 2. And colour dominates: white balance (red gain
  1.9-2.4, blue 1.5-1.9, Brooks) amplifies the red and blue sites' noise, so in the shadows chroma
  noise std / luma noise std >= 2.6 (independent equal noise per channel, version 1, gives about 2.1).
"""

from __future__ import annotations

import hashlib
import math

import cv2
import numpy as np
import pytest

import degradations as D
from degradations.color import linear_to_srgb, srgb_to_linear, uint8_to_linear
from degradations.legacy.low_light_v1 import dark_table
from degradations.low_light import demosaic, illumination_map, mosaic
from degradations.realism import illumination_cv, shadow_chroma_noise

from .helpers import (
    PHOTOS,
    PRESETS,
    SEEDS,
    check_thread_count_independent,
    psnr_table,
    resized,
    shift,
    within,
)

# Input PSNR (dB) on the bundled photos, as documented in the README (measured over 60 samples
# per cell; the bands are the measured extremes, rounded outwards).
PSNR_BANDS = {"light": (8.0, 17.0), "medium": (6.5, 13.0), "heavy": (6.0, 9.5)}
_LUMA_LINEAR = np.array([0.2126, 0.7152, 0.0722], np.float32)


@pytest.fixture(scope="module")
def small(photos) -> dict[str, np.ndarray]:
    return {k: resized(photos[k], 192) for k in ("astronaut", "chelsea", "coffee")}


@pytest.fixture(scope="module")
def psnr_by_severity(photos) -> dict[str, list[float]]:
    return psnr_table(photos, "low-light")


def _v1_params(severity: str, seed: int, shape: tuple[int, ...]) -> dict:
    sampled = D.get("low-light", 1).sample(np.random.default_rng(seed), shape, severity)
    return {"name": "low-light", "severity": severity, "version": 1, **sampled}


@pytest.mark.parametrize("severity", PRESETS)
def test_input_psnr_inside_documented_band(severity, psnr_by_severity):
    lo, hi = PSNR_BANDS[severity]
    values = psnr_by_severity[severity]
    assert all(lo <= v <= hi for v in values), f"low-light/{severity}: {np.round(values, 2)} outside [{lo}, {hi}]"


def test_heavier_presets_degrade_more_on_average(psnr_by_severity):
    means = [float(np.mean(psnr_by_severity[s])) for s in PRESETS]
    assert means[0] > means[1] > means[2], means


@pytest.mark.parametrize("severity", ("light", "medium", "heavy", "random"))
def test_sampled_values_stay_in_documented_ranges(severity):
    shape = (384, 640, 3)
    for seed in range(40):
        rng = np.random.default_rng(seed)
        low_spec = D.get("lowlight").ranges[severity]
        p = D.sample_params("lowlight", rng, shape, severity)
        assert within(p["ambient"], low_spec["ambient"]) and within(len(p["lamps"]), low_spec["lamps"])
        assert all(within(lamp["peak"], low_spec["lamp_peak"]) for lamp in p["lamps"])
        assert all(within(lamp["height"], low_spec["lamp_height"]) for lamp in p["lamps"])
        assert all(within(win["peak"], low_spec["window_peak"]) for win in p["windows"])
        assert within(p["wb"][0], low_spec["red_gain"]) and within(p["wb"][1], low_spec["blue_gain"])
        assert within(p["a"], low_spec["shot"])
        assert all(within(g, low_spec["wb_error"]) for g in p["wb_error"])


@pytest.mark.parametrize("severity", ("light", "medium", "heavy", "random"))
def test_low_light_darkens_without_shifting(severity, photos):
    for photo in PHOTOS:
        img = photos[photo]
        for seed in SEEDS:
            lq, params = D.degrade(img, "low-light", seed=seed, severity=severity)
            assert lq.mean() < 0.8 * img.mean(), (photo, seed, params)
            if severity == "heavy":
                assert lq.mean() / 255 < 0.17, "heavy is LOL-dark"
            assert shift(img, lq) < 0.5


def test_low_light_v1_noise_is_poisson_gaussian_in_linear_light():
    flat = np.full((256, 256, 3), 128, np.uint8)
    params = {
        "name": "low-light",
        "severity": "medium",
        "version": 1,
        "variant": "linear",
        "k": 0.2,
        "gains": [1.0, 1.0, 1.0],
        "a": 1e-3,
        "b": 1e-5,
        "seed": 3,
    }
    lin = uint8_to_linear(D.replay(flat, params).lq).astype(np.float64)
    x = 0.2 * float(srgb_to_linear(np.float32(128 / 255)))
    assert lin.mean() == pytest.approx(x, rel=0.02)
    assert lin.var() == pytest.approx(params["a"] * x + params["b"], rel=0.1)


def test_low_light_read_noise_follows_brooks():
    residuals = []
    for seed in range(300):
        p = D.sample_params("low-light", np.random.default_rng(seed), (64, 64, 3), "random")
        residuals.append(math.log(p["b"]) - (2.18 * math.log(p["a"]) + 1.20))
    assert abs(np.mean(residuals)) < 0.06 and 0.2 < np.std(residuals) < 0.32


def test_low_light_v1_gamma_variant_is_lv_curve():
    params = {"variant": "gamma", "alpha": 0.95, "beta": 0.7, "gamma": 3.0, "gains": [1.0, 1.1, 0.9]}
    table = dark_table(params)[0]
    codes = np.arange(256) / 255.0
    curve = 0.7 * (0.95 * codes) ** 3.0
    assert np.allclose(linear_to_srgb(table[:, 0]), curve, atol=1e-5)
    assert np.allclose(table[:, 1], np.clip(1.1 * srgb_to_linear(curve.astype(np.float32)), 0, 1), atol=1e-6)


def test_output_does_not_depend_on_opencv_thread_count(astronaut):
    img = np.ascontiguousarray(astronaut[:300, :412])
    check_thread_count_independent(img, D.sample_params("low-light", np.random.default_rng(9), img.shape, "heavy"))


@pytest.mark.parametrize("severity", PRESETS)
def test_low_light_illumination_varies_across_the_frame(severity, small):
    deg = D.get("low-light")
    new, old = [], []
    for img in small.values():
        for seed in (0, 1):
            params = D.sample_params("low-light", np.random.default_rng(seed), img.shape, severity)
            new.append(illumination_cv(img, deg.apply(img, params).lq))
            gain = illumination_map(img.shape[:2], params) @ _LUMA_LINEAR
            assert gain.std() / gain.mean() > 0.2, "the applied gain map itself is uneven"
            v1 = _v1_params(severity, seed, img.shape)
            old.append(illumination_cv(img, D.replay(img, v1).lq))
    assert min(new) >= 0.2 and float(np.median(new)) >= 0.3, [round(v, 3) for v in new]
    assert float(np.median(old)) < 0.15, "version 1 is a global exposure scale"


@pytest.mark.parametrize("severity", PRESETS)
def test_low_light_colour_noise_is_strongest_in_the_shadows(severity, small):
    deg = D.get("low-light")
    img = small["astronaut"]
    for seed in (0, 1):
        params = D.sample_params("low-light", np.random.default_rng(seed), img.shape, severity)
        clean = deg.apply(img, {**params, "a": 0.0, "b": 0.0}).lq
        dark_over_bright, chroma_over_luma = shadow_chroma_noise(clean, deg.apply(img, params).lq)
        assert dark_over_bright > 2.0 and chroma_over_luma >= 2.6, (seed, dark_over_bright, chroma_over_luma)


def test_low_light_lamp_falls_off_as_cos_over_r_squared():
    params = D.sample_params("low-light", np.random.default_rng(0), (128, 128, 3), "medium")
    lamp = {"x": 0.5, "y": 0.5, "height": 0.1, "peak": 0.5, "warmth": 0.0}
    params.update(ambient=0.0, lamps=[lamp], windows=[])
    gain = illumination_map((128, 128), params)  # 128 px: evaluated at the pixel centres, no resize
    d2 = (np.arange(128) + 0.5 - 64) ** 2 + 0.5**2  # row 64: its centre is half a pixel off the lamp
    expected = 0.5 * (1 + d2 / (0.1 * 128) ** 2) ** -1.5  # peak * cos(theta) / r^2, normalised
    assert np.allclose(gain[64, :, 1], expected, rtol=1e-5)
    assert np.allclose(gain[64].std(axis=1), 0, atol=1e-6), "warmth 0 is a neutral light"


def test_low_light_noise_is_drawn_per_bayer_site_and_demosaiced():
    cam = np.random.default_rng(0).uniform(0, 1, (6, 8, 3)).astype(np.float32)
    raw = mosaic(cam)
    assert raw[0, 0] == cam[0, 0, 0] and raw[0, 1] == cam[0, 1, 1] and raw[1, 1] == cam[1, 1, 2]
    flat = demosaic(np.full((6, 8), 0.25, np.float32))
    assert np.allclose(flat, 0.25), "bilinear demosaicing keeps a flat field flat, borders included"
    impulse = np.zeros((7, 7), np.float32)
    impulse[2, 2] = 1.0  # a red site
    out = demosaic(impulse)
    assert out[2, 2, 0] == 1.0 and out[2, 3, 0] == 0.5 and out[3, 3, 0] == 0.25 and out[..., 1:].max() == 0


def test_low_light_stays_aligned_and_replays(small):
    img = small["coffee"]
    lq, params = D.degrade(img, "low-light", seed=4, severity="random")
    assert params["version"] == 2 and lq.shape == img.shape and lq.dtype == np.uint8
    assert np.array_equal(D.replay(img, params).lq, lq)
    (dx, dy), _ = cv2.phaseCorrelate(*(cv2.cvtColor(x, cv2.COLOR_RGB2GRAY).astype(np.float64) for x in (img, lq)))
    assert math.hypot(dx, dy) < 0.5


# ------------------------------------------------------------------ version-1 params replay

# Recorded on the version-1 code (commit 59cd827) for astronaut()[::4, ::4] (128x128):
# sha256 of the LQ bytes.
V1_RECORDS = [
    ({"name": "low-light", "severity": "medium", "version": 1, "variant": "linear", "k": 0.1328049660678703,
      "gains": [1.044109710439231, 0.9560331503984948, 0.9680266055857961], "a": 0.003328168506640962,
      "b": 1.3376797598858378e-05, "seed": 7574495229982081901},
     "8dc9eb1198b230060bde052669d0e1882fc3f3dca3b10b71e82bf63734bb8485", None),
    ({"name": "low-light", "severity": "random", "version": 1, "variant": "gamma", "alpha": 0.9807940789736493,
      "beta": 0.7576627805210709, "gamma": 2.5003048303084956,
      "gains": [0.928628912381065, 0.9813390209256829, 0.9853557128671998], "a": 0.00012420392893657383,
      "b": 1.2328612635285515e-08, "seed": 9215773039584369735},
     "40a024ae7eae4f9326789b2c598e9206aa3eb8658eb262c1e9604a4c3b15b671", None),
]


@pytest.mark.parametrize("params, lq_sha, rain_sha", V1_RECORDS, ids=["ll-linear", "ll-gamma"])
def test_version_1_params_replay_bit_exact(params, lq_sha, rain_sha, astronaut):
    img = np.ascontiguousarray(astronaut[::4, ::4])
    result = D.replay(img, params)
    assert hashlib.sha256(result.lq.tobytes()).hexdigest() == lq_sha
    if rain_sha is not None:
        assert hashlib.sha256(result.maps["rain"].tobytes()).hexdigest() == rain_sha
    assert D.get(params["name"]).version == 2


def test_params_without_a_version_are_version_1(astronaut):
    img = np.ascontiguousarray(astronaut[::4, ::4])
    params = dict(V1_RECORDS[0][0])
    del params["version"]
    assert hashlib.sha256(D.replay(img, params).lq.tobytes()).hexdigest() == V1_RECORDS[0][1]
