"""What the two trainer commands share: defaults read from a config dataclass (one place per
default) and the run itself, whose expected failures end as one line."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from typing import Any

import click

from pipelines.common.models import ModelUnavailableError

from .settings import RunSettings, settings_from_kwargs

__all__ = ["config_default", "run_trainer"]


def config_default(config_class: type, name: str) -> Any:
    """The default of ``config_class``'s field ``name``: what its click option defaults to."""
    for field in dataclasses.fields(config_class):
        if field.name == name:
            if field.default is dataclasses.MISSING:
                raise TypeError(f"{config_class.__name__}.{name} has no default")
            return field.default
    raise TypeError(f"{config_class.__name__} has no field {name!r}")


def run_trainer(train: Callable[[Any, RunSettings], dict[str, Any]], config_class: type,
                kwargs: dict[str, Any]) -> None:
    """Pop the run flags out of ``kwargs``, build the trainer's config from the rest, train, and
    print the summary (rank 0). Expected failures (bad manifests or shards, missing files,
    unusable data) become one line through the command's error boundary (``-v``: the traceback)."""
    try:
        settings = settings_from_kwargs(kwargs)
        summary = train(config_class(**kwargs), settings)
    except ModelUnavailableError as exn:
        raise click.ClickException(str(exn)) from None
    if int(os.environ.get("RANK", "0")) == 0:
        click.echo(json.dumps(summary, default=float))
