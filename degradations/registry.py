"""Names, aliases and the lazy registry of the ten DA-CLIP degradation types.

Implementations are imported on first use, so ``import degradations`` stays cheap and a
broken optional type never stops the others from loading.
"""

from __future__ import annotations

import importlib

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

_IMPLEMENTATIONS: dict[str, str] = {
    "motion-blurry": "degradations.motion_blurry:MotionBlurry",
    "hazy": "degradations.hazy:Hazy",
    "jpeg-compressed": "degradations.jpeg_compressed:JpegCompressed",
    "low-light": "degradations.low_light:LowLight",
    "noisy": "degradations.noisy:Noisy",
    "raindrop": "degradations.raindrop:Raindrop",
    "rainy": "degradations.rainy:Rainy",
    "shadowed": "degradations.shadowed:Shadowed",
    "snowy": "degradations.snowy:Snowy",
    "uncompleted": "degradations.uncompleted:Uncompleted",
}

_INSTANCES: dict[str, Degradation] = {}


def canonical_name(name: str) -> str:
    """Return DA-CLIP's spelling for ``name`` (a full name or a short alias, any case)."""
    key = name.strip().lower().replace("_", "-")
    if key in _IMPLEMENTATIONS:
        return key
    compact = key.replace("-", "").replace(" ", "")
    if compact in ALIASES:
        return ALIASES[compact]
    for full in NAMES:
        if full.replace("-", "") == compact:
            return full
    valid = ", ".join(NAMES) + "; aliases: " + ", ".join(ALIASES)
    raise ValueError(f"unknown degradation {name!r}; valid names: {valid}")


def get(name: str) -> Degradation:
    """Return the degradation object for a name or alias (created once, stateless)."""
    full = canonical_name(name)
    if full not in _INSTANCES:
        module_name, class_name = _IMPLEMENTATIONS[full].split(":")
        cls = getattr(importlib.import_module(module_name), class_name)
        _INSTANCES[full] = cls()
    return _INSTANCES[full]


def index_of(name: str) -> int:
    """Position of a degradation in :data:`NAMES` (the class index used by the models)."""
    return NAMES.index(canonical_name(name))
