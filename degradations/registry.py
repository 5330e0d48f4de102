"""Names, aliases and the lazy registry of the ten DA-CLIP degradation types, keyed by ``(name, version)``.

Every params dict records the ``version`` of the algorithm that drew it; replaying it needs that
version's renderer. This registry is the one place that maps ``(name, version)`` to an implementation:
:func:`get` without a version gives the newest (what new samples use), :func:`for_record` the one a
recorded params dict names (records from before versions existed are version 1). Earlier versions
live in ``degradations/legacy/``.

Implementations are imported on first use, so ``import degradations`` stays cheap and a
broken optional type never stops the others from loading.
"""

from __future__ import annotations

import importlib
from typing import Any

from .base import Degradation

NAMES: tuple[str, ...] = (
    "motion-blurry",
    "hazy",
    "jpeg-compressed",
    "low-light",
    "noisy",
    "raindrop",
    "rainy",
    "shadowed",
    "snowy",
    "uncompleted",
)

ALIASES: dict[str, str] = {
    "blur": "motion-blurry",
    "haze": "hazy",
    "jpeg": "jpeg-compressed",
    "lowlight": "low-light",
    "noise": "noisy",
    "raindrop": "raindrop",
    "rain": "rainy",
    "shadow": "shadowed",
    "snow": "snowy",
    "inpaint": "uncompleted",
}

_IMPLEMENTATIONS: dict[tuple[str, int], str] = {
    ("motion-blurry", 1): "degradations.motion_blurry:MotionBlurry",
    ("hazy", 1): "degradations.hazy:Hazy",
    ("jpeg-compressed", 1): "degradations.jpeg_compressed:JpegCompressed",
    ("low-light", 1): "degradations.legacy.low_light_v1:LowLightV1",
    ("low-light", 2): "degradations.low_light:LowLight",
    ("noisy", 1): "degradations.noisy:Noisy",
    ("raindrop", 1): "degradations.legacy.raindrop_v1:RaindropV1",
    ("raindrop", 2): "degradations.raindrop:Raindrop",
    ("rainy", 1): "degradations.legacy.rainy_v1:RainyV1",
    ("rainy", 2): "degradations.rainy:Rainy",
    ("shadowed", 1): "degradations.legacy.shadowed_v1:ShadowedV1",
    ("shadowed", 2): "degradations.shadowed:Shadowed",
    ("snowy", 1): "degradations.snowy:Snowy",
    ("uncompleted", 1): "degradations.uncompleted:Uncompleted",
}

_INSTANCES: dict[tuple[str, int], Degradation] = {}


def canonical_name(name: str) -> str:
    """Return DA-CLIP's spelling for ``name`` (a full name or a short alias, any case)."""
    key = name.strip().lower().replace("_", "-")
    if key in NAMES:
        return key
    compact = key.replace("-", "").replace(" ", "")
    if compact in ALIASES:
        return ALIASES[compact]
    for full in NAMES:
        if full.replace("-", "") == compact:
            return full
    valid = ", ".join(NAMES) + "; aliases: " + ", ".join(ALIASES)
    raise ValueError(f"unknown degradation {name!r}; valid names: {valid}")


def versions(name: str) -> tuple[int, ...]:
    """The params versions of a type that replay, oldest first (the last one is what new samples use)."""
    full = canonical_name(name)
    return tuple(sorted(version for kind, version in _IMPLEMENTATIONS if kind == full))


def get(name: str, version: int | None = None) -> Degradation:
    """The degradation object for a name or alias at ``version`` (default: the newest); created once, stateless."""
    full = canonical_name(name)
    key = (full, versions(full)[-1] if version is None else version)
    if key not in _IMPLEMENTATIONS:
        known = ", ".join(f"{kind} v{number}" for kind, number in _IMPLEMENTATIONS)
        raise ValueError(f"unknown version {version!r} of degradation {full!r}; known: {known}")
    if key not in _INSTANCES:
        module_name, class_name = _IMPLEMENTATIONS[key].split(":")
        instance = getattr(importlib.import_module(module_name), class_name)()
        if (instance.name, instance.version) != key:
            raise RuntimeError(f"{_IMPLEMENTATIONS[key]} is {instance.name} v{instance.version}, registered as {key}")
        _INSTANCES[key] = instance
    return _INSTANCES[key]


def for_record(params: dict[str, Any]) -> Degradation:
    """The implementation that replays a recorded params dict (records without a ``version`` are version 1)."""
    return get(params["name"], params.get("version", 1))


def index_of(name: str) -> int:
    """Position of a degradation in :data:`NAMES` (the class index used by the models)."""
    return NAMES.index(canonical_name(name))
