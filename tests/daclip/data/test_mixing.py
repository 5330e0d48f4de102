"""One degradation-mixing policy, in its sequential and its per-step shape."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from daclip.data.mixing import StreamMixer, types_for_step


def test_round_robin_takes_turns():
    mixer = StreamMixer("round-robin", [10, 1, 1], np.random.default_rng(0))
    assert [mixer.next() for _ in range(7)] == [0, 1, 2, 0, 1, 2, 0]
    assert types_for_step("round-robin", 3, 4, [5, 5, 5]) == [0, 1, 2, 0]  # samples 12..15 mod 3


def test_weighted_follows_the_counts():
    mixer = StreamMixer("weighted", [3, 1], np.random.default_rng(0))
    counts = Counter(mixer.next() for _ in range(4000))
    assert 0.70 < counts[0] / 4000 < 0.80
    step_counts = Counter(types_for_step("weighted", 0, 4000, [3, 1], np.random.default_rng(1)))
    assert 0.70 < step_counts[0] / 4000 < 0.80


def test_weighted_is_a_function_of_the_generator():
    a = types_for_step("weighted", 5, 16, [1, 2, 3], np.random.default_rng(42))
    b = types_for_step("weighted", 5, 16, [1, 2, 3], np.random.default_rng(42))
    assert a == b


def test_unknown_policy_is_refused():
    with pytest.raises(ValueError, match="round-robin"):
        StreamMixer("zigzag", [1], np.random.default_rng(0))
