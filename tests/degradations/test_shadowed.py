"""shadowed: darkening only under the matte and red most, coverage and PSNR bands per preset; version 2
(cast shadows of real objects) measured against real captures; version 1 (abstract blobs) still replays.

Realism targets (SRD, Qu et al. 2017; ISTD, Wang et al. 2018; the real SRD example): the shadow of a real
object has a crisp edge; in the real example the 10-90 % width across the edge is 6-8 px at 640 px short
side (5-6.5 px at 512), with a sharper edge near the occluder; a sunlit penumbra is 0.0093 rad (the sun's
angular size) times the occluder distance. We want the median 10-90 % width of the matte between 1 and
12 px at a 512-px short side (version 1: about 21 px). The lit/shadow luminance ratio on the same wall of
the real example is 0.37: medium shadows should have an LQ/HQ ratio inside the shadow of 0.25-0.75
(0.37 inside), heavy 0.05-0.45, light 0.45-0.9.
"""

from __future__ import annotations

import numpy as np
import pytest

import degradations as D
from degradations.realism import darkening_ratio, edge_width_10_90

from .helpers import sha, v1_fixture_cases

SEEDS = range(4)
DARKENING = {"light": (0.45, 0.9), "medium": (0.25, 0.75), "heavy": (0.05, 0.45)}


def test_shadow_darkens_only_under_the_matte_and_red_most():
    grey = np.full((200, 300, 3), 160, np.uint8)
    params = D.sample_params("shadowed", np.random.default_rng(0), grey.shape, "heavy")
    result = D.get("shadowed").apply(grey, params)
    matte = result.maps["matte"]
    assert matte.shape == grey.shape[:2] and matte.dtype == np.uint8
    lq = result.lq.astype(int)
    outside, inside = matte == 0, matte == 255
    assert outside.any() and inside.any()
    assert np.array_equal(result.lq[outside], grey[outside]), "pixels outside the shadow must be untouched"
    assert (lq <= 160).all(), "a shadow never brightens"
    red, green, blue = (lq[inside][:, c] for c in range(3))
    assert (red <= green).all() and (green <= blue).all() and (red < blue).all(), "SynShadow: red darker than blue"
    assert params["x1"][0] > params["x1"][2] and params["y2"] < 1.0 - params["x1"][0]


def test_shadow_coverage_follows_the_preset(photos):
    img = photos["coffee"]
    for severity in ("light", "medium", "heavy"):
        lo, hi = D.get("shadowed").ranges[severity]["coverage"]
        for seed in SEEDS:
            params = D.sample_params("shadowed", np.random.default_rng(seed), img.shape, severity)
            assert 1 <= len(params["shadows"]) <= 3
            assert {s["kind"] for s in params["shadows"]} <= {"person", "pole", "plant", "hand"}
            covered = float((D.get("shadowed").apply(img, params).maps["matte"] > 127).mean())
            # Shapes are fitted to their share inside the frame; overlaps and soft edges lose a little.
            assert 0.5 * lo <= covered <= hi + 0.02, (severity, seed, covered, params["coverage"])


def test_wider_penumbra_gives_softer_edges(astronaut):
    params = D.sample_params("shadowed", np.random.default_rng(1), astronaut.shape, "medium")
    soft_fraction = {}
    for light_size in (0.0093, 0.03):  # the sun, and a light three times as wide
        params = {**params, "light_size": light_size}
        matte = D.get("shadowed").apply(astronaut, params).maps["matte"]
        soft_fraction[light_size] = float(((matte > 12) & (matte < 243)).mean())
    assert 0 < soft_fraction[0.0093] < soft_fraction[0.03]


def test_shadow_psnr_bands(photos):
    medians = {}
    for severity in ("light", "medium", "heavy"):
        values = [
            D.psnr(img, D.degrade(img, "shadowed", seed=seed, severity=severity)[0])
            for img in photos.values()
            for seed in SEEDS
        ]
        medians[severity] = float(np.median(values))
    assert 24.0 <= medians["light"] <= 34.0, medians
    assert 16.0 <= medians["medium"] <= 22.0, medians
    assert 11.0 <= medians["heavy"] <= 17.0, medians


def test_shadow_shapes_depend_on_the_recorded_seed(astronaut):
    params = D.sample_params("shadowed", np.random.default_rng(2), astronaut.shape, "medium")
    a = D.get("shadowed").apply(astronaut, params).maps["matte"]
    b = D.get("shadowed").apply(astronaut, {**params, "seed": params["seed"] + 1}).maps["matte"]
    assert np.array_equal(a, D.get("shadowed").apply(astronaut, params).maps["matte"])
    assert not np.array_equal(a, b) or all(s["kind"] == "bar" for s in params["shadows"])


# ------------------------------------------------------------------------------ version 2: realism


@pytest.mark.parametrize("severity", ["light", "medium", "heavy"])
def test_shadow_edge_is_crisp_and_darkening_is_real(severity, three_small):
    widths, ratios = [], []
    for img in three_small.values():
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


def test_new_params_are_version_2():
    assert D.sample_params("shadowed", np.random.default_rng(0), (64, 64, 3), "medium")["version"] == 2


def test_version_1_params_replay_the_bytes_recorded_before_version_2():
    from skimage import data

    img = np.ascontiguousarray(data.chelsea()[:96, :128])
    cases = v1_fixture_cases("shadowed")
    assert cases
    for case in cases:
        params = case["params"]
        assert params["version"] == 1
        result = D.replay(img, params)
        assert sha(result.lq) == case["lq_sha256"], params["name"]
        assert sha(result.maps["matte"]) == case["map_sha256"], params["name"]
