"""All weight-free measures of one image, under the column names manifests carry."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .blockiness import blockiness
from .color import as_rgb8, luma
from .exposure import exposure
from .niqe import niqe
from .noise import noise_sigma
from .phash import phash
from .piqe import piqe
from .sharpness import blur_effect, laplacian_variance

__all__ = ["COLUMNS", "FLOAT_COLUMNS", "score_image"]

Score = dict[str, float | str]

# name -> (what it means, the function giving it). The order is the order of the columns.
MEASURES: dict[str, tuple[str, Callable[..., float | str] | None]] = {
    "q_blur": ("blur effect (Crete-Roffet), 0 sharp to 1 blurred", blur_effect),
    "q_laplacian_var": ("variance of the luma Laplacian, low when blurred or flat", laplacian_variance),
    "q_sigma": ("estimated Gaussian noise sigma of luma, 0-255 units", noise_sigma),
    "q_blockiness": ("8x8 grid step / in-block step of luma, about 1 without JPEG blocking", blockiness),
    "q_clip_low": ("fraction of channel values at 0", None),
    "q_clip_high": ("fraction of channel values at 255", None),
    "q_luma": ("mean Rec. 601 luma, 0-1", None),
    "q_niqe": ("NIQE (Mittal et al. 2013), lower is more natural", niqe),
    "q_piqe": ("PIQE (Venkatanath et al. 2015), 0 best to 100 worst", piqe),
    "q_phash": ("64-bit perceptual hash, 16 hex digits", phash),
}
COLUMNS = tuple(MEASURES)
LUMA_MEASURES = frozenset({"q_blur", "q_laplacian_var", "q_sigma", "q_blockiness"})  # take the luma computed once
FLOAT_COLUMNS = tuple(name for name in COLUMNS if name != "q_phash")


def score_image(rgb: np.ndarray) -> Score:
    """Every measure of an HxWx3 uint8 RGB image, keyed by :data:`COLUMNS` in that order."""
    rgb = as_rgb8(rgb)
    y = luma(rgb)
    exp = exposure(rgb, y=y)
    filled = {"q_clip_low": exp.clip_low, "q_clip_high": exp.clip_high, "q_luma": exp.luma}
    return {name: filled[name] if fn is None else fn(rgb, y=y) if name in LUMA_MEASURES else fn(rgb)
            for name, (_, fn) in MEASURES.items()}
