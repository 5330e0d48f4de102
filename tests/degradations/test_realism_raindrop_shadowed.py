"""raindrop and shadowed, params version 2, measured against real captures; version 1 still replays.

Target ranges and where they come from:
- raindrop (RainDrop, Qian et al. CVPR 2018; the real example in shared/reference/real-examples):
  real frames show dozens to hundreds of drops, most of them small and out of focus. Per square
  frame (the short side squared) we want 40-80 / 80-160 / 160-300 drops for light / medium /
  heavy, a median radius below 1.2 % of the short side (most drops small) with at least 70 % of
  drops below 2 %, and a defocused mask: no pixel of a small drop reaches full opacity, and the
  mean of the mask (the area the drops cover, weighted by opacity) grows with severity, between
  1 % and 40 %.
- shadowed (SRD, Qu et al. 2017; ISTD, Wang et al. 2018; the real SRD example): the shadow of a real
  object has a crisp edge; in the real example the 10-90 % width across the edge is 6-8 px at
  640 px short side (5-6.5 px at 512), with a sharper edge near the occluder; a sunlit penumbra is
  0.0093 rad (the sun's angular size) times the occluder distance. We want the median 10-90 % width
  of the matte between 1 and 12 px at a 512-px short side (version 1: about 21 px). The
  lit/shadow luminance ratio on the same wall of the real example is 0.37: medium shadows should
  have an LQ/HQ ratio inside the shadow of 0.25-0.75 (0.37 inside), heavy 0.05-0.45, light 0.45-0.9.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

import degradations as D
from degradations.raindrop import drop_population
from degradations.realism import darkening_ratio, edge_width_10_90

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "v1_raindrop_shadowed.json"
DROPS_PER_FRAME = {"light": (40, 80), "medium": (80, 160), "heavy": (160, 300)}
DARKENING = {"light": (0.45, 0.9), "medium": (0.25, 0.75), "heavy": (0.05, 0.45)}


@pytest.fixture(scope="module")
def small(photos):
    """Three photos at 192x256 or so (tests stay fast)."""
    return {k: np.ascontiguousarray(photos[k][::2, ::2][:192, :256]) for k in ("astronaut", "chelsea", "coffee")}


def _sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def test_version_1_params_replay_the_bytes_recorded_before_version_2():
    from skimage import data

    img = np.ascontiguousarray(data.chelsea()[:96, :128])
    cases = json.loads(FIXTURE.read_text())["cases"]
    assert {c["params"]["name"] for c in cases} == {"raindrop", "shadowed"}
    for case in cases:
        params = case["params"]
        assert params["version"] == 1
        result = D.replay(img, params)
        key = "mask" if params["name"] == "raindrop" else "matte"
        assert _sha(result.lq) == case["lq_sha256"], params["name"]
        assert _sha(result.maps[key]) == case["map_sha256"], params["name"]


@pytest.mark.parametrize("name", ["raindrop", "shadowed"])
def test_new_params_are_version_2(name):
    assert D.sample_params(name, np.random.default_rng(0), (64, 64, 3), "medium")["version"] == 2


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


def test_raindrop_mask_is_defocused_and_covers_more_with_severity(small):
    img = small["astronaut"]
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


@pytest.mark.parametrize("severity", ["light", "medium", "heavy"])
def test_shadow_edge_is_crisp_and_darkening_is_real(severity, small):
    widths, ratios = [], []
    for img in small.values():
        for seed in range(2):
            params = D.sample_params("shadowed", np.random.default_rng(seed), img.shape, severity)
            result = D.get("shadowed").apply(img, params)
            matte = result.maps["matte"].astype(np.float32) / 255
            widths.append(edge_width_10_90(matte) * 512 / min(img.shape[:2]))
            ratios.append(darkening_ratio(img, result.lq, matte))
    width = float(np.nanmedian(widths))
    assert 1.0 <= width <= 12.0, widths
    lo, hi = DARKENING[severity]
    assert lo <= float(np.nanmedian(ratios)) <= hi, ratios


def test_penumbra_widens_away_from_the_contact_point():
    # one pole shadow, lying to the right of its foot: the edge far from the foot is softer
    params = {"name": "shadowed", "severity": "medium", "version": 2, "coverage": 0.05,
              "shadows": [{"kind": "pole", "center": [0.5, 0.5], "area": 0.05, "rotation": 0.0,
                           "elongation": 1.0, "shear": 0.0, "lift": 0.0}],
              "contact_width": 1.0, "light_size": 0.035, "channel_offsets": [0.05, 0.05],
              "x1": [0.1, 0.05, 0.0], "y2": 0.3, "seed": 0}
    img = np.full((256, 256, 3), 200, np.uint8)
    matte = D.get("shadowed").apply(img, params).maps["matte"].astype(np.float32) / 255
    cols = np.flatnonzero(matte.max(axis=0) > 0.5)
    near, far = matte[:, cols[0] + 3 : cols[0] + 20], matte[:, cols[-1] - 60 : cols[-1] - 43]
    assert edge_width_10_90(near) < edge_width_10_90(far)


def test_every_silhouette_kind_casts_a_visible_shadow():
    img = np.full((128, 128, 3), 180, np.uint8)
    for kind in ("person", "pole", "plant", "hand"):
        params = {"name": "shadowed", "severity": "medium", "version": 2, "coverage": 0.1,
                  "shadows": [{"kind": kind, "center": [0.5, 0.5], "area": 0.1, "rotation": 270.0,
                               "elongation": 1.2, "shear": 0.1, "lift": 0.0 if kind != "hand" else 0.5}],
                  "contact_width": 1.0, "light_size": 0.01, "channel_offsets": [0.05, 0.05],
                  "x1": [0.1, 0.05, 0.0], "y2": 0.3, "seed": 3}
        matte = D.get("shadowed").apply(img, params).maps["matte"]
        assert 0.05 <= float((matte > 127).mean()) <= 0.15, kind
