"""Ten faithful, reproducible DA-CLIP degradation types.

Pure numpy/OpenCV: arrays in, arrays plus a JSON-able params dict out. No file I/O, no torch,
no global RNG.

>>> lq, params = degrade(img, "rain", seed=0, severity="medium")
>>> replay(img, params).lq  # bit-identical to lq

Every params dict carries ``name`` (DA-CLIP's spelling), ``severity`` and ``version`` next to
the type's own sampled values; ``replay`` turns it back into the same LQ image, with the renderer
of the recorded version (:mod:`degradations.registry`).
"""

from __future__ import annotations

from .api import compose, degrade, replay, sample_params
from .base import SEVERITIES, Degradation, DegradationResult, Result
from .color import psnr, to_rgb8
from .registry import ALIASES, NAMES, canonical_name, get, index_of
from .seeding import sub_seed

__all__ = [
    "ALIASES",
    "NAMES",
    "SEVERITIES",
    "Degradation",
    "DegradationResult",
    "Result",
    "canonical_name",
    "compose",
    "degrade",
    "get",
    "index_of",
    "psnr",
    "replay",
    "sample_params",
    "sub_seed",
    "to_rgb8",
]
