"""The shared run flags: one set of names for both trainers, hidden old spellings, run-time defaults."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from daclip.runtime.settings import (
    DEFAULT_SAVE_EVERY,
    RunSettings,
    default_workers,
    run_options,
    settings_from_kwargs,
)


def _command():
    seen = {}

    @click.command()
    @run_options("train-daclip")
    def command(**kwargs):
        seen["run"] = settings_from_kwargs(kwargs)
        seen["rest"] = kwargs

    return command, seen


def test_flags_become_settings():
    command, seen = _command()
    result = CliRunner().invoke(command, ["--out", "r", "--steps", "5", "--max-minutes", "2", "--save-every", "3",
                                          "--keep", "4", "--resume", "--device", "cpu", "--threads", "1",
                                          "--workers", "0", "--seed", "7", "--val", "v.parquet", "--mix",
                                          "round-robin"])
    assert result.exit_code == 0, result.output
    run = seen["run"]
    assert (run.out, run.steps, run.max_minutes, run.save_every, run.keep, run.resume) == ("r", 5, 2.0, 3, 4, True)
    assert (run.device, run.threads, run.workers, run.seed, run.val, run.mix) == ("cpu", 1, 0, 7, ("v.parquet",),
                                                                                    "round-robin")
    assert seen["rest"] == {}


def test_old_spellings_are_hidden_aliases():
    command, seen = _command()
    result = CliRunner().invoke(command, ["--out", "r", "--time-limit", "1.5", "--ckpt-every", "20"])
    assert result.exit_code == 0, result.output
    assert (seen["run"].max_minutes, seen["run"].save_every) == (1.5, 20)
    help_text = CliRunner().invoke(command, ["--help"]).output
    assert "--max-minutes" in help_text and "--save-every" in help_text
    assert "--time-limit" not in help_text and "--ckpt-every" not in help_text


def test_new_spelling_wins_over_the_alias():
    command, seen = _command()
    CliRunner().invoke(command, ["--out", "r", "--save-every", "5", "--ckpt-every", "20"])
    assert seen["run"].save_every == 5


def test_save_interval_default_fits_short_and_long_runs():
    assert RunSettings(out="r").save_interval(400) == 400
    assert RunSettings(out="r").save_interval(50_000) == DEFAULT_SAVE_EVERY
    assert RunSettings(out="r", save_every=7).save_interval(400) == 7


def test_default_workers_leave_a_core_to_the_model(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert default_workers() == 1
    assert default_workers(world=2) == 0
    monkeypatch.setattr("os.cpu_count", lambda: 64)
    assert default_workers() == 4


@pytest.mark.parametrize("bad", [{"keep": 0}, {"steps": 0}, {"workers": -1}, {"mix": "zigzag"},
                                 {"resume": True, "overwrite": True}, {"max_minutes": -1}])
def test_bad_settings_name_the_flag(bad):
    with pytest.raises(ValueError, match="--"):
        RunSettings(out="r", **bad)
