"""Every console script and subcommand starts and documents itself (lazy imports resolve)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from daclip.cli import cli as daclip_cli
from pipelines.cli import SUBCOMMANDS as DATASET_COMMANDS
from pipelines.cli import cli as dataset_cli


@pytest.mark.parametrize("name", sorted(DATASET_COMMANDS))
def test_make_dataset_subcommands_have_help(name):
    result = CliRunner().invoke(dataset_cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_make_dataset_lists_every_subcommand():
    result = CliRunner().invoke(dataset_cli, ["--help"])
    assert result.exit_code == 0
    for name in DATASET_COMMANDS:
        assert name in result.output


def test_daclip_lists_every_subcommand():
    result = CliRunner().invoke(daclip_cli, ["--help"])
    assert result.exit_code == 0, result.output
    for name in ("classify", "evaluate", "restore", "evaluate-restore"):
        assert name in result.output
        assert CliRunner().invoke(daclip_cli, [name, "--help"]).exit_code == 0


def test_synthesize_starts_without_torch_or_transformers():
    code = ("import sys; from pipelines.cli import cli; cli.get_command(None, 'synthesize'); "
            "cli.get_command(None, 'caption'); print('torch' in sys.modules, 'transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
