"""The trainer commands read every default from their config dataclass (one place per default),
their choices from the torch-free config modules, and ``--help`` imports no torch."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import click
import pytest

from daclip.controller import config as daclip_config
from daclip.controller.train_command import command as train_daclip
from daclip.restoration import config as restore_config
from daclip.restoration.train_command import command as train_restore
from daclip.runtime.command import config_default

COMMANDS = [(train_daclip, daclip_config.TrainConfig), (train_restore, restore_config.TrainConfig)]


@pytest.mark.parametrize(("command", "config_class"), COMMANDS)
def test_option_defaults_are_the_config_defaults(command, config_class):
    fields = {f.name: f for f in dataclasses.fields(config_class)}
    checked = 0
    for param in command.params:
        if isinstance(param, click.Option) and param.name in fields:
            assert param.default == fields[param.name].default, param.name
            checked += 1
    assert checked >= 10


def test_choices_match_what_the_trainers_implement():
    from daclip.controller.losses import DEGRADATION_LOSSES
    from daclip.controller.model import DaCLIPConfig
    from daclip.restoration.trainer import LOSSES

    assert tuple(DEGRADATION_LOSSES) == daclip_config.DEGRADATION_LOSS_NAMES
    assert set(DEGRADATION_LOSSES) >= daclip_config.MULTI_LABEL_LOSSES
    assert tuple(LOSSES) == restore_config.LOSS_NAMES
    for order in daclip_config.CONTROL_ORDERS:
        DaCLIPConfig("tiny", "none", order)
    with pytest.raises(ValueError, match="control_order"):
        DaCLIPConfig("tiny", "none", "sideways")


def test_config_default_refuses_unknown_or_required_fields():
    assert config_default(restore_config.TrainConfig, "loss") == "ml"
    with pytest.raises(TypeError, match="no default"):
        config_default(restore_config.TrainConfig, "shards")
    with pytest.raises(TypeError, match="no field"):
        config_default(restore_config.TrainConfig, "nope")


def test_configs_validate_like_the_trainers():
    with pytest.raises(ValueError, match="unknown degradation loss"):
        daclip_config.TrainConfig(shards=("a",), degradation_loss="mse")
    with pytest.raises(ValueError, match="unknown loss"):
        restore_config.TrainConfig(shards=("a",), loss="l2")


def test_help_imports_no_torch():
    code = ("import sys; from click.testing import CliRunner; from daclip.cli import cli; "
            "[CliRunner().invoke(cli, [c, '--help'], catch_exceptions=False) for c in ('train-daclip', 'train-restore')]; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
