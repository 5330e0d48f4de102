import numpy as np

from pipelines.quality.blockiness import blockiness
from tests.pipelines.quality.photos import NAMES, blurred, jpeg, noised, photo


def test_grid_steps_are_measured():
    steps = np.kron(np.arange(16).reshape(4, 4) * 10, np.ones((8, 8))).astype(np.uint8)
    tiled = np.stack([steps] * 3, axis=-1)
    texture = np.random.default_rng(0).integers(0, 3, tiled.shape).astype(np.uint8)
    assert blockiness(tiled + texture) > 5
    shifted = np.roll(tiled, 4, axis=(0, 1)) + texture  # the same steps off the 8x8 grid
    assert blockiness(shifted) < 1


def test_jpeg_shows_and_others_do_not():
    for name in NAMES:
        clean = photo(name)
        assert 0.85 < blockiness(clean) < 1.2, name
        assert blockiness(blurred(clean)) < 1.2 and blockiness(noised(clean)) < 1.2
        by_quality = [blockiness(jpeg(clean, q)) for q in (90, 30, 10)]
        assert by_quality == sorted(by_quality) and by_quality[-1] > 1.5, name


def test_tiny_images():
    assert np.isnan(blockiness(np.zeros((8, 8, 3), np.uint8)))
    assert blockiness(np.zeros((9, 9, 3), np.uint8)) == 1.0
