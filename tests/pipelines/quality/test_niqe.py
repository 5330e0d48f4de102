import numpy as np
import pytest

from pipelines.quality.niqe import _nearest_shape, _shape_grid, niqe, pristine_model
from tests.pipelines.quality.photos import DEGRADATIONS, NAMES, degraded, photo

# BasicSR 1.4.2's own calculate_niqe(img_bgr, crop_border=0) (basicsr/metrics/niqe.py, its
# matlab_functions.imresize and to_y_channel, unmodified from the PyPI sdist; run outside the
# repository with torch 2 / scipy 1.17), on scikit-image 0.26's photos as bundled (camera as RGB
# grey) and on their Gaussian-blurred copies (cv2.GaussianBlur, sigma 2).
BASICSR = {
    "astronaut": 3.0649476661849033, "camera": 3.155215748805674, "coffee": 4.115241615372864,
    "chelsea": 2.625524381291432, "rocket": 6.9691549749810555,
    "astronaut_blur2": 7.282219990935199, "camera_blur2": 8.10021485887868, "coffee_blur2": 8.057027108121433,
    "chelsea_blur2": 8.421009978646802, "rocket_blur2": 10.008806323498737,
}
# Verified agreement: at most 2.4e-4 relative (camera_blur2); BasicSR keeps its Y image and the
# MSCN moments in float32, we keep the moments' float32 rounding and compute the rest in float64.
RELATIVE_TOLERANCE = 1e-3


@pytest.mark.parametrize("name", sorted(BASICSR))
def test_niqe_matches_basicsr(name):
    import cv2

    base, _, how = name.partition("_")
    rgb = photo(base, side=10_000)
    if how:
        rgb = cv2.GaussianBlur(rgb, (0, 0), 2)
    assert niqe(rgb) == pytest.approx(BASICSR[name], rel=RELATIVE_TOLERANCE)


def test_niqe_is_deterministic_and_rises_with_every_degradation():
    for name in NAMES:  # at 512 px: NIQE pools 96x96 blocks and needs a few of them to be stable
        clean = photo(name, side=512)
        first = niqe(clean)
        assert niqe(clean.copy()) == first
        for how in DEGRADATIONS:
            assert niqe(degraded(clean, how)) > first + 1.0, (name, how)


def test_niqe_needs_two_blocks():
    assert np.isnan(niqe(np.zeros((95, 500, 3), np.uint8)))
    assert np.isnan(niqe(np.zeros((96, 191, 3), np.uint8)))
    assert np.isnan(niqe(np.full((200, 200, 3), 128, np.uint8)))  # flat: no defined feature
    assert np.isfinite(niqe(photo("camera", side=192)))


def test_shape_search_equals_argmin_over_the_grid():
    shapes, ratio = _shape_grid()
    assert (np.diff(ratio) > 0).all()  # what the bisection relies on
    targets = np.concatenate([np.random.default_rng(0).uniform(ratio[0] - 0.05, ratio[-1] + 0.05, 500),
                              ratio[[0, 17, 4000, -1]], [np.nan, np.inf]])
    expected = [shapes[np.argmin((ratio - t) ** 2)] for t in targets]
    assert np.array_equal(_nearest_shape(targets), expected)


def test_pristine_model_is_the_vendored_file():
    import hashlib
    from importlib import resources

    mu, cov, window = pristine_model()
    assert mu.shape == (36,) and cov.shape == (36, 36) and window.shape == (7, 7)
    data = resources.files("pipelines.quality").joinpath("data/niqe_pris_params.npz").read_bytes()
    notice = resources.files("pipelines.quality").joinpath("data/NOTICE").read_text()
    assert hashlib.sha256(data).hexdigest() in notice
