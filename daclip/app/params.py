"""Parameter-range filters (``quality < 20, t_far < 0.3``) and per-type histograms of the main
parameter, over the params each manifest row records.

Params are JSON text per row; they are parsed only for the rows a filter or a summary looks at,
once each (cached), so opening a large manifest stays fast.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

__all__ = ["MAIN_PARAMS", "ParamTable", "parse_conditions", "sparkline"]

# the parameter that says most about each type's strength (top-level keys of its params)
MAIN_PARAMS = {
    "hazy": "t_far", "jpeg-compressed": "quality", "low-light": "ambient", "motion-blurry": "length", "noisy": "sigma",
    "raindrop": "defocus", "rainy": "angle", "shadowed": "coverage", "snowy": "angle", "uncompleted": "target_ratio",
}
OPS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "<=": operator.le, ">=": operator.ge, "==": operator.eq, "!=": operator.ne, "<": operator.lt, ">": operator.gt,
}
_CONDITION = re.compile(r"^\s*([A-Za-z_]\w*)\s*(<=|>=|==|!=|<|>)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")
_BARS = "▁▂▃▄▅▆▇█"

Condition = tuple[str, str, float]


def parse_conditions(text: str) -> list[Condition]:
    """``"quality < 20, t_far < 0.3"`` (commas or ``and``) -> ``[(name, op, value), ...]``."""
    parts = [p for p in re.split(r",|\band\b", text or "") if p.strip()]
    conditions = []
    for part in parts:
        match = _CONDITION.match(part)
        if match is None:
            raise ValueError(f"cannot read the condition {part.strip()!r}: write e.g. quality < 20, t_far < 0.3")
        conditions.append((match.group(1), match.group(2), float(match.group(3))))
    return conditions


class ParamTable:
    """Numeric top-level params per row, parsed on first use."""

    def __init__(self, params: pd.Series):
        self.params = params
        self._numbers: dict[int, dict[str, float]] = {}

    def numbers(self, row: int) -> dict[str, float]:
        if row not in self._numbers:
            try:
                raw = json.loads(self.params.iloc[row]) if isinstance(self.params.iloc[row], str) else {}
            except json.JSONDecodeError:
                raw = {}
            self._numbers[row] = {k: float(v) for k, v in (raw.items() if isinstance(raw, dict) else ())
                                  if isinstance(v, (int, float)) and not isinstance(v, bool)}
        return self._numbers[row]

    def values(self, rows: Sequence[int], name: str) -> np.ndarray:
        return np.array([self.numbers(int(r)).get(name, np.nan) for r in rows], dtype=np.float64)

    def keep(self, rows: np.ndarray, conditions: list[Condition]) -> np.ndarray:
        """The ``rows`` whose params meet every condition (a row without the parameter does not)."""
        mask = np.ones(len(rows), dtype=bool)
        for name, op, value in conditions:
            values = self.values(rows, name)
            with np.errstate(invalid="ignore"):
                mask &= ~np.isnan(values) & OPS[op](values, value)
        return rows[mask]


def sparkline(values: np.ndarray, bins: int = 8) -> str:
    """``lo–hi ▁▃█▅ (n)``: a text histogram of the finite values."""
    values = values[np.isfinite(values)]
    if not len(values):
        return "no values"
    counts, edges = np.histogram(values, bins=bins)
    bars = "".join(_BARS[min(len(_BARS) - 1, int(c * (len(_BARS) - 1) / max(1, counts.max())))] if c else " "
                   for c in counts)
    return f"{edges[0]:.3g}–{edges[-1]:.3g} `{bars}` (n={len(values)})"
