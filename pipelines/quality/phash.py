"""Perceptual hash (DCT pHash through ``imagehash``) and the Hamming distance between two."""

from __future__ import annotations

import numpy as np

from .color import as_rgb8

__all__ = ["HASH_BITS", "hamming", "phash"]

HASH_BITS = 64


def phash(rgb: np.ndarray) -> str:
    """64-bit pHash as 16 lowercase hex digits (``imagehash.phash``: 32x32 grey, DCT, 8x8 low
    frequencies against their median)."""
    import imagehash
    from PIL import Image

    return str(imagehash.phash(Image.fromarray(as_rgb8(rgb))))


def hamming(a: str, b: str) -> int:
    """Number of differing bits between two hex hashes of the same length."""
    if len(a) != len(b):
        raise ValueError(f"hashes of different lengths: {a!r}, {b!r}")
    return (int(a, 16) ^ int(b, 16)).bit_count()
