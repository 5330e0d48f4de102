"""noisy and jpeg-compressed: input PSNR bands on the bundled photos, noise statistics, and a JPEG
that is a real JPEG of the image (encoded from BGR), unlike albumentations' ImageCompression.

Bands (measured on astronaut, chelsea, coffee, rocket; 8-bit clipped LQ, so a little above the
unclipped 20*log10(255/sigma) = 24.6 / 20.2 / 14.2 dB):
noisy sigma 15: 24.6-25.2 dB, sigma 25: 20.2-20.9 dB, sigma 50: 14.5-15.4 dB;
jpeg QF 10: 26.0-28.5 dB, QF 20: 28.0-31.0 dB, QF 40: 29.9-33.2 dB.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import degradations as D

NOISE_BANDS = {"light": (24.3, 25.5), "medium": (19.9, 21.2), "heavy": (14.0, 15.7)}
JPEG_BANDS = {"heavy": (25.5, 29.0), "medium": (27.5, 31.5), "light": (29.5, 34.0)}


@pytest.mark.parametrize("severity, sigma", [("light", 15.0), ("medium", 25.0), ("heavy", 50.0)])
def test_noisy_psnr_bands(severity, sigma, photos):
    lo, hi = NOISE_BANDS[severity]
    for name, img in photos.items():
        lq, params = D.degrade(img, "noisy", seed=0, severity=severity)
        assert params["sigma"] == sigma and params["variant"] == "gaussian"
        value = D.psnr(img, lq)
        assert lo <= value <= hi, (name, severity, value)


@pytest.mark.parametrize("severity", ["light", "medium", "heavy"])
def test_noise_std_matches_sigma_on_mid_grey(severity):
    grey = np.full((256, 256, 3), 128, np.uint8)
    lq, params = D.degrade(grey, "noisy", seed=1, severity=severity)
    residual = lq.astype(np.float64) - grey
    sigma = params["sigma"]
    # Clipping at 0/255 trims the tails a little at sigma 50 (2.6 sigma away): allow 3 %.
    assert abs(residual.std() - sigma) <= 0.03 * sigma, (residual.std(), sigma)
    assert abs(residual.mean()) < 0.5
    channel_corr = np.corrcoef(residual.reshape(-1, 3).T)
    assert np.abs(channel_corr[np.triu_indices(3, 1)]).max() < 0.05, "AWGN is independent per channel"


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
