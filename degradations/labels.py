"""Sample labels: one type, a mixture of types, or ``unknown``.

A label is the ``degradation`` string of a manifest row: a canonical name (``rainy``), a mixture of
canonical names joined by ``+`` in the order they were applied (``low-light+hazy+rainy``), or
``unknown`` for a real photo whose type nobody recorded (an LQ-only folder not named after a type).
:func:`split_label` turns it into the tuple of types (empty for ``unknown``), which is what multi-label
training and evaluation read; :func:`join_label` is its inverse.
"""

from __future__ import annotations

from collections.abc import Iterable

from .registry import NAMES, canonical_name

MIXTURE_SEP = "+"
UNKNOWN = "unknown"


def split_label(label: str) -> tuple[str, ...]:
    """``"low-light+hazy"`` -> ``("low-light", "hazy")``; aliases are canonicalised; ``unknown`` -> ``()``.

    Raises ValueError for an unknown part or a type repeated within one label.
    """
    text = str(label).strip()
    if text.lower() == UNKNOWN:
        return ()
    parts = tuple(canonical_name(part) for part in text.split(MIXTURE_SEP))
    if len(set(parts)) != len(parts):
        raise ValueError(f"label {label!r} names a type twice")
    return parts


def join_label(names: Iterable[str]) -> str:
    """Canonical label for types applied in this order; no types -> ``unknown``."""
    parts = tuple(canonical_name(name) for name in names)
    return MIXTURE_SEP.join(parts) if parts else UNKNOWN


def multi_hot(label: str) -> list[float]:
    """One float per type of :data:`NAMES`: 1.0 for each type in ``label``, else 0.0."""
    present = set(split_label(label))
    return [1.0 if name in present else 0.0 for name in NAMES]


def is_mixture(label: str) -> bool:
    return len(split_label(label)) > 1
