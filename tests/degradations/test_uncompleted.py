"""uncompleted: inpainting masks are non-empty, land in the recorded hole-ratio band, keep every pixel
outside the holes and fill the holes with exactly the requested colour."""

from __future__ import annotations

import numpy as np
import pytest

import degradations as D
from degradations.masks import STYLES, hole_mask
from degradations.uncompleted import Uncompleted

SEEDS = range(4)


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
