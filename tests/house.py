"""The project's import graph and size limits, read from the source with ``ast`` (nothing is imported).

Used by ``tests/test_house.py``; run it directly (``python tests/house.py``) to list every cycle, upward
arrow and oversized module or function.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("degradations", "pipelines", "daclip")  # arrows point from a later package to an earlier one only
MAX_MODULE_LINES = 350
MAX_FUNCTION_LINES = 60
SIZE_CHECKED = ("degradations", "pipelines", "daclip", "tests")
# "package.module:attribute" strings name a lazy import (subcommand tables, registries of entry points).
LAZY_REFERENCE = re.compile(r"^((?:{layers})(?:\.\w+)*)(?::\w+)?$".format(layers="|".join(LAYERS)))


def module_files(packages: tuple[str, ...] = LAYERS) -> dict[str, Path]:
    """Dotted module name -> file for every module of our packages."""
    modules: dict[str, Path] = {}
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def _absolute(module: str, is_package: bool, level: int, target: str | None) -> str:
    if level == 0:
        return target or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def imported_modules(module: str, path: Path, known: set[str]) -> Iterator[str]:
    """Our modules that ``module`` imports anywhere in its file (top level or lazily inside functions)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield from _resolve(alias.name, known)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, is_package, node.level, node.module)
            for alias in node.names:
                child = f"{base}.{alias.name}"
                yield from _resolve(child if child in known else base, known)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = LAZY_REFERENCE.match(node.value)
            if match and match.group(1) in known and node.value not in LAYERS:  # a bare "daclip" is a word
                yield match.group(1)


def _resolve(name: str, known: set[str]) -> Iterator[str]:
    while name and name not in known:
        name = name.rpartition(".")[0]
    if name:
        yield name


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    known = set(files)
    return {module: set(imported_modules(module, path, known)) - {module} for module, path in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def upward_arrows(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Imports from a lower package (degradations < pipelines < daclip) into a higher one."""
    rank = {name: i for i, name in enumerate(LAYERS)}
    return sorted(
        (source, target)
        for source, targets in graph.items()
        for target in targets
        if rank[target.split(".")[0]] > rank[source.split(".")[0]]
    )


@dataclass(frozen=True)
class Oversized:
    where: str
    lines: int
    limit: int


def oversized() -> list[Oversized]:
    """Modules over MAX_MODULE_LINES and functions over MAX_FUNCTION_LINES (bench/ is exempt)."""
    found: list[Oversized] = []
    for package in SIZE_CHECKED:
        for path in sorted((ROOT / package).rglob("*.py")):
            text = path.read_text()
            relative = path.relative_to(ROOT).as_posix()
            n_lines = len(text.splitlines())
            if n_lines > MAX_MODULE_LINES:
                found.append(Oversized(relative, n_lines, MAX_MODULE_LINES))
            for node in ast.walk(ast.parse(text, filename=relative)):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    length = node.end_lineno - node.lineno + 1
                    if length > MAX_FUNCTION_LINES:
                        found.append(Oversized(f"{relative}:{node.lineno} {node.name}", length, MAX_FUNCTION_LINES))
    return found


def main() -> int:
    graph = import_graph()
    problems = [f"cycle: {' <-> '.join(c)}" for c in cycles(graph)]
    problems += [f"upward: {a} -> {b}" for a, b in upward_arrows(graph)]
    problems += [f"size: {o.where} has {o.lines} lines (limit {o.limit})" for o in oversized()]
    print("\n".join(problems) or "house in order")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
