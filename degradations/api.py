"""The four calls most users need: :func:`sample_params`, :func:`degrade`, :func:`compose` and :func:`replay`.

Sampling uses each type's newest version; replaying asks the registry for the version a params dict
records (:func:`degradations.registry.for_record`), so records from any earlier version still replay bit
for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .base import Result, check_severity
from .color import to_rgb8
from .registry import for_record, get

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
    return {"name": deg.name, "severity": severity, "version": deg.version, **sampled}


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
            result = for_record(step).apply(current, step)
            current = result.lq
            maps.update(result.maps)
        return Result(lq=current, maps=maps)
    return for_record(params).apply(img, params)
