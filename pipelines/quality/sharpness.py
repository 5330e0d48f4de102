"""Blur measures on luma: scikit-image's blur effect and the variance of the Laplacian."""

from __future__ import annotations

import cv2
import numpy as np

from .color import luma

__all__ = ["blur_effect", "laplacian_variance"]


H_SIZE = 11  # the re-blur filter's length, as skimage's default
_EPSILON = 1e-10


def blur_effect(rgb: np.ndarray, y: np.ndarray | None = None) -> float:
    """Crete-Roffet et al. (2007) blur metric on luma: 0 for a sharp image, towards 1 for a very
    blurred one. The same computation as ``skimage.measure.blur_effect`` (re-blur with an 11-tap box
    along each axis, compare Sobel responses inside a 2-pixel border, take the larger axis; reflect
    borders), with OpenCV's filters: about 3x faster, equal to it within 1e-10 relative (tested)."""
    img = np.asarray(luma(rgb) if y is None else y, dtype=np.float64)  # y: the luma, when the caller has it
    h, w = img.shape
    inside = (slice(2, h - 1), slice(2, w - 1))
    per_axis = []
    for dx, dy in ((0, 1), (1, 0)):  # axis 0 (rows), then axis 1 (columns)
        reblurred = cv2.blur(img, (H_SIZE, 1) if dx else (1, H_SIZE), borderType=cv2.BORDER_REFLECT)
        sharp = np.maximum(_EPSILON, np.abs(cv2.Sobel(img, cv2.CV_64F, dx, dy, ksize=3,
                                                      borderType=cv2.BORDER_REFLECT)) / 8)
        blurred = np.maximum(_EPSILON, np.abs(cv2.Sobel(reblurred, cv2.CV_64F, dx, dy, ksize=3,
                                                        borderType=cv2.BORDER_REFLECT)) / 8)
        m1, m2 = sharp[inside].sum(), np.maximum(0, sharp - blurred)[inside].sum()
        per_axis.append(abs(m1 - m2) / m1)
    return float(max(per_axis))


def laplacian_variance(rgb: np.ndarray, y: np.ndarray | None = None) -> float:
    """Variance of the 3x3 Laplacian of luma (Pech-Pacheco et al. 2000): low means few edges
    (blurred or flat); in 0-255 units squared, so it depends on content and size too."""
    y = luma(rgb) if y is None else y
    return float(cv2.Laplacian(y, cv2.CV_64F, ksize=1, borderType=cv2.BORDER_REFLECT).var())
