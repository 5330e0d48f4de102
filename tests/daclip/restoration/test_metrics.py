"""PSNR/SSIM conventions (RGB/Y, border crop, paper SSIM window), LPIPS skipped offline."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from daclip.restoration.metrics import LpipsUnavailable, lpips_metric, psnr, ssim, to_y


def _noisy(img: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, sigma, img.shape)
    return np.clip(img + noise, 0, 255).round().astype(np.uint8)


def test_psnr_known_value_and_identity():
    a = np.full((16, 16, 3), 100, np.uint8)
    b = a.copy()
    b[..., 0] += 3  # MSE = 9 / 3 = 3 over RGB
    assert psnr(a, b) == pytest.approx(10 * np.log10(255**2 / 3))
    assert psnr(a, a) == float("inf")


def test_y_channel_is_bt601():
    white, black = np.full((1, 1, 3), 255, np.uint8), np.zeros((1, 1, 3), np.uint8)
    assert to_y(white)[0, 0] == pytest.approx(235.0) and to_y(black)[0, 0] == pytest.approx(16.0)
    a = np.full((20, 20, 3), 120, np.uint8)
    b = a.copy()
    b[..., 2] += 10  # a blue shift moves Y by 24.966 * 10 / 255
    assert psnr(a, b, channel="y") == pytest.approx(10 * np.log10(255**2 / (24.966 * 10 / 255) ** 2))


def test_crop_border_ignores_the_frame(astronaut):
    img = astronaut[:64, :64]
    damaged = img.copy()
    damaged[:4] = 0
    assert psnr(img, damaged) < 30
    assert psnr(img, damaged, crop_border=4) == float("inf")
    with pytest.raises(ValueError, match="crop_border"):
        psnr(img, damaged, crop_border=32)


def test_ssim_uses_the_paper_window(astronaut):
    img = astronaut[100:196, 100:196]
    noisy = _noisy(img, 25)
    value = ssim(img, noisy)
    ref = structural_similarity(img, noisy, channel_axis=-1, data_range=255, gaussian_weights=True, sigma=1.5,
                                use_sample_covariance=False)
    default = structural_similarity(img, noisy, channel_axis=-1, data_range=255)
    assert value == pytest.approx(ref) and value != pytest.approx(default, abs=1e-4)
    assert ssim(img, img) == pytest.approx(1.0) and 0 < value < ssim(img, _noisy(img, 5))
    assert ssim(img, noisy, channel="y") != pytest.approx(value, abs=1e-4)


def test_bad_inputs_have_clear_errors(astronaut):
    with pytest.raises(ValueError, match="shape"):
        psnr(astronaut[:10, :10], astronaut[:10, :12])
    with pytest.raises(ValueError, match="uint8"):
        psnr(astronaut[:10, :10].astype(np.float32), astronaut[:10, :10].astype(np.float32))
    with pytest.raises(ValueError, match="channel"):
        ssim(astronaut[:20, :20], astronaut[:20, :20], channel="lab")
    with pytest.raises(ValueError, match="11x11"):
        ssim(astronaut[:8, :8], astronaut[:8, :8])


def test_lpips_is_skipped_with_a_reason_when_weights_are_missing(monkeypatch, tmp_path):
    import torch

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(LpipsUnavailable, match="LPIPS skipped"):
        lpips_metric()
