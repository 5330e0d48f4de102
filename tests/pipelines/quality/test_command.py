import os
import shutil

from click.testing import CliRunner

from pipelines.cli import cli
from pipelines.manifest.schema import read_manifest


def run(*args):
    return CliRunner().invoke(cli, list(map(str, args)))


def test_score_command_marks_drops_and_reports(graded_dataset, tmp_path):
    manifest = graded_dataset / "manifests" / "noisy.parquet"
    result = run("score", manifest, "--out", tmp_path / "a", "--reject-if", "default", "--drop", "--workers", "2")
    assert result.exit_code == 0, result.output
    assert "scored 12 of 12 clean image(s); 0 could not be scored" in result.output
    assert "rejected 18 of 24 row(s), dropped:" in result.output and "6 x q_blur > 0.5" in result.output
    assert len(read_manifest(tmp_path / "a" / "noisy.parquet")) == 6


def test_bad_input_is_one_line_each(dataset, tmp_path):
    copy = tmp_path / "ds"
    shutil.copytree(dataset, copy)
    lost = sorted(read_manifest(copy / "manifests" / "noisy.parquet")["shard_path"].unique())[0]
    os.remove(lost)
    result = run("score", copy / "manifests" / "noisy.parquet", "--out", tmp_path / "out")
    assert result.exit_code == 0
    lines = [line for line in result.output.splitlines() if line.startswith("could not score ")]
    assert lines and all(os.path.basename(lost) in line for line in lines)
    assert f"{len(lines)} could not be scored" in result.output


def test_usage_errors(dataset, tmp_path):
    manifest = dataset / "manifests" / "noisy.parquet"
    result = run("score", manifest, "--out", tmp_path, "--reject-if", "q_blur > 0.4 or os.system('x')")
    assert result.exit_code == 1 and "Error: cannot read" in result.output
    assert run("score", manifest, "--out", tmp_path, "--drop").exit_code == 2
    assert not (tmp_path / "noisy.parquet").exists()
