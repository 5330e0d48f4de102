"""raindrop: documented PSNR bands and a side map that matches what changed; version 2 (dense, defocused
drops) measured against real captures; version 1 (a few sharp refractive drops) still replays bit-exact.

Realism targets (RainDrop, Qian et al. CVPR 2018; the real example in shared/reference/real-examples):
real frames show dozens to hundreds of drops, most of them small and out of focus. Per square frame
(the short side squared) we want 40-80 / 80-160 / 160-300 drops for light / medium / heavy, a median
radius below 1.2 % of the short side (most drops small) with at least 70 % of drops below 2 %, and a
defocused mask: no pixel of a small drop reaches full opacity, and the mean of the mask (the area the
drops cover, weighted by opacity) grows with severity, between 1 % and 40 %.
"""

from __future__ import annotations

import numpy as np
import pytest

import degradations as D
from degradations.raindrop import drop_population

from .helpers import (
    check_large_input,
    check_map_zero_means_unchanged,
    check_same_weather_at_any_resolution,
    check_side_map_grows,
    check_weather_psnr_bands,
    inside,
    sha,
    v1_fixture_cases,
)

# Per-image input PSNR bands (dB) documented in the README (min-max over the bundled photos and
# 12 seeds), and the median they are centred on (checked within +-2.5 dB on 3 seeds).
BANDS = {"light": (28.0, 42.0, 33.5), "medium": (20.0, 31.5, 25.6), "heavy": (16.0, 27.0, 20.3)}
DROPS_PER_FRAME = {"light": (40, 80), "medium": (80, 160), "heavy": (160, 300)}


def test_input_psnr_inside_documented_bands_and_monotone(three):
    check_weather_psnr_bands("raindrop", three, BANDS)


def test_side_map_is_nonempty_and_grows_with_severity(astronaut):
    check_side_map_grows("raindrop", astronaut)


@pytest.mark.parametrize("severity", ["medium", "heavy", "random"])
def test_map_zero_means_pixel_unchanged_and_changes_sit_on_the_map(severity, astronaut):
    check_map_zero_means_unchanged("raindrop", severity, astronaut)


def test_params_mean_the_same_weather_at_any_resolution(astronaut):
    check_same_weather_at_any_resolution("raindrop", astronaut)


def test_large_input_works():
    check_large_input("raindrop")


@pytest.mark.parametrize("severity", ["light", "medium", "heavy", "random"])
def test_sampled_values_stay_inside_the_documented_ranges(severity):
    shape = (300, 400, 3)
    for seed in range(8):
        rng = np.random.default_rng(seed)
        spec = D.get("raindrop").ranges[severity]
        p = D.get("raindrop").sample(rng, shape, severity)
        assert inside(p["radius"][0], spec["r_min"]) and inside(p["radius"][1], spec["r_max"])
        assert all(inside(p[k], spec[k]) for k in ("count", "size_exponent", "zoom", "brightness", "defocus"))
        drops = drop_population(p, shape[:2])
        assert len(drops["radius"]) == round(p["count"] * shape[0] * shape[1] / min(shape[:2]) ** 2)
        side = min(shape[:2])
        assert (drops["radius"] >= p["radius"][0] * side - 1e-9).all()
        assert (drops["radius"] <= p["radius"][1] * side + 1e-9).all()
        assert ((drops["x"] >= 0) & (drops["x"] <= shape[1]) & (drops["y"] >= 0) & (drops["y"] <= shape[0])).all()


# ------------------------------------------------------------------------------ version 2: realism


@pytest.mark.parametrize("severity", ["light", "medium", "heavy"])
def test_raindrop_count_and_size_distribution(severity):
    lo, hi = DROPS_PER_FRAME[severity]
    counts, medians, small_fraction = [], [], []
    for seed in range(6):
        params = D.sample_params("raindrop", np.random.default_rng(seed), (192, 256, 3), severity)
        drops = drop_population(params, (192, 256))
        counts.append(len(drops["radius"]) * 192 / 256)  # per square frame
        radii = drops["radius"] / 192
        medians.append(float(np.median(radii)))
        small_fraction.append(float((radii < 0.02).mean()))
    assert all(lo - 1 <= c <= hi + 1 for c in counts), counts
    assert max(medians) < 0.012, medians
    assert min(small_fraction) >= 0.7, small_fraction


def test_raindrop_mask_is_defocused_and_covers_more_with_severity(three_small):
    img = three_small["astronaut"]
    means = []
    for severity in ("light", "medium", "heavy"):
        values = []
        for seed in range(3):
            params = D.sample_params("raindrop", np.random.default_rng(seed), img.shape, severity)
            mask = D.get("raindrop").apply(img, params).maps["mask"]
            values.append(float(mask.mean()) / 255)
            # a drop far smaller than the defocus disk is a faint blob, never opaque
            drops = drop_population(params, img.shape[:2])
            tiny = np.flatnonzero(drops["radius"] < 0.004 * 256)
            for i in tiny[:5]:
                x, y = int(drops["x"][i]), int(drops["y"][i])
                near = mask[max(0, y - 1) : y + 2, max(0, x - 1) : x + 2]
                assert near.size == 0 or near.max() < 255
        means.append(float(np.median(values)))
    assert 0.01 <= means[0] < means[1] < means[2] <= 0.4, means


def test_raindrop_drops_are_brighter_soft_blobs_showing_an_inverted_view():
    # a vertical ramp, dark at the top: inside a large drop the ramp runs the other way (a lens flips it)
    h = w = 256
    ramp = np.repeat(np.linspace(0, 255, h, dtype=np.float32)[:, None], w, axis=1)
    img = np.dstack([ramp, ramp, ramp]).round().astype(np.uint8)
    params = {"name": "raindrop", "severity": "medium", "version": 2, "count": 1, "radius": [0.15, 0.15],
              "size_exponent": 2.0, "zoom": 3.0, "brightness": 0.0, "defocus": 4.0, "seed": 5}
    drop = drop_population(params, (h, w))
    cx, cy, r = float(drop["x"][0]), float(drop["y"][0]), float(drop["radius"][0])
    result = D.replay(img, params)
    lq = result.lq[:, :, 0].astype(np.float64)
    x = int(round(cx))
    upper, lower = int(round(cy - 0.45 * r)), int(round(cy + 0.45 * r))
    assert upper >= 0 and lower < h and 0 <= x < w, "seed 5 puts the drop inside the frame"
    assert lq[upper, x] > lq[lower, x] + 10, "the drop's view must be upside down"
    # the edge is soft: the mask ramps over several px instead of jumping
    row = result.maps["mask"][int(round(cy)), :].astype(np.float64)
    ramp_px = int(((row > 25) & (row < 230)).sum())
    assert ramp_px >= 4, ramp_px


def test_new_params_are_version_2():
    assert D.sample_params("raindrop", np.random.default_rng(0), (64, 64, 3), "medium")["version"] == 2


# ------------------------------------------------------------------------------ version 1


def test_version_1_params_replay_the_bytes_recorded_before_version_2():
    from skimage import data

    img = np.ascontiguousarray(data.chelsea()[:96, :128])
    cases = v1_fixture_cases("raindrop")
    assert cases
    for case in cases:
        params = case["params"]
        assert params["version"] == 1
        result = D.replay(img, params)
        assert sha(result.lq) == case["lq_sha256"], params["name"]
        assert sha(result.maps["mask"]) == case["map_sha256"], params["name"]


def _one_drop(drop: dict, defocus: float) -> dict:
    return {"name": "raindrop", "severity": "medium", "version": 1, "drops": [drop], "defocus": defocus,
            "seed": 0}


def test_raindrop_shows_an_inverted_view_of_the_scene():
    # a vertical ramp, dark at the top: inside a drop the ramp must run the other way (a lens flips it)
    h = w = 256
    ramp = np.repeat(np.linspace(0, 255, h, dtype=np.float32)[:, None], w, axis=1)
    img = np.dstack([ramp, ramp, 255 - ramp]).round().astype(np.uint8)
    drop = {"x": 0.5, "y": 0.5, "radius": 0.12, "aspect": 1.0, "tail": 0.0, "zoom": 3.0, "rim": 0.0,
            "highlight": 0.0}
    result = D.replay(img, _one_drop(drop, defocus=1.0))
    lq, mask = result.lq.astype(np.float64), result.maps["mask"]
    r = 0.12 * h
    upper, lower = int(h / 2 - 0.5 * r), int(h / 2 + 0.5 * r)
    assert mask[upper, w // 2] == 255 and mask[lower, w // 2] == 255
    assert lq[upper, w // 2, 0] > lq[lower, w // 2, 0] + 20, "the drop's view must be upside down"
    assert np.abs(np.diff(lq[upper:lower, w // 2, 0])).max() < 30, "minified, blurred, no seams"
    assert mask[10, 10] == 0 and mask.astype(np.float64).mean() > 0.5 * np.pi * r * r * 255 / (h * w)


def test_raindrop_rim_is_darker_than_the_centre():
    img = np.full((200, 200, 3), 160, np.uint8)  # flat grey: only the drop's shading changes it
    drop = {"x": 0.5, "y": 0.5, "radius": 0.15, "aspect": 1.0, "tail": 0.0, "zoom": 3.0, "rim": 0.3,
            "highlight": 0.0}
    lq = D.replay(img, _one_drop(drop, defocus=0.5)).lq.astype(int)
    r = 0.15 * 200
    assert lq[100, 100, 0] == 160
    assert lq[100, int(100 + 0.9 * r), 0] < 150
