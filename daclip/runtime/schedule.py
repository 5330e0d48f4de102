"""The learning-rate schedule both trainers use."""

from __future__ import annotations

import math
from collections.abc import Callable


def warmup_cosine(total: int, warmup: int = 0, min_ratio: float = 0.0) -> Callable[[int], float]:
    """LR multiplier for ``LambdaLR``: linear warmup over ``warmup`` steps, then cosine from 1 down
    to ``min_ratio`` at step ``total``."""

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor
