import numpy as np

from pipelines.quality.sharpness import blur_effect, laplacian_variance
from tests.pipelines.quality.photos import NAMES, blurred, photo


def test_blur_measures_follow_the_blur_radius():
    for name in NAMES:
        clean = photo(name)
        effects = [blur_effect(blurred(clean, s)) for s in (0.5, 1.0, 2.0, 4.0)]
        laplace = [laplacian_variance(blurred(clean, s)) for s in (0.5, 1.0, 2.0, 4.0)]
        assert effects == sorted(effects) and laplace == sorted(laplace, reverse=True), name
        assert blur_effect(clean) < 0.45 < 0.5 < effects[2]


def test_flat_image_has_no_laplacian():
    assert laplacian_variance(np.full((32, 32, 3), 90, np.uint8)) == 0.0


def test_blur_effect_equals_scikit_images():
    from skimage.measure import blur_effect as reference

    from pipelines.quality.color import luma

    for name in NAMES:
        for img in (photo(name), blurred(photo(name), 2.0)):
            expected = float(reference(luma(img)))
            assert abs(blur_effect(img) - expected) <= 1e-10 * expected, name
