"""Per-sample seeds that do not depend on processing order or worker count."""

from __future__ import annotations

import hashlib

import numpy as np

from .registry import index_of


def _id_to_int(image_id: str | int) -> int:
    if isinstance(image_id, int):
        return image_id & (2**64 - 1)
    text = str(image_id)
    try:  # a hex content hash (e.g. sha256) is used directly
        if len(text) >= 16:
            return int(text[:16], 16)
    except ValueError:
        pass
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:16], 16)


def sub_seed(global_seed: int, image_id: str | int, degradation: str, variant: int = 0) -> int:
    """Seed for one (global seed, image, degradation, variant) sample, in [0, 2**63).

    Built with :class:`numpy.random.SeedSequence`, so nearby inputs give unrelated streams.
    ``image_id`` is usually the clean image's sha256 hex digest.
    """
    return keyed_seed(global_seed, image_id, index_of(degradation), variant)


def keyed_seed(global_seed: int, image_id: str | int, key: int, variant: int = 0) -> int:
    """The seed of :func:`sub_seed` for any integer ``key`` (a type's index, or a mixture task's tag)."""
    if global_seed < 0 or variant < 0:
        raise ValueError("global_seed and variant must be non-negative")
    seq = np.random.SeedSequence([int(global_seed), _id_to_int(image_id), int(key), int(variant)])
    return int(seq.generate_state(1, np.uint64)[0] >> np.uint64(1))
