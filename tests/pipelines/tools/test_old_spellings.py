"""Earlier spellings of make-dataset options keep working, hidden from ``--help``
(:class:`pipelines.common.cli.OldSpellings`): ``preview -o/--output``, ``degrade -o/--output``,
``stats --json``, ``synthesize --manifests``, ``ingest --manifests``. (``caption --manifests``:
tests/pipelines/caption/test_command.py.)"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from pipelines.cli import cli
from tests.pipelines.ingest.test_command import make_tree


def invoke(*args: str):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.parametrize("old", ["-o", "--output"])
def test_preview_and_degrade_outputs(tmp_path, old):
    invoke("preview", "--task", "noisy", old, tmp_path / "sheet.png", "--size", "24")
    invoke("degrade", "--task", "noise", old, tmp_path / "lq.png")
    assert (tmp_path / "sheet.png").stat().st_size and (tmp_path / "lq.png").stat().st_size
    assert json.loads((tmp_path / "lq.json").read_text())["name"] == "noisy"
    for command in ("preview", "degrade"):
        text = CliRunner().invoke(cli, [command, "--help"]).output
        assert "--out" in text and "--output" not in text and "-o," not in text


def test_stats_json(dataset, tmp_path):
    invoke("stats", "--manifest-dir", dataset / "manifests", "--json", tmp_path / "stats.json")
    assert json.loads((tmp_path / "stats.json").read_text())["tasks"]
    assert "--json" not in CliRunner().invoke(cli, ["stats", "--help"]).output


def test_synthesize_and_ingest_manifests(tmp_path, inputs, photos):
    invoke("synthesize", "--task", "noisy", "--input", inputs, "--max-side", "32", "--out", tmp_path / "s/data",
           "--manifests", tmp_path / "s/manifests")
    assert (tmp_path / "s/manifests/noisy.parquet").exists()
    root = make_tree(tmp_path / "tree", photos)
    invoke("ingest", "--root", root, "--out", tmp_path / "i/data", "--manifests", tmp_path / "i/manifests")
    assert list((tmp_path / "i/manifests").glob("*.ingested.parquet"))
    for command in ("synthesize", "ingest"):
        text = CliRunner().invoke(cli, [command, "--help"]).output
        assert "--manifest-dir" in text and "--manifests" not in text
