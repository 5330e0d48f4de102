"""Full-reference image-quality metrics with the paper conventions.

- Inputs are HxWx3 uint8 RGB (quantise restored outputs first: round, then clip); peak 255.
- ``channel="rgb"`` (default, DA-CLIP's universal tables) or ``"y"``: BT.601 luma as MATLAB's
  ``rgb2ycbcr`` (Y = 16 + 65.481 R + 128.553 G + 24.966 B, R, G, B in [0, 1]).
- ``crop_border`` pixels are cut from every side before measuring (the reference code's
  default is 4; ours is 0, so say what you used).
- SSIM per Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03, population
  covariance, valid region, per channel then averaged.
- LPIPS (AlexNet) only when the ``lpips`` package and the torchvision AlexNet weights are
  already on disk; otherwise :func:`lpips_metric` says why it is skipped. Nothing is downloaded.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from degradations.color import psnr as _psnr

__all__ = ["CHANNELS", "LpipsUnavailable", "lpips_metric", "psnr", "ssim", "to_y"]

CHANNELS = ("rgb", "y")


def to_y(img: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 RGB -> HxW float64 Y in [16, 235] (BT.601, MATLAB rgb2ycbcr)."""
    rgb = img.astype(np.float64) / 255.0
    return 16.0 + rgb @ np.array([65.481, 128.553, 24.966])


def _prepare(a: np.ndarray, b: np.ndarray, crop_border: int, channel: str) -> tuple[np.ndarray, np.ndarray]:
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8 or b.dtype != np.uint8:
        raise ValueError("expected two HxWx3 uint8 RGB images")
    if channel not in CHANNELS:
        raise ValueError(f"channel must be one of {CHANNELS}, got {channel!r}")
    if crop_border:
        if 2 * crop_border >= min(a.shape[:2]):
            raise ValueError(f"crop_border {crop_border} leaves nothing of a {a.shape[1]}x{a.shape[0]} image")
        a = a[crop_border:-crop_border, crop_border:-crop_border]
        b = b[crop_border:-crop_border, crop_border:-crop_border]
    if channel == "y":
        return to_y(a)[..., None], to_y(b)[..., None]
    return a.astype(np.float64), b.astype(np.float64)


def psnr(a: np.ndarray, b: np.ndarray, crop_border: int = 0, channel: str = "rgb") -> float:
    """PSNR in dB (peak 255); ``inf`` for identical images. The formula is ``degradations.psnr``'s."""
    return _psnr(*_prepare(a, b, crop_border, channel), data_range=255.0)


def ssim(a: np.ndarray, b: np.ndarray, crop_border: int = 0, channel: str = "rgb") -> float:
    """SSIM (Wang et al. 2004 settings), averaged over channels."""
    from skimage.metrics import structural_similarity

    x, y = _prepare(a, b, crop_border, channel)
    if min(x.shape[:2]) < 11:
        raise ValueError(f"SSIM needs images of at least 11x11 pixels, got {x.shape[1]}x{x.shape[0]}")
    return float(structural_similarity(
        x, y, channel_axis=-1, data_range=255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
        K1=0.01, K2=0.03,
    ))


class LpipsUnavailable(RuntimeError):
    """LPIPS cannot run offline here; the message says what is missing."""


ALEXNET_FILE = "alexnet-owt-7be5be79.pth"


def lpips_metric(device: str = "cpu") -> Callable[[np.ndarray, np.ndarray], float]:
    """An LPIPS-alex function of two HxWx3 uint8 images, or :class:`LpipsUnavailable`."""
    try:
        import lpips  # noqa: F401
    except ImportError as exn:
        raise LpipsUnavailable("LPIPS skipped: the 'lpips' package is not installed") from exn
    import torch

    weights = Path(torch.hub.get_dir()) / "checkpoints" / ALEXNET_FILE
    if not weights.exists():
        raise LpipsUnavailable(
            f"LPIPS skipped: AlexNet backbone weights not found at {weights} "
            f"(set TORCH_HOME or copy {ALEXNET_FILE} there; nothing is downloaded)"
        )
    os.environ.setdefault("TORCH_HOME", str(Path(torch.hub.get_dir()).parent))
    model = lpips.LPIPS(net="alex", verbose=False).to(device).eval()

    def metric(a: np.ndarray, b: np.ndarray) -> float:
        def t(img: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(img).permute(2, 0, 1)[None].float().div(127.5).sub(1).to(device)

        with torch.no_grad():
            return float(model(t(a), t(b)).item())

    return metric
