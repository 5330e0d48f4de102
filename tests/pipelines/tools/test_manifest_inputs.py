"""The one rule for manifest inputs (:func:`pipelines.common.cli.manifest_inputs`): every command that
reads manifests takes them positionally and as repeatable ``--manifest``, in that order."""

from __future__ import annotations

import pandas as pd
from click.testing import CliRunner

from pipelines.cli import cli


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_positional_and_option_spellings_read_the_same_manifests(dataset, tmp_path):
    noisy = dataset / "manifests/noisy.parquet"
    positional, option = invoke("verify", noisy), invoke("verify", "--manifest", noisy)
    report = [line for line in positional.output.splitlines() if "sample/s" not in line]  # not the bar
    assert positional.exit_code == option.exit_code == 0 and "noisy.parquet" in positional.output
    assert report == [line for line in option.output.splitlines() if "sample/s" not in line]
    assert invoke("stats", "--manifest", noisy).output == invoke("stats", noisy).output

    one = invoke("merge", noisy, "--train", tmp_path / "a/train.parquet", "--val", tmp_path / "a/val.parquet")
    other = invoke("merge", "--manifest", noisy, "--train", tmp_path / "b/train.parquet",
                   "--val", tmp_path / "b/val.parquet")
    assert one.exit_code == other.exit_code == 0, one.output + other.output
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a/train.parquet"),
                                  pd.read_parquet(tmp_path / "b/train.parquet"))


def test_a_command_that_needs_manifests_says_so(dataset, tmp_path):
    for command in ("verify", "merge", "migrate", "export-csv"):
        extra = ["--out", tmp_path / "x.csv", "--image-root", tmp_path / "img"] if command == "export-csv" else []
        result = invoke(command, *extra)
        assert result.exit_code == 2 and "give at least one manifest" in result.output, (command, result.output)
    noisy = dataset / "manifests/noisy.parquet"
    two = invoke("export-csv", noisy, "--manifest", noisy, "--out", tmp_path / "x.csv", "--image-root", tmp_path)
    assert two.exit_code == 2 and "one manifest" in two.output
