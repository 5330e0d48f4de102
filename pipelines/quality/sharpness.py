"""Blur measures on luma: scikit-image's blur effect and the variance of the Laplacian."""

from __future__ import annotations

import cv2
import numpy as np

from .color import luma

__all__ = ["blur_effect", "laplacian_variance"]


def blur_effect(rgb: np.ndarray) -> float:
    """Crete-Roffet et al. (2007) blur metric via ``skimage.measure.blur_effect`` on luma:
    0 for a sharp image, towards 1 for a very blurred one."""
    from skimage.measure import blur_effect as crete

    return float(crete(luma(rgb)))


def laplacian_variance(rgb: np.ndarray) -> float:
    """Variance of the 3x3 Laplacian of luma (Pech-Pacheco et al. 2000): low means few edges
    (blurred or flat); in 0-255 units squared, so it depends on content and size too."""
    return float(cv2.Laplacian(luma(rgb), cv2.CV_64F, ksize=1, borderType=cv2.BORDER_REFLECT).var())
