"""shadowed and uncompleted: what a user relies on beyond the shared contract.

Shadows darken only under the matte, red more than blue, with soft edges and the documented
PSNR bands; inpainting masks are non-empty, land in the recorded hole-ratio band, keep every
pixel outside the holes and fill the holes with exactly the requested colour.
"""

from __future__ import annotations

import numpy as np
import pytest

import degradations as D
from degradations.masks import STYLES, hole_mask
from degradations.uncompleted import Uncompleted

SEEDS = range(4)


# ---------------------------------------------------------------- shadowed


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


# ---------------------------------------------------------------- uncompleted


@pytest.mark.parametrize("severity", ["light", "medium", "heavy", "random"])
def test_inpaint_mask_in_band_and_pixels_kept(severity, photos):
    for name, img in photos.items():
        for seed in SEEDS:
            lq, params = D.degrade(img, "uncompleted", seed=seed, severity=severity)
            mask = D.replay(img, params).maps["mask"]
            holes = mask > 0
            assert mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 255}
            ratio = float(holes.mean())
            lo, hi = params["hole_ratio"]
            assert holes.any(), (name, seed)
            assert lo <= ratio <= hi, (name, severity, seed, params["style"], ratio, (lo, hi))
            assert params["target_ratio"] <= ratio, "strokes are added until the recorded target is reached"
            if severity != "random":
                assert (lo, hi) == tuple(Uncompleted.ranges[severity]["hole_ratio"])
            assert params["fill"] == "white"
            assert np.array_equal(lq[~holes], img[~holes]), "pixels outside the holes must be unchanged"
            assert (lq[holes] == 255).all(), "DA-CLIP fills the holes with white"


@pytest.mark.parametrize("style", STYLES)
def test_every_mask_style_reaches_its_band(style):
    for seed in SEEDS:
        mask = hole_mask(np.random.default_rng(seed), (256, 384), style, (0.35, 0.5))
        assert 0.35 <= float((mask > 0).mean()) <= 0.5, (style, seed)


def test_mask_is_resolution_aware():
    small = hole_mask(np.random.default_rng(0), (256, 256), "thin", (0.2, 0.3))
    large = hole_mask(np.random.default_rng(0), (1024, 1024), "thin", (0.2, 0.3))
    assert 0.2 <= (small > 0).mean() <= 0.3 and 0.2 <= (large > 0).mean() <= 0.3


@pytest.mark.parametrize("fill", ["black", "mean", "noise"])
def test_other_fills(fill, astronaut):
    params = {**D.sample_params("inpaint", np.random.default_rng(4), astronaut.shape, "medium"), "fill": fill}
    result = D.get("inpaint").apply(astronaut, params)
    holes = result.maps["mask"] > 0
    assert np.array_equal(result.lq[~holes], astronaut[~holes])
    filled = result.lq[holes]
    if fill == "black":
        assert (filled == 0).all()
    elif fill == "mean":
        expected = np.round(astronaut[~holes].mean(axis=0)).astype(np.uint8)
        assert (np.abs(filled.astype(int) - expected) <= 1).all() and len(np.unique(filled, axis=0)) == 1
    else:
        assert filled.std() > 50 and np.array_equal(D.get("inpaint").apply(astronaut, params).lq, result.lq)


def test_fill_is_validated():
    with pytest.raises(ValueError, match="fill"):
        Uncompleted(fill="purple")
    assert Uncompleted(fill="black").sample(np.random.default_rng(0), (64, 64, 3), "light")["fill"] == "black"
