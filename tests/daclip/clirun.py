"""Run a click command in-process and require success (shared by the daclip tests)."""

from __future__ import annotations

from click.testing import CliRunner


def invoke_ok(cli, args):
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result
