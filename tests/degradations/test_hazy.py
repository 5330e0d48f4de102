"""hazy: the documented PSNR band, the scattering model in both domains, the depth providers
(uniform, heuristic, user depth) and output independent of OpenCV's thread count."""

from __future__ import annotations

import numpy as np
import pytest

import degradations as D
from degradations import hazy as hazy_mod
from degradations.color import linear_to_srgb, quantize, srgb_to_linear, to_float, uint8_to_linear

from .helpers import PRESETS, check_thread_count_independent, psnr_table, shift, within

# Input PSNR (dB) on the bundled photos, as documented in the README (measured over 60 samples
# per cell; the bands are the measured extremes, rounded outwards).
PSNR_BANDS = {"light": (17.0, 27.0), "medium": (11.5, 20.0), "heavy": (7.5, 15.5)}


@pytest.fixture(scope="module")
def psnr_by_severity(photos) -> dict[str, list[float]]:
    return psnr_table(photos, "hazy")


@pytest.mark.parametrize("severity", PRESETS)
def test_input_psnr_inside_documented_band(severity, psnr_by_severity):
    lo, hi = PSNR_BANDS[severity]
    values = psnr_by_severity[severity]
    assert all(lo <= v <= hi for v in values), f"hazy/{severity}: {np.round(values, 2)} outside [{lo}, {hi}]"


def test_heavier_presets_degrade_more_on_average(psnr_by_severity):
    means = [float(np.mean(psnr_by_severity[s])) for s in PRESETS]
    assert means[0] > means[1] > means[2], means


@pytest.mark.parametrize("severity", ("light", "medium", "heavy", "random"))
def test_sampled_values_stay_in_documented_ranges(severity):
    shape = (384, 640, 3)
    for seed in range(40):
        rng = np.random.default_rng(seed)
        haze_spec = D.get("haze").ranges[severity]
        p = D.sample_params("haze", rng, shape, severity)
        assert within(p["t_far"], haze_spec["t_far"])
        lo, hi = haze_spec["airlight"]
        assert all(within(a, (lo - haze_spec["tint"], hi + haze_spec["tint"])) for a in p["airlight"])
        assert max(p["airlight"]) - min(p["airlight"]) <= 2 * haze_spec["tint"] + 1e-12
        assert p["domain"] in ("srgb", "linear") and (severity == "random" or p["domain"] == "srgb")
        if p["depth"]["source"] == "uniform":
            assert within(p["depth"]["value"], haze_spec["uniform_depth"])
        else:
            assert p["depth"]["source"] == "heuristic" and within(
                p["depth"]["horizon"], haze_spec["horizon"]
            )


@pytest.mark.parametrize("domain", ("srgb", "linear"))
@pytest.mark.parametrize("severity", PRESETS)
def test_haze_follows_the_scattering_model(domain, severity, photos):
    for photo, seed in (("astronaut", 0), ("coffee", 5), ("chelsea", 11)):
        img = photos[photo]
        params = D.sample_params("hazy", np.random.default_rng(seed), img.shape, severity)
        params["domain"] = domain
        result = D.get("hazy").apply(img, params)
        t = result.maps["transmission"]
        assert t.dtype == np.float32 and t.shape == img.shape[:2]
        assert t.min() >= params["t_far"] - 1e-6 and t.max() <= 1.0
        airlight = np.asarray(params["airlight"], np.float32)
        if domain == "srgb":
            expected = quantize(to_float(img) * t[..., None] + airlight * (1 - t[..., None]))
        else:
            a_lin = srgb_to_linear(airlight)
            expected = quantize(
                linear_to_srgb(uint8_to_linear(img) * t[..., None] + a_lin * (1 - t[..., None]))
            )
        assert np.abs(expected.astype(np.int16) - result.lq).max() <= 1, (photo, domain)
        assert shift(img, result.lq) < 0.5


def test_haze_depth_providers(astronaut):
    base = D.sample_params("hazy", np.random.default_rng(0), astronaut.shape, "medium")
    uniform = {**base, "depth": {"source": "uniform", "value": 0.5}}
    t = D.get("hazy").apply(astronaut, uniform).maps["transmission"]
    assert np.allclose(t, base["t_far"] ** 0.5, atol=1e-6)
    prior = {
        **base,
        "depth": {
            "source": "heuristic",
            "horizon": 0.3,
            "ground_scale": 0.1,
            "roll": 0.0,
            "cap_weight": 0.2,
            "radius_fraction": 0.03,
            "eps": 1e-3,
        },
    }
    t = D.get("hazy").apply(astronaut, prior).maps["transmission"]
    top, bottom = t[: t.shape[0] // 5].mean(), t[-t.shape[0] // 5 :].mean()
    assert top < bottom - 0.1, "above the horizon is farther, so hazier, than the ground at the bottom"
    assert t.min() == pytest.approx(base["t_far"], abs=0.05)


def test_haze_user_depth(astronaut):
    img = astronaut[:100, :160]
    depth = np.tile(np.linspace(0.0, 80.0, 160, dtype=np.float32), (100, 1))  # metres, left near, right far
    params = D.sample_params("hazy", np.random.default_rng(1), img.shape, "heavy")
    result = hazy_mod.apply_with_depth(img, params, depth)
    t = result.maps["transmission"]
    assert np.all(np.diff(t, axis=1) <= 1e-7) and t[:, 0].min() == pytest.approx(1.0)
    assert t[:, -1].max() == pytest.approx(params["t_far"], abs=1e-6)

    with_depth = hazy_mod.Hazy(depth=depth)
    user_params = with_depth.sample(np.random.default_rng(1), img.shape, "heavy")
    assert user_params["depth"] == {"source": "user"}
    assert np.array_equal(
        with_depth.apply(img, user_params).lq, hazy_mod.apply_with_depth(img, user_params, depth).lq
    )
    full = {"name": "hazy", "severity": "heavy", "version": 1, **user_params}
    with pytest.raises(ValueError, match="apply_with_depth"):
        D.replay(img, full)
    with pytest.raises(ValueError, match="HxW"):
        hazy_mod.apply_with_depth(img, params, depth[:, :50])
    with pytest.raises(ValueError, match="NaN"):
        hazy_mod.apply_with_depth(img, params, np.where(depth > 70, np.nan, depth))
    with pytest.raises(ValueError, match="non-negative"):
        hazy_mod.apply_with_depth(img, params, depth - 1)
    with pytest.raises(ValueError, match="NaN"):
        hazy_mod.Hazy(depth=np.full((4, 4), np.nan))


def test_output_does_not_depend_on_opencv_thread_count(astronaut):
    img = np.ascontiguousarray(astronaut[:300, :412])
    check_thread_count_independent(img, D.sample_params("hazy", np.random.default_rng(9), img.shape, "heavy"))
