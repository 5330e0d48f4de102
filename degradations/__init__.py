"""Ten faithful, reproducible DA-CLIP degradation types.

Pure numpy/OpenCV: arrays in, arrays plus a JSON-able params dict out. No file I/O, no torch,
no global RNG.

>>> lq, params = degrade(img, "rain", seed=0, severity="medium")
>>> replay(img, params).lq  # bit-identical to lq

Every params dict carries ``name`` (DA-CLIP's spelling), ``severity`` and ``version`` next to
the type's own sampled values; ``replay`` turns it back into the same LQ image.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .base import SEVERITIES, Degradation, DegradationResult, Result, check_severity
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

COMPOSE_NAME = "compose"


def sample_params(
    name: str, rng: np.random.Generator, shape: tuple[int, ...], severity: str = "medium"
) -> dict[str, Any]:
    """Sample a full, replayable params dict for one type (``name``/``severity``/``version`` included)."""
    check_severity(severity)
    deg = get(name)
    sampled = deg.sample(rng, tuple(shape), severity)
    reserved = {"name", "severity", "version"} & set(sampled)
    if reserved:
        raise RuntimeError(f"{deg.name}.sample returned reserved keys {sorted(reserved)}")
    return {"name": deg.name, "severity": severity, "version": getattr(deg, "version", 1), **sampled}


def degrade(
    img: np.ndarray, name: str, seed: int = 0, severity: str = "medium"
) -> tuple[np.ndarray, dict[str, Any]]:
    """Degrade one image: returns ``(lq, params)``; ``replay(img, params)`` reproduces ``lq``."""
    img = to_rgb8(img)
    params = sample_params(name, np.random.default_rng(seed), img.shape, severity)
    return get(name).apply(img, params).lq, params


def compose(
    img: np.ndarray,
    names: Sequence[str],
    seed: int = 0,
    severity: str | Sequence[str] = "medium",
) -> tuple[np.ndarray, dict[str, Any]]:
    """Chain several types in order (e.g. blur -> noise -> jpeg) and record every step's params.

    ``severity`` is one preset for all steps or one per step. Returns ``(lq, params)`` with
    ``params = {"name": "compose", "steps": [...]}``, which :func:`replay` accepts.
    """
    if not names:
        raise ValueError("compose needs at least one degradation name")
    severities = [severity] * len(names) if isinstance(severity, str) else list(severity)
    if len(severities) != len(names):
        raise ValueError("give one severity, or one per degradation")
    rng = np.random.default_rng(seed)
    current = to_rgb8(img)
    steps = []
    for step_name, step_severity in zip(names, severities):
        params = sample_params(step_name, rng, current.shape, step_severity)
        current = get(step_name).apply(current, params).lq
        steps.append(params)
    return current, {"name": COMPOSE_NAME, "steps": steps}


def replay(img: np.ndarray, params: dict[str, Any]) -> Result:
    """Re-apply a recorded params dict (single type, ``compose``, or the wild chain) to the clean image."""
    img = to_rgb8(img)
    if params.get("name") == COMPOSE_NAME and params.get("chain") == "wild":
        from . import wild

        return wild.apply(img, params)
    if params.get("name") == COMPOSE_NAME:
        maps: dict[str, np.ndarray] = {}
        current = img
        for step in params["steps"]:
            result = get(step["name"]).apply(current, step)
            current = result.lq
            maps.update(result.maps)
        return Result(lq=current, maps=maps)
    return get(params["name"]).apply(img, params)
