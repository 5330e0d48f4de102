"""What a run shows while it trains: the progress bar and the window of step statistics that
becomes a ``metrics.jsonl`` row every ``--log-every`` steps."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any


@dataclass
class MetricWindow:
    """Sums of the per-step statistics a task reports, since the last logged row."""

    sums: dict[str, float] = field(default_factory=dict)
    steps: int = 0
    seconds: float = 0.0

    def add(self, stats: dict[str, float]) -> None:
        for name, value in stats.items():
            self.sums[name] = self.sums.get(name, 0.0) + value

    def tick(self, seconds: float) -> None:
        self.steps += 1
        self.seconds += seconds

    def reset(self) -> None:
        self.sums, self.steps, self.seconds = {}, 0, 0.0

    def rates(self, samples_per_step: int) -> dict[str, float]:
        if not self.seconds:
            return {"samples_per_s": 0.0, "steps_per_s": 0.0}
        return {
            "samples_per_s": round(self.steps * samples_per_step / self.seconds, 2),
            "steps_per_s": round(self.steps / self.seconds, 4),
        }


def progress_bar(name: str, total: int, start: int, enabled: bool) -> Any:
    """A tqdm bar with rate and ETA on stderr, or None when disabled (other ranks, tests)."""
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=start, desc=name, unit="step", dynamic_ncols=True, file=sys.stderr)


def say(bar: Any, log: Any, text: str) -> None:
    """A line above the progress bar (or to the log when there is none), on stderr like the bar:
    stdout carries only a command's result (the trainers' JSON summary)."""
    if bar is not None:
        bar.write(text, file=sys.stderr)
    else:
        log.info(text)
