"""Earlier spellings of daclip options keep working, hidden from ``--help``: ``--shards`` of the
trainers, ``evaluate`` and ``evaluate-restore`` (now ``--manifest`` or positional), ``app --manifests``,
``compare -o``. The trainers' ``--shards`` also runs end to end in tests/daclip/conftest.py."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from daclip.app.server import command as app
from daclip.cli import cli
from daclip.controller.evaluate import command as evaluate
from daclip.controller.train_command import command as train_daclip
from daclip.restoration.compare import command as compare
from daclip.restoration.evaluate import command as evaluate_restore
from daclip.restoration.train_command import command as train_restore

MANIFEST_COMMANDS = {
    "train-daclip": (train_daclip, "--shards", ["--out", "runs/x"]),
    "train-restore": (train_restore, "--shards", ["--out", "runs/x", "--no-daclip"]),
    "evaluate": (evaluate, "--shards", []),
    "evaluate-restore": (evaluate_restore, "--shards", ["--ckpt", "runs/r", "--out", "eval"]),
    "app": (app, "--manifests", []),
}


def manifests_of(command: click.Command, args: list[str]) -> tuple[str, ...]:
    """The manifests a command line gives (positional ones first), parsed without running the command."""
    with command.make_context(command.name, args, resilient_parsing=False) as ctx:
        return (*ctx.params["manifest_args"], *ctx.params["manifest_options"])


@pytest.mark.parametrize("name", MANIFEST_COMMANDS)
def test_manifest_spellings_agree(tmp_path, name):
    command, old, extra = MANIFEST_COMMANDS[name]
    a, b = (tmp_path / "a.parquet", tmp_path / "b.parquet")
    a.write_bytes(b""), b.write_bytes(b"")
    a, b = str(a), str(b)
    assert manifests_of(command, [old, a, old, b, *extra]) == (a, b)
    assert manifests_of(command, ["--manifest", a, "--manifest", b, *extra]) == (a, b)
    assert manifests_of(command, [a, "--manifest", b, *extra]) == (a, b)
    text = CliRunner().invoke(cli, [name, "--help"]).output
    assert "--manifest" in text and old not in text and "[MANIFEST]..." in text


@pytest.mark.parametrize("name", ["train-daclip", "train-restore", "evaluate", "evaluate-restore"])
def test_a_manifest_is_required(name):
    result = CliRunner().invoke(cli, [name, *MANIFEST_COMMANDS[name][2]])
    assert result.exit_code == 2 and "give at least one manifest" in result.output


def test_compare_out(tmp_path):
    (tmp_path / "x.png").write_bytes(b"")
    with compare.make_context("compare", [str(tmp_path / "x.png"), "--restored", str(tmp_path), "-o",
                                         str(tmp_path / "c.png")]) as ctx:
        assert str(ctx.params["out"]) == str(tmp_path / "c.png")
    text = CliRunner().invoke(cli, ["compare", "--help"]).output
    assert "--out" in text and "-o," not in text
