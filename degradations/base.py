"""The contract every degradation type follows, and small shared helpers.

A type is a plain class with ``name``, ``version``, ``ranges`` (the documented parameter ranges per
severity), ``sample(rng, shape, severity) -> dict`` and ``apply(img, params) -> Result``.
``sample`` draws every random value (JSON scalars, plus an integer ``seed`` for large random
fields); ``apply`` is pure and deterministic given ``params``, so a recorded params dict
replays the LQ image bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

SEVERITIES: tuple[str, ...] = ("light", "medium", "heavy", "random")


@dataclass(frozen=True)
class Result:
    """Output of :meth:`Degradation.apply`.

    ``lq`` is HxWx3 uint8, pixel-aligned with the input. ``maps`` holds side outputs:
    image-sized ``uint8`` maps (``mask``, ``matte``, ``rain``, ``snow``: 0..255), image-sized
    ``float32`` maps in [0, 1] (``transmission``) and small ``float32`` arrays (``kernel``).
    """

    lq: np.ndarray
    maps: dict[str, np.ndarray] = field(default_factory=dict)


DegradationResult = Result


@runtime_checkable
class Degradation(Protocol):
    name: str
    version: int  # of the params it samples and replays; the registry keys types by (name, version)
    ranges: dict[str, dict[str, Any]]

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...], severity: str) -> dict[str, Any]: ...

    def apply(self, img: np.ndarray, params: dict[str, Any]) -> Result: ...


def check_severity(severity: str) -> str:
    if severity not in SEVERITIES:
        raise ValueError(f"unknown severity {severity!r}; valid: {', '.join(SEVERITIES)}")
    return severity


def draw_seed(rng: np.random.Generator) -> int:
    """An integer seed for large random fields, small enough for int64 columns and JSON."""
    return int(rng.integers(0, 2**63 - 1))


def draw(rng: np.random.Generator, bounds: Any) -> float:
    """Draw a float uniformly from ``(lo, hi)``, or return a fixed scalar as a float."""
    if isinstance(bounds, (tuple, list)):
        lo, hi = bounds
        return float(rng.uniform(lo, hi)) if hi > lo else float(lo)
    return float(bounds)


def draw_int(rng: np.random.Generator, bounds: Any) -> int:
    """Draw an integer uniformly from the inclusive ``(lo, hi)``, or return a fixed one."""
    if isinstance(bounds, (tuple, list)):
        lo, hi = bounds
        return int(rng.integers(int(lo), int(hi) + 1))
    return int(bounds)


def log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def choose(rng: np.random.Generator, options: dict[str, float] | list[str] | tuple[str, ...]) -> str:
    """Pick one option; a dict maps options to probabilities."""
    if isinstance(options, dict):
        keys = list(options)
        p = np.asarray([options[k] for k in keys], dtype=np.float64)
        return keys[int(rng.choice(len(keys), p=p / p.sum()))]
    return list(options)[int(rng.integers(len(options)))]
