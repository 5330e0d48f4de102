"""PIQE, the Perception-based Image Quality Evaluator (Venkatanath N et al., NCC 2015).

0 (best) to 100 (worst). The grey image is padded to whole 16x16 blocks, scaled so its maximum
is 255, and turned into MSCN coefficients (7x7 Gaussian, sigma 7/6). Only spatially active
blocks (coefficient variance over 0.1) count. An active block is *impaired* (blocking or other
sudden artefacts) when a run of 6 pixels along one of its edges is nearly flat (standard
deviation under 0.1), and *noisy* when its standard deviation exceeds twice ``beta``, the relative
difference between it and the ratio of the centre columns' deviation to the surround's. Scores:
``(sum over impaired (1 - var) + sum over noisy var + 1) / (active blocks + 1) * 100``.

Conventions follow MATLAB's ``piqe`` as pypiqe 1.2 ports it: Rec. 601 grey rounded to uint8,
symmetric padding, sample (ddof=1) deviations, and the surround left after deleting columns 8 and
10 (1-based: MATLAB deletes column 8, then column 9 of what is left). A uniform image scores 100.
Agreement with pypiqe is recorded in ``tests/pipelines/quality/test_piqe.py``.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .color import as_rgb8

__all__ = ["BLOCK", "piqe"]

BLOCK = 16
ACTIVITY = 0.1  # block variance above which a block is spatially active
FLAT_SEGMENT = 0.1  # edge-segment deviation below which a block is impaired
SEGMENT = 6


def _normalised(rgb: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(as_rgb8(rgb), cv2.COLOR_RGB2GRAY)
    pad_h, pad_w = (-grey.shape[0]) % BLOCK, (-grey.shape[1]) % BLOCK
    grey = np.pad(grey, ((0, pad_h), (0, pad_w)), mode="symmetric")
    img = np.round(255 * (grey / float(grey.max())))
    mu = cv2.GaussianBlur(img, (7, 7), 7 / 6, borderType=cv2.BORDER_REPLICATE)
    power = cv2.GaussianBlur(img * img, (7, 7), 7 / 6, borderType=cv2.BORDER_REPLICATE)
    return (img - mu) / (np.sqrt(np.abs(power - mu * mu)) + 1)


def _impaired(blocks: np.ndarray) -> np.ndarray:
    """Per block: does some 6-pixel run along one of its four edges have deviation < 0.1?"""
    edges = np.stack([blocks[:, 0, :], blocks[:, :, -1], blocks[:, -1, :], blocks[:, :, 0]], axis=1)
    runs = sliding_window_view(edges, SEGMENT, axis=2)  # (n, 4, 11, 6)
    return (runs.std(axis=3, ddof=1) < FLAT_SEGMENT).any(axis=(1, 2))


def _noisy(blocks: np.ndarray, variance: np.ndarray) -> np.ndarray:
    """Per block: deviation > 2 beta, beta from the centre/surround deviation ratio."""
    n = len(blocks)
    centre = blocks[:, :, [7, 8]].transpose(0, 2, 1).reshape(n, 2 * BLOCK)
    surround = np.delete(blocks, [7, 9], axis=2).reshape(n, (BLOCK - 2) * BLOCK)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.nan_to_num(centre.std(axis=1, ddof=1) / surround.std(axis=1, ddof=1), nan=0.0)
        sigma = np.sqrt(variance)
        beta = np.abs(sigma - ratio) / np.maximum(sigma, ratio)
    return sigma > 2 * beta


def piqe(rgb: np.ndarray) -> float:
    rgb = as_rgb8(rgb)
    if not rgb.any():
        return 100.0  # all black: uniform (the max scaling would divide by zero)
    norm = _normalised(rgb)
    h, w = norm.shape[0] // BLOCK, norm.shape[1] // BLOCK
    blocks = norm.reshape(h, BLOCK, w, BLOCK).transpose(0, 2, 1, 3).reshape(-1, BLOCK, BLOCK)
    variance = blocks.reshape(len(blocks), BLOCK * BLOCK).var(axis=1, ddof=1)
    active = variance > ACTIVITY
    blocks, variance = blocks[active], variance[active]
    distortion = np.sum((1 - variance) * _impaired(blocks)) + np.sum(variance * _noisy(blocks, variance))
    return float((distortion + 1) / (len(blocks) + 1) * 100)
