"""Structural checks on a params record from someone else, before :func:`degradations.replay` runs it.

A manifest's ``params`` decides what replay computes, so a crafted one could ask for ten thousand steps,
an unknown type or version, or JSON nested a million deep. :func:`check_replayable` refuses those with
one line (``ValueError``); :func:`parse_replayable` does the same for the raw JSON text, bounding its
size before parsing. Numeric ranges (a kernel size, a drop count, a resize factor) are *not* checked
here, type by type: that would duplicate every type's sampler and go stale. What they cost is bounded
by running the replay in a child process with a time and memory limit
(:func:`pipelines.common.bounded.run_bounded`).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from . import wild
from .api import replay
from .registry import NAMES, canonical_name, versions

__all__ = ["MAX_DEPTH", "MAX_NODES", "MAX_TEXT_CHARS", "check_replayable", "parse_replayable", "replay_lq"]

MAX_TEXT_CHARS = 256 * 1024  # real records are at most a few KiB (a 10-step compose about 10 KiB)
MAX_DEPTH = 12  # real records nest 4 deep (wild chain: record -> steps -> step -> noise options)
MAX_NODES = 20_000  # values of every kind, containers included
COMPOSE = "compose"


def parse_replayable(text: str) -> dict[str, Any]:
    """The params record in ``text``, checked by :func:`check_replayable`; ValueError with one line."""
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"params JSON is {len(text)} characters; at most {MAX_TEXT_CHARS}")
    try:
        params = json.loads(text)
    except RecursionError:
        raise ValueError(f"params JSON nests too deeply (at most {MAX_DEPTH} levels)") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"params is not valid JSON ({exc})") from None
    check_replayable(params)
    return params


def check_replayable(params: Any) -> None:
    """Raise ValueError (one line) unless ``params`` is a record :func:`degradations.replay` knows.

    Bounded size and nesting; a single type: a known name and version; ``compose``: at most
    ``len(NAMES)`` steps, each a known type and version; the wild chain: a known version and at most
    :data:`wild.MAX_STEPS` steps of its own operations.
    """
    _check_shape(params)
    if not isinstance(params, dict):
        raise ValueError(f"params is a JSON {_kind(params)}, not an object")
    if params.get("name") != COMPOSE:
        _check_type(params, "params")
        return
    steps = params.get("steps")
    wild_chain = params.get("chain") == wild.CHAIN
    if "chain" in params and not wild_chain:
        raise ValueError(f"unknown compose chain {params['chain']!r}; known: {wild.CHAIN!r}")
    most = wild.MAX_STEPS if wild_chain else len(NAMES)
    what = "wild chain" if wild_chain else "compose record"
    if not isinstance(steps, list) or not steps:
        raise ValueError(f"{what} needs a non-empty list of steps")
    if len(steps) > most:
        raise ValueError(f"{what} has {len(steps)} steps; at most {most}")
    if wild_chain:
        _check_version(params, wild.VERSION, what)
    for number, step in enumerate(steps, 1):
        where = f"{what} step {number}"
        if not isinstance(step, dict):
            raise ValueError(f"{where} is a JSON {_kind(step)}, not an object")
        if wild_chain:
            if step.get("name") not in wild.OPERATIONS:
                raise ValueError(f"{where}: unknown operation {step.get('name')!r}; "
                                 f"known: {', '.join(wild.OPERATIONS)}")
        else:
            _check_type(step, where)


def replay_lq(img: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """Check ``params``, then replay it on ``img``: the LQ image only (what a bounded child sends back)."""
    check_replayable(params)
    return replay(img, params).lq


def _check_type(record: dict[str, Any], where: str) -> None:
    name = record.get("name")
    if not isinstance(name, str):
        raise ValueError(f"{where} has no degradation name")
    try:
        full = canonical_name(name)
    except ValueError:
        raise ValueError(f"{where}: unknown degradation type {name[:40]!r}; known: {', '.join(NAMES)}") from None
    _check_version(record, versions(full)[-1], f"{where} ({full})")


def _check_version(record: dict[str, Any], newest: int, where: str) -> None:
    version = record.get("version", 1)  # records written before versions existed replay as version 1
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= newest:
        raise ValueError(f"{where}: unknown version {repr(version)[:20]}; known: 1..{newest}")


def _check_shape(value: Any) -> None:
    """Bounded nesting and size, walked without recursion (a deep record must not overflow the stack)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    nodes = chars = 0
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if depth > MAX_DEPTH:
            raise ValueError(f"params nests more than {MAX_DEPTH} levels deep")
        if nodes > MAX_NODES:
            raise ValueError(f"params holds more than {MAX_NODES} values")
        if isinstance(item, dict):
            for key, child in item.items():
                chars += len(str(key))
                stack.append((child, depth + 1))
        elif isinstance(item, (list, tuple)):
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            chars += len(item)
        if chars > MAX_TEXT_CHARS:
            raise ValueError(f"params holds more than {MAX_TEXT_CHARS} characters of text")


def _kind(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number")
