"""The house rules of issue 20, checked from the source: no import cycle among our modules (lazy imports
included), no arrow pointing up (degradations <- pipelines <- daclip), no module over 350 lines and no
function over 60 lines outside ``bench/``."""

from __future__ import annotations

from tests import house


def test_no_import_cycles():
    assert house.cycles(house.import_graph()) == []


def test_no_upward_arrows():
    assert house.upward_arrows(house.import_graph()) == []


def test_no_oversized_modules_or_functions():
    assert [f"{o.where}: {o.lines} > {o.limit}" for o in house.oversized()] == []


def test_the_checker_sees_a_cycle_an_upward_arrow_and_a_lazy_import(tmp_path):
    graph = {"pipelines.a": {"pipelines.b"}, "pipelines.b": {"pipelines.a", "daclip.x"}, "daclip.x": set()}
    assert house.cycles(graph) == [["pipelines.a", "pipelines.b"]]
    assert house.upward_arrows(graph) == [("pipelines.b", "daclip.x")]
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from pipelines.cli import main\n\n"
                      "TABLE = {'x': 'pipelines.merge:command', 'pipelines': 'a word, not an import'}\n")
    known = {"pipelines", "pipelines.cli", "pipelines.merge"}
    assert set(house.imported_modules("pipelines.m", module, known)) == {"pipelines.cli", "pipelines.merge"}
