"""jpeg-compressed: input PSNR bands on the bundled photos, and a JPEG that is a real JPEG of the image
(encoded from BGR), unlike albumentations' ImageCompression.

Bands (measured on astronaut, chelsea, coffee, rocket): QF 10: 26.0-28.5 dB, QF 20: 28.0-31.0 dB,
QF 40: 29.9-33.2 dB.
"""

from __future__ import annotations

import cv2
import numpy as np

import degradations as D

JPEG_BANDS = {"heavy": (25.5, 29.0), "medium": (27.5, 31.5), "light": (29.5, 34.0)}


def test_jpeg_psnr_bands_and_order(photos):
    for name, img in photos.items():
        values = {}
        for severity, quality in (("heavy", 10), ("medium", 20), ("light", 40)):
            lq, params = D.degrade(img, "jpeg-compressed", seed=0, severity=severity)
            assert params["quality"] == quality
            values[severity] = D.psnr(img, lq)
            lo, hi = JPEG_BANDS[severity]
            assert lo <= values[severity] <= hi, (name, severity, values[severity])
        assert values["heavy"] < values["medium"] < values["light"], (name, values)


def _cv2_bgr_roundtrip(img: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def test_jpeg_is_a_real_bgr_jpeg_unlike_albumentations(astronaut):
    import albumentations as A  # only here: the comparison is the point of this test

    lq, params = D.degrade(astronaut, "jpeg-compressed", seed=0, severity="heavy")
    assert params["subsampling"] == 420 and params["double"] is None
    assert np.array_equal(lq, _cv2_bgr_roundtrip(astronaut, 10)), "must equal a direct OpenCV JPEG of the BGR array"

    transform = A.ImageCompression(quality_range=(10, 10), p=1.0)
    transform.set_random_seed(0)
    albu = transform(image=astronaut)["image"]
    assert albu.shape == lq.shape
    assert not np.array_equal(albu, lq), "albumentations encodes the RGB array as if it were BGR"
    assert D.psnr(albu, lq) < 40.0, "the two differ by real artifacts, not rounding"
