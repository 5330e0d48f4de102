"""NIQE, the Natural Image Quality Evaluator (Mittal, Soundararajan & Bovik, IEEE SPL 2013).

Lower is more natural. The image's Y channel is cut into 96x96 blocks at two scales (the second
a MATLAB-bicubic half-size copy, blocks 48x48); each block's mean-subtracted contrast-normalised
(MSCN) coefficients give 18 features per scale: an asymmetric generalised Gaussian (AGGD) fit of
the coefficients and of their products with four neighbours. The blocks' multivariate Gaussian
is compared with the pristine model (eq. 10): ``sqrt((mu_p - mu)^T ((S_p + S) / 2)^+ (mu_p - mu))``.

The conventions are BasicSR 1.4.2's (``calculate_niqe`` with ``crop_border=0``, ``convert_to='y'``):
rounded studio-swing Y, blocks without overlap, the image cropped to whole blocks, circular
neighbour shifts inside a block, the AGGD shape searched on the grid 0.2:0.001:10, a block
whose fit is undefined (e.g. no negative coefficient) kept in the mean and left out of the
covariance. The pristine parameters are BasicSR's file (``data/NOTICE``). Agreement with BasicSR's
code, run on scikit-image photos, is recorded in ``tests/pipelines/quality/test_niqe.py``.
"""

from __future__ import annotations

import functools
import math
import warnings
from importlib import resources

import cv2
import numpy as np
from scipy.special import gamma

from .color import y_channel
from .resize import imresize

__all__ = ["BLOCK", "niqe", "niqe_features", "pristine_model"]

BLOCK = 96
SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))  # horizontal, vertical, two diagonals


@functools.cache
def pristine_model() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(mu (36,), cov (36, 36), gaussian_window (7, 7))`` of the vendored pristine model."""
    with resources.files(__package__).joinpath("data/niqe_pris_params.npz").open("rb") as handle, \
            np.load(handle) as data:
        return (data["mu_pris_param"].reshape(-1).astype(np.float64), data["cov_pris_param"].astype(np.float64),
                data["gaussian_window"].astype(np.float64))


@functools.cache
def _shape_grid() -> tuple[np.ndarray, np.ndarray]:
    """AGGD shapes 0.2:0.001:10 and ``r(a) = G(2/a)^2 / (G(1/a) G(3/a))`` (increasing in ``a``)."""
    shapes = np.arange(0.2, 10.001, 0.001)
    ratio = gamma(2 / shapes) ** 2 / (gamma(1 / shapes) * gamma(3 / shapes))
    return shapes, ratio


def _nearest_shape(target: np.ndarray) -> np.ndarray:
    """``shapes[argmin((ratio - t)^2)]`` per target, by bisection (the ratio is increasing);
    an undefined target (NaN, inf) gets the first shape, as ``argmin`` over NaNs does."""
    shapes, ratio = _shape_grid()
    finite = np.isfinite(target)
    t = np.where(finite, target, 0.0)
    hi = np.clip(np.searchsorted(ratio, t), 1, len(ratio) - 1)
    lo = hi - 1
    pick = np.where((ratio[lo] - t) ** 2 <= (ratio[hi] - t) ** 2, lo, hi)
    return np.where(finite, shapes[pick], shapes[0])


def _aggd(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AGGD shape and left/right scales of each block of ``x`` (n, h, w), Mittal's moment match."""
    flat = x.reshape(len(x), -1)
    neg, pos = flat < 0, flat > 0
    sq = flat**2
    left = np.sqrt((sq * neg).sum(1) / neg.sum(1))
    right = np.sqrt((sq * pos).sum(1) / pos.sum(1))
    g = left / right
    rhat = np.abs(flat).mean(1) ** 2 / sq.mean(1)
    rnorm = rhat * (g**3 + 1) * (g + 1) / (g**2 + 1) ** 2
    alpha = _nearest_shape(rnorm)
    k = np.sqrt(gamma(1 / alpha) / gamma(3 / alpha))
    return alpha, left * k, right * k


def _block_features(blocks: np.ndarray) -> np.ndarray:
    """The 18 features of each MSCN block (n, h, w) -> (n, 18)."""
    alpha, bl, br = _aggd(blocks)
    columns = [alpha, (bl + br) / 2]
    for shift in SHIFTS:
        a, left, right = _aggd(blocks * np.roll(blocks, shift, axis=(1, 2)))
        columns += [a, (right - left) * gamma(2 / a) / gamma(1 / a), left, right]
    return np.stack(columns, axis=1)


def _mscn(img: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Mean-subtracted contrast-normalised coefficients (eq. 1). Local moments are stored in
    float32 as BasicSR does (its Y image is float32): in flat regions ``E[x^2] - E[x]^2`` then
    keeps float32's rounding, which moves the shape fits of flat blocks; computing it in
    float64 instead puts NIQE of scikit-image's astronaut 1.2 % away from BasicSR's."""
    img = img.astype(np.float32)
    wide = img.astype(np.float64)
    mu = cv2.filter2D(wide, cv2.CV_64F, window, borderType=cv2.BORDER_REPLICATE).astype(np.float32)
    power = cv2.filter2D(wide * wide, cv2.CV_64F, window, borderType=cv2.BORDER_REPLICATE).astype(np.float32)
    sigma = np.sqrt(np.abs(power - mu * mu))
    return ((img - mu) / (sigma + np.float32(1))).astype(np.float64)


def _blocks(img: np.ndarray, size: int) -> np.ndarray:
    h, w = img.shape[0] // size, img.shape[1] // size
    return img[: h * size, : w * size].reshape(h, size, w, size).transpose(0, 2, 1, 3).reshape(-1, size, size)


def niqe_features(y: np.ndarray) -> np.ndarray:
    """``(blocks, 36)`` features of a 0-255 grey image (two scales side by side)."""
    window = pristine_model()[2]
    h, w = (y.shape[0] // BLOCK) * BLOCK, (y.shape[1] // BLOCK) * BLOCK
    img = np.asarray(y[:h, :w], dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        fine = _block_features(_blocks(_mscn(img, window), BLOCK))
        half = imresize(img / 255.0, 0.5) * 255.0
        coarse = _block_features(_blocks(_mscn(half, window), BLOCK // 2))
    return np.concatenate([fine, coarse], axis=1)


def niqe(rgb: np.ndarray) -> float:
    """NIQE of an RGB uint8 image; NaN when it holds fewer than two whole 96x96 blocks with
    defined features (the covariance needs two)."""
    y = y_channel(rgb)
    if (y.shape[0] // BLOCK) * (y.shape[1] // BLOCK) < 2:
        return float("nan")
    features = niqe_features(y)
    complete = features[~np.isnan(features).any(axis=1)]
    if len(complete) < 2:
        return float("nan")
    mu_p, cov_p, _ = pristine_model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # nanmean of a column with no defined value
        diff = mu_p - np.nanmean(features, axis=0)
    if not np.isfinite(diff).all():
        return float("nan")
    inverse = np.linalg.pinv((cov_p + np.cov(complete, rowvar=False)) / 2)
    return float(math.sqrt(max(float(diff @ inverse @ diff), 0.0)))
