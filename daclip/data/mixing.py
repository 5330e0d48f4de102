"""How degradation types share the training batches: one policy, chosen by ``--mix``.

Shards hold one degradation each, so trainers read one stream per type and interleave them:

* ``weighted``: each sample's type is drawn at random in proportion to the types' sample counts
  (batches mix types as the data set does);
* ``round-robin``: types take turns (each type equally often, whatever its size).

Two shapes of the same policy: :class:`StreamMixer` for a sequential stream (a DataLoader
worker's), :func:`types_for_step` for a batch that must be rebuilt from its step alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

POLICIES = ("weighted", "round-robin")


def _probabilities(weights: Sequence[float]) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    return w / float(np.sum(w))


def check_policy(policy: str) -> str:
    if policy not in POLICIES:
        raise ValueError(f"unknown mixing policy {policy!r}; valid: {', '.join(POLICIES)}")
    return policy


class StreamMixer:
    """Index of the stream each next sample comes from."""

    def __init__(self, policy: str, weights: Sequence[float], rng: np.random.Generator):
        self.policy = check_policy(policy)
        self.p = _probabilities(weights)
        self.rng = rng
        self.count = 0

    def next(self) -> int:
        n = len(self.p)
        if self.policy == "weighted":
            return int(self.rng.choice(n, p=self.p))
        index = self.count % n
        self.count += 1
        return index


def types_for_step(policy: str, step: int, batch_size: int, weights: Sequence[float],
                   rng: np.random.Generator | None = None) -> list[int]:
    """Stream index of each sample of step ``step``'s batch (``rng`` seeded from the step for weighted)."""
    n = len(weights)
    if check_policy(policy) == "round-robin":
        return [(step * batch_size + i) % n for i in range(batch_size)]
    if rng is None:
        raise ValueError("the weighted policy needs a generator seeded from the step")
    return [int(i) for i in rng.choice(n, size=batch_size, p=_probabilities(weights))]
