"""Structural checks on params from someone else: real records pass, crafted ones get one line."""

from __future__ import annotations

import json

import numpy as np
import pytest

import degradations
from degradations import NAMES, wild
from degradations.mixtures import sample_chain
from degradations.replayable import MAX_DEPTH, MAX_TEXT_CHARS, check_replayable, parse_replayable, replay_lq

SHAPE = (32, 40, 3)


def real_records() -> list[dict]:
    rng = np.random.default_rng(0)
    singles = [degradations.sample_params(name, rng, SHAPE, "heavy") for name in NAMES]
    return [*singles, sample_chain(rng, list(NAMES), SHAPE, "medium"), wild.sample(rng, SHAPE)]


def test_real_records_pass_and_replay():
    for record in real_records():
        check_replayable(record)
        parse_replayable(json.dumps(record))
    img = np.random.default_rng(1).integers(0, 256, SHAPE, dtype=np.uint8)
    lq, params = degradations.degrade(img, "noisy", seed=3)
    assert np.array_equal(replay_lq(img, params), lq)


def refusal(params) -> str:
    with pytest.raises(ValueError) as caught:
        check_replayable(params)
    text = str(caught.value)
    assert "\n" not in text and len(text) < 300
    return text


def test_crafted_records_are_refused_with_one_line():
    noisy = degradations.sample_params("noisy", np.random.default_rng(0), SHAPE)
    chain = wild.sample(np.random.default_rng(0), SHAPE)
    assert refusal({"name": "compose", "steps": [noisy] * (len(NAMES) + 1)}) == \
        f"compose record has {len(NAMES) + 1} steps; at most {len(NAMES)}"
    assert refusal({**chain, "steps": chain["steps"] * 20}).startswith("wild chain has")
    assert "unknown operation 'hazy'" in refusal({**chain, "steps": [{"name": "hazy"}]})
    assert "unknown version 2" in refusal({**chain, "version": 2})
    assert "unknown degradation type 'nope'" in refusal({"name": "nope"})
    assert "unknown version 9" in refusal({**noisy, "version": 9})
    assert "unknown version True" in refusal({**noisy, "version": True})
    assert "step 2: unknown degradation type 'compose'" in refusal({"name": "compose", "steps": [noisy, {
        "name": "compose", "steps": [noisy]}]})
    assert refusal({"name": "compose", "steps": []}) == "compose record needs a non-empty list of steps"
    assert refusal([noisy]) == "params is a JSON array, not an object"
    nested: dict = {"name": "noisy"}
    for _ in range(MAX_DEPTH):
        nested = {"name": "noisy", "x": nested}
    assert refusal(nested) == f"params nests more than {MAX_DEPTH} levels deep"


def test_raw_text_is_bounded_before_parsing():
    with pytest.raises(ValueError, match="nests too deeply"):
        parse_replayable("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match=f"characters; at most {MAX_TEXT_CHARS}"):
        parse_replayable(json.dumps({"name": "noisy", "pad": "x" * MAX_TEXT_CHARS}))
    with pytest.raises(ValueError, match="not valid JSON"):
        parse_replayable("{")
