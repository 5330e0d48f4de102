"""Mixtures of degradation types: the ordering rule, sampling, CDD-11 and the per-task seeds. Pure (no I/O).

**Ordering rule** (the order a mixture is applied in, which is also its label order): first the scene
and the atmosphere (``shadowed``, ``hazy``, ``rainy``, ``snowy``), then what sits on the lens
(``raindrop``), then the camera (``low-light`` exposure, ``motion-blurry``, sensor ``noisy``), then
storage (``jpeg-compressed``); ``uncompleted`` (an inpainting mask, not a capture degradation) is
last and left out of sampled mixtures unless ``--mix-from`` names it.

**Excluded pairs**: ``rainy`` with ``snowy`` (one kind of precipitation per shot; neither DA-CLIP nor
CDD-11 combines them). Everything else may combine.

**Tasks** (the ``--task`` of ``synthesize``): a single type (``rainy``); an explicit mixture written
``a+b+c``, applied in the order written; ``mix``: a mixture drawn per sample (size from
``--mix-size``, types from ``--mix-from``, applied in the ordering rule); ``wild``: the
:mod:`degradations.wild` chain; ``cdd11``: shorthand for the eleven CDD-11 tasks (:data:`CDD11`).

Every mixture sample's params is a compose record (``{"name": "compose", "steps": [...]}``) that
:func:`degradations.replay` turns back into the LQ image bit for bit; ``mix`` adds the pool and sizes
it drew from under ``"mixture"``.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from . import wild
from .api import sample_params
from .base import check_severity
from .labels import MIXTURE_SEP, join_label, split_label

__all__ = ["CDD11", "CDD11_TASK", "DEFAULT_POOL", "DEFAULT_SIZES", "EXCLUDED_PAIRS", "MIX", "ORDER", "STAGES", "WILD",
           "canonical_task", "check_mix", "combinations", "excluded_pair", "follows_rule", "is_sampled", "label_of",
           "ordered", "parse_pool", "parse_sizes", "sample_chain", "sample_mixture", "sample_task", "split_label",
           "task_label", "task_seed", "task_version"]
from .registry import NAMES, canonical_name, get
from .seeding import keyed_seed, sub_seed

MIX = "mix"
WILD = "wild"
CDD11_TASK = "cdd11"

ORDER: tuple[str, ...] = (
    "shadowed", "hazy", "rainy", "snowy",  # scene and atmosphere
    "raindrop",  # on the lens
    "low-light", "motion-blurry", "noisy",  # the camera
    "jpeg-compressed",  # storage
    "uncompleted",  # an inpainting mask: always last
)
STAGES: dict[str, str] = {
    "shadowed": "scene", "hazy": "scene", "rainy": "scene", "snowy": "scene", "raindrop": "lens",
    "low-light": "camera", "motion-blurry": "camera", "noisy": "camera", "jpeg-compressed": "storage",
    "uncompleted": "mask",
}
EXCLUDED_PAIRS: frozenset[frozenset[str]] = frozenset({frozenset({"rainy", "snowy"})})
DEFAULT_POOL: tuple[str, ...] = tuple(name for name in ORDER if name != "uncompleted")
DEFAULT_SIZES: tuple[int, int] = (2, 3)

# CDD-11 (Guo et al., "OneRestore", ECCV 2024): its eleven combinations, each in the ordering rule
CDD11: tuple[str, ...] = (
    "low-light", "hazy", "rainy", "snowy",
    "hazy+low-light", "rainy+low-light", "snowy+low-light", "hazy+rainy", "hazy+snowy",
    "hazy+rainy+low-light", "hazy+snowy+low-light",
)

assert set(ORDER) == set(NAMES) == set(STAGES)


def ordered(names: Iterable[str]) -> tuple[str, ...]:
    """Canonical names sorted by the ordering rule (aliases accepted)."""
    return tuple(sorted({canonical_name(n) for n in names}, key=ORDER.index))


def excluded_pair(names: Iterable[str]) -> frozenset[str] | None:
    """The first excluded pair among ``names``, if any."""
    present = {canonical_name(n) for n in names}
    return next((pair for pair in sorted(EXCLUDED_PAIRS, key=sorted) if pair <= present), None)


def follows_rule(names: Sequence[str]) -> bool:
    """True when ``names`` is in the ordering rule's order and holds no excluded pair."""
    return tuple(names) == ordered(names) and len(set(names)) == len(names) and excluded_pair(names) is None


def parse_sizes(text: str | int | Sequence[int]) -> tuple[int, int]:
    """``"2-3"`` -> ``(2, 3)``; ``"2"`` or ``2`` -> ``(2, 2)``. Sizes are at least 2."""
    if isinstance(text, (tuple, list)):
        lo, hi = (int(text[0]), int(text[-1]))
    else:
        parts = str(text).replace(" ", "").split("-")
        try:
            values = [int(p) for p in parts]
        except ValueError:
            raise ValueError(f"--mix-size {text!r}: give a number or a range such as 2-3") from None
        if len(values) not in (1, 2):
            raise ValueError(f"--mix-size {text!r}: give a number or a range such as 2-3")
        lo, hi = values[0], values[-1]
    if lo < 2 or hi < lo:
        raise ValueError(f"--mix-size {text!r}: sizes must be at least 2 and low <= high")
    return lo, hi


def parse_pool(names: str | Iterable[str] | None) -> tuple[str, ...]:
    """``--mix-from``: comma-separated names or aliases -> canonical names in the ordering rule;
    ``None`` -> :data:`DEFAULT_POOL`."""
    if names is None:
        return DEFAULT_POOL
    parts = names.split(",") if isinstance(names, str) else [p for n in names for p in str(n).split(",")]
    pool = ordered(p.strip() for p in parts if p.strip())
    if len(pool) < 2:
        raise ValueError("--mix-from needs at least two types")
    return pool


def combinations(pool: Sequence[str], size: int) -> list[tuple[str, ...]]:
    """Every allowed mixture of ``size`` types from ``pool``, each in the ordering rule."""
    return [combo for combo in itertools.combinations(ordered(pool), size) if excluded_pair(combo) is None]


def check_mix(pool: Sequence[str], sizes: tuple[int, int]) -> None:
    """Refuse a pool/size setting that allows no mixture of some size."""
    for size in range(sizes[0], sizes[1] + 1):
        if not combinations(pool, size):
            raise ValueError(f"--mix-from {','.join(pool)} allows no mixture of {size} types "
                             f"(excluded pairs: {', '.join('+'.join(sorted(p)) for p in EXCLUDED_PAIRS)})")


def sample_mixture(rng: np.random.Generator, pool: Sequence[str] = DEFAULT_POOL,
                   sizes: tuple[int, int] = DEFAULT_SIZES) -> tuple[str, ...]:
    """A mixture: its size uniform in ``sizes``, then uniform over the allowed combinations of that size."""
    size = int(rng.integers(sizes[0], sizes[1] + 1))
    options = combinations(pool, size)
    if not options:
        raise ValueError(f"no allowed mixture of {size} types from {', '.join(pool)}")
    return options[int(rng.integers(len(options)))]


def sample_chain(rng: np.random.Generator, names: Sequence[str], shape: tuple[int, ...],
                 severity: str = "medium") -> dict[str, Any]:
    """The compose record of ``names`` applied in order (what :func:`degradations.compose` records
    for the same generator: every type keeps the image size, so steps can be drawn up front)."""
    check_severity(severity)
    return {"name": "compose", "steps": [sample_params(name, rng, shape, severity) for name in names]}


# ------------------------------------------------------------------ tasks


def is_sampled(task: str) -> bool:
    """True for tasks whose label is drawn per sample (``mix``, ``wild``)."""
    return task in (MIX, WILD)


def canonical_task(task: str) -> str:
    """A task's canonical spelling: a type or ``a+b`` mixture (aliases resolved), ``mix`` or ``wild``.

    ``cdd11`` and ``all`` are lists of tasks, expanded by the caller. Raises ValueError for an
    unknown name, a repeated type or an excluded pair.
    """
    text = str(task).strip()
    if text.lower() in (MIX, WILD):
        return text.lower()
    parts = split_label(text)
    if not parts:
        raise ValueError(f"{task!r} is not a degradation task")
    pair = excluded_pair(parts)
    if pair is not None:
        raise ValueError(f"task {task!r} combines {' and '.join(sorted(pair))}, an excluded pair")
    return join_label(parts)


def task_label(task: str) -> str | None:
    """The label every sample of ``task`` gets; None for ``mix``/``wild`` (drawn per sample)."""
    return None if is_sampled(task) else join_label(split_label(task))


def task_version(task: str) -> Any:
    """What pins the algorithms of a task: a type's version, each part's for a mixture, the wild
    chain's for ``wild``, every pooled type's for ``mix``."""
    if task == WILD:
        return {"wild": wild.VERSION}
    if task == MIX:
        return {name: get(name).version for name in NAMES}
    parts = split_label(task)
    if len(parts) == 1:
        return get(parts[0]).version
    return {name: get(name).version for name in parts}


def task_seed(global_seed: int, image_id: str | int, task: str, variant: int = 0) -> int:
    """Per-sample seed: :func:`degradations.sub_seed` for a single type (unchanged, so single-type
    datasets keep their bytes); for a mixture, ``mix`` or ``wild`` a SeedSequence keyed by a hash
    of the task string (never equal to a single type's key)."""
    if MIXTURE_SEP not in task and not is_sampled(task):
        return sub_seed(global_seed, image_id, task, variant)
    tag = len(NAMES) + int(hashlib.sha256(task.encode("utf-8")).hexdigest()[:15], 16)
    return keyed_seed(global_seed, image_id, tag, variant)


def sample_task(task: str, rng: np.random.Generator, shape: tuple[int, ...], severity: str = "medium",
                pool: Sequence[str] = DEFAULT_POOL, sizes: tuple[int, int] = DEFAULT_SIZES) -> dict[str, Any]:
    """Full, replayable params of one sample of ``task`` (a type's own params for a single type)."""
    if task == WILD:
        return wild.sample(rng, shape)
    if task == MIX:
        names = sample_mixture(rng, pool, sizes)
        record = sample_chain(rng, names, shape, severity)
        record["mixture"] = {"from": list(pool), "size": [int(sizes[0]), int(sizes[1])]}
        return record
    parts = split_label(task)
    if len(parts) == 1:
        return sample_params(parts[0], rng, shape, severity)
    return sample_chain(rng, parts, shape, severity)


def label_of(params: dict[str, Any]) -> str:
    """The label of a params record: the type, the steps joined by ``+``, or the wild chain's label."""
    if params.get("name") != "compose":
        return canonical_name(params["name"])
    if params.get("chain") == wild.CHAIN:
        return params["label"]
    return join_label(step["name"] for step in params["steps"])
