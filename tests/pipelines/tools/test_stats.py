"""make-dataset stats: counts per task and split, and the JSON output."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from pipelines.cli import cli
from pipelines.tools.stats import dataset_stats


def test_stats_counts_and_json(dataset, tmp_path):
    stats = dataset_stats(sorted((dataset / "manifests").glob("*.parquet")))
    noisy = stats["tasks"]["noisy"]
    assert noisy["ok"] == 20 and noisy["error"] == 2 and noisy["shards"] == 6 and noisy["clean_images"] == 10
    assert sum(s["ok"] for s in noisy["splits"].values()) == 20 and noisy["shard_bytes"] > 0
    assert "not an image" in next(iter(noisy["errors"]))
    assert stats["totals"]["rows"] == 44
    out = tmp_path / "stats.json"
    result = CliRunner().invoke(cli, ["stats", "--manifest-dir", str(dataset / "manifests"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "noisy" in result.output and "errors" in result.output
    assert json.loads(out.read_text())["tasks"]["jpeg-compressed"]["ok"] == 20


@pytest.mark.parametrize(("stem", "listed"), [("rainy", True), ("hazy--rainy", True), ("rainy--snowy", True),
                                              ("mix", True), ("wild", True), ("unknown", True), ("captions", False),
                                              ("rain", False), ("rainy--rainy", False), ("train", False)])
def test_task_manifests_are_told_by_their_stem(stem, listed):
    """Every label a build writes is listed (an ingested folder's mixture as named, even an excluded pair)."""
    from pipelines.tools.stats import is_task_stem

    assert is_task_stem(stem) is listed
