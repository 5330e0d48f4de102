"""``--reject-if`` rules: comparisons of score columns joined by ``and`` / ``or`` (and brackets).

A rule is parsed by a small recursive-descent parser over a fixed token set, never by ``eval``:
``q_blur > 0.5 or (q_sigma > 5 and q_luma < 0.2)``. Names must be score columns, numbers are
plain decimals. A rule is kept as its top-level ``or`` terms; each term that holds for a row is
a *reason* the row is rejected, and reasons are reported by their canonical text. A comparison
with a missing score (NaN: the image could not be scored) is false, and such rows are counted
as not judged.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .score import FLOAT_COLUMNS

__all__ = ["DEFAULT_RULE", "Comparison", "Rule", "RuleError", "parse_rule", "reject_reasons"]

# Separates scikit-image's photos from their blur-2 / noise-15 / JPEG-10 copies with margin at
# 256 px, 512 px and full size (tests/pipelines/quality/test_gate.py).
DEFAULT_RULE = "q_blur > 0.5 or q_sigma > 5 or q_blockiness > 1.5"

OPERATORS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "<=": operator.le, ">=": operator.ge, "==": operator.eq, "!=": operator.ne, "<": operator.lt, ">": operator.gt,
}
_TOKEN = re.compile(r"\s*(?:(?P<num>-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)|(?P<op><=|>=|==|!=|<|>)"
                    r"|(?P<paren>[()])|(?P<word>[A-Za-z_][A-Za-z0-9_]*))")


class RuleError(ValueError):
    """A rule that does not parse; the message says where and what was expected."""


@dataclass(frozen=True)
class Comparison:
    name: str
    op: str
    value: float

    def text(self) -> str:
        return f"{self.name} {self.op} {self.value:g}"

    def holds(self, frame: pd.DataFrame) -> np.ndarray:
        values = pd.to_numeric(frame[self.name], errors="coerce").to_numpy(dtype=np.float64)
        with np.errstate(invalid="ignore"):
            return OPERATORS[self.op](values, self.value) & ~np.isnan(values)


@dataclass(frozen=True)
class Junction:
    """``kind`` ``and`` / ``or`` over terms (comparisons or junctions)."""

    kind: str
    terms: tuple[Comparison | Junction, ...]

    def text(self) -> str:
        parts = [f"({t.text()})" if isinstance(t, Junction) else t.text() for t in self.terms]
        return f" {self.kind} ".join(parts)

    def holds(self, frame: pd.DataFrame) -> np.ndarray:
        combine = np.logical_and if self.kind == "and" else np.logical_or
        return combine.reduce([t.holds(frame) for t in self.terms])


@dataclass(frozen=True)
class Rule:
    terms: tuple[Comparison | Junction, ...]  # the top-level ``or`` terms: each is one reason

    @property
    def reasons(self) -> list[str]:
        return [t.text() for t in self.terms]

    @property
    def names(self) -> list[str]:
        return sorted(set(_names(self.terms)))


def _names(terms: Iterable[Comparison | Junction]) -> Iterable[str]:
    for t in terms:
        yield from (_names(t.terms) if isinstance(t, Junction) else [t.name])


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise RuleError(f"cannot read {text[pos:].strip()[:20]!r} at character {pos + 1} of {text!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind), match.start(kind)))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, text: str, names: tuple[str, ...]) -> None:
        self.text, self.names, self.tokens, self.at = text, names, _tokens(text), 0

    def fail(self, expected: str) -> RuleError:
        if self.at >= len(self.tokens):
            return RuleError(f"rule {self.text!r} ends where {expected} was expected")
        _, value, pos = self.tokens[self.at]
        return RuleError(f"expected {expected} at character {pos + 1} of {self.text!r}, got {value!r}")

    def peek(self, kind: str, value: str | None = None) -> bool:
        if self.at >= len(self.tokens):
            return False
        k, v, _ = self.tokens[self.at]
        return k == kind and (value is None or v == value)

    def take(self, kind: str, expected: str) -> str:
        if not self.peek(kind):
            raise self.fail(expected)
        self.at += 1
        return self.tokens[self.at - 1][1]

    def junction(self, kind: str) -> Comparison | Junction:
        terms = [self.junction("and") if kind == "or" else self.atom()]
        while self.peek("word", kind):
            self.at += 1
            terms.append(self.junction("and") if kind == "or" else self.atom())
        return terms[0] if len(terms) == 1 else Junction(kind, tuple(terms))

    def atom(self) -> Comparison | Junction:
        if self.peek("paren", "("):
            self.at += 1
            inner = self.junction("or")
            if not self.peek("paren", ")"):
                raise self.fail("')'")
            self.at += 1
            return inner
        name = self.take("word", "a score name")
        if name not in self.names:
            raise RuleError(f"unknown score {name!r} in {self.text!r} (known: {', '.join(self.names)})")
        op = self.take("op", "a comparison (<, <=, >, >=, ==, !=)")
        return Comparison(name, op, float(self.take("num", "a number")))


def parse_rule(text: str, names: tuple[str, ...] = FLOAT_COLUMNS) -> Rule:
    """Parse a rule over the score columns ``names``; raises :class:`RuleError`."""
    parser = _Parser(text, names)
    top = parser.junction("or")
    if parser.at != len(parser.tokens):
        raise parser.fail("'and', 'or' or the end of the rule")
    return Rule(top.terms if isinstance(top, Junction) and top.kind == "or" else (top,))


def reject_reasons(rule: Rule, frame: pd.DataFrame) -> pd.Series:
    """Per row: the reasons (top-level terms that hold) joined by ``"; "``, or None when kept."""
    held = [term.holds(frame) for term in rule.terms]
    texts = rule.reasons
    reasons = ["; ".join(t for t, h in zip(texts, row) if h) or None for row in zip(*held)] if held else []
    return pd.Series(reasons if len(frame) else [], index=frame.index, dtype=object)
