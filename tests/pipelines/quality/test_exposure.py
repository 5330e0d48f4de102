import numpy as np
import pytest

from pipelines.quality.color import as_rgb8, luma, y_channel
from pipelines.quality.exposure import exposure


def test_clipping_and_luma():
    img = np.full((10, 10, 3), 128, np.uint8)
    img[:2] = 0
    img[9, :, 0] = 255
    e = exposure(img)
    assert e.clip_low == pytest.approx(0.2) and e.clip_high == pytest.approx(10 / 300)
    assert e.luma == pytest.approx(luma(img).mean() / 255)
    assert exposure(np.full((4, 4, 3), 255, np.uint8)).luma == pytest.approx(1.0)


def test_grey_conventions():
    white, black = np.full((1, 1, 3), 255, np.uint8), np.zeros((1, 1, 3), np.uint8)
    assert y_channel(white)[0, 0] == 235 and y_channel(black)[0, 0] == 16
    assert luma(white)[0, 0] == pytest.approx(255)


@pytest.mark.parametrize("bad", [np.zeros((4, 4), np.uint8), np.zeros((4, 4, 3), np.float32),
                                 np.zeros((4, 4, 4), np.uint8), np.zeros((0, 4, 3), np.uint8), [[1, 2, 3]]])
def test_only_rgb8_is_taken(bad):
    with pytest.raises(ValueError, match="RGB|empty"):
        as_rgb8(bad)
