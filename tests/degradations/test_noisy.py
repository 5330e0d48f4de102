"""noisy: input PSNR bands on the bundled photos and the noise statistics.

Bands (measured on astronaut, chelsea, coffee, rocket; 8-bit clipped LQ, so a little above the
unclipped 20*log10(255/sigma) = 24.6 / 20.2 / 14.2 dB): sigma 15: 24.6-25.2 dB, sigma 25:
20.2-20.9 dB, sigma 50: 14.5-15.4 dB.
"""

from __future__ import annotations

import numpy as np
import pytest

import degradations as D

NOISE_BANDS = {"light": (24.3, 25.5), "medium": (19.9, 21.2), "heavy": (14.0, 15.7)}


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
