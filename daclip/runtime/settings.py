"""The settings every trainer shares, their defaults, and their command-line flags.

Both ``train-daclip`` and ``train-restore`` take the same run flags (``--steps --max-minutes
--save-every --keep --resume --overwrite --out --device --threads --workers --seed --val
--val-every --log-every --stop-at --mix``), defined once here. Older spellings stay as hidden
aliases (``--time-limit`` for ``--max-minutes``, ``--ckpt-every`` for ``--save-every``).
Defaults that depend on the machine (loader workers) or on the run's length (checkpoint
interval) are resolved at run time, never at import time.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from pipelines.common.images import DEFAULT_MAX_PIXELS

from ..data.health import DEFAULT_MAX_BAD_FRACTION

MIX_POLICIES = ("weighted", "round-robin")
DEFAULT_SAVE_EVERY = 1000

# what each trainer assumes when a run flag is not given (the CLI and the Python API alike)
TRAINER_DEFAULTS: dict[str, dict[str, Any]] = {
    "train-daclip": {"steps": None, "log_every": 10, "mix": "weighted"},  # steps: --epochs x samples / batch
    "train-restore": {"steps": 1000, "log_every": 20, "mix": "round-robin"},
}
MAX_DEFAULT_WORKERS = 4


@dataclass(frozen=True)
class RunSettings:
    """What the runtime needs to run any trainer: the run folder, its length, checkpoints, the
    machine and the data-loading policy. Built once at the CLI edge."""

    out: str
    steps: int | None = None  # None: the trainer's own default (e.g. epochs x steps per epoch)
    max_minutes: float | None = None  # wall-clock budget of this invocation: stop and checkpoint when spent
    save_every: int | None = None  # None: DEFAULT_SAVE_EVERY, or the run's length if shorter
    keep: int = 2  # checkpoints kept (the one ``latest`` names is never deleted)
    resume: bool = False
    overwrite: bool = False
    device: str = "auto"
    threads: int | None = None  # torch threads on CPU; None: cores / ranks - loader workers
    workers: int | None = None  # loader workers; None: from the cores (default_workers)
    seed: int = 0
    val: tuple[str, ...] = ()
    val_every: int | None = None  # None: at every checkpoint
    log_every: int | None = None  # None: the trainer's default
    stop_at: int | None = None  # stop after this step, keeping the schedule of the full run
    mix: str | None = None  # degradation mixing policy; None: the trainer's default
    max_pixels: int | None = DEFAULT_MAX_PIXELS  # image members with more pixels are skipped undecoded (as in synthesize)
    max_bad_fraction: float = DEFAULT_MAX_BAD_FRACTION  # stop when more of the samples read than this are unreadable
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("steps", "save_every", "val_every", "log_every", "stop_at"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1")
        if self.keep < 1:
            raise ValueError("--keep must be >= 1")
        if self.workers is not None and self.workers < 0:
            raise ValueError("--workers must be >= 0")
        if self.threads is not None and self.threads < 1:
            raise ValueError("--threads must be >= 1")
        if self.max_minutes is not None and self.max_minutes < 0:
            raise ValueError("--max-minutes must be >= 0")
        if self.mix is not None and self.mix not in MIX_POLICIES:
            raise ValueError(f"--mix must be one of {', '.join(MIX_POLICIES)}")
        if not 0.0 <= self.max_bad_fraction <= 1.0:
            raise ValueError("--max-bad-fraction must be between 0 and 1")
        if self.max_pixels is not None and self.max_pixels < 1:
            raise ValueError("--max-pixels must be >= 1")
        if self.resume and self.overwrite:
            raise ValueError("--resume and --overwrite exclude each other")

    def save_interval(self, total_steps: int) -> int:
        return self.save_every or max(1, min(DEFAULT_SAVE_EVERY, total_steps))


def default_workers(world: int = 1) -> int:
    """Loader workers when none are asked for: one per spare core of this rank, at most four.

    A worker process costs start-up time and memory (about 0.8 GB resident for the CLIP
    loader), and on a 2-core machine more than one only takes cores from the model.
    """
    cores = max(1, (os.cpu_count() or 1) // max(1, world))
    return max(0, min(MAX_DEFAULT_WORKERS, cores - 1))


def _merge_alias(kwargs: dict[str, Any], alias: str, name: str, scale: float = 1.0) -> None:
    """Fold a hidden old-spelling option into its new name (the new one wins when both are given)."""
    value = kwargs.pop(alias, None)
    if value is not None and kwargs.get(name) is None:
        kwargs[name] = value * scale if scale != 1.0 else value


def run_options(trainer: str) -> Callable:
    """Click decorator adding the shared run flags with ``trainer``'s defaults (:data:`TRAINER_DEFAULTS`);
    :func:`settings_from_kwargs` turns them into a :class:`RunSettings`."""
    defaults = TRAINER_DEFAULTS[trainer]
    steps_default, log_every_default, mix_default = defaults["steps"], defaults["log_every"], defaults["mix"]

    def decorate(command: Callable) -> Callable:
        options = [
            click.option("--out", required=True, type=click.Path(file_okay=False), help="Run folder, e.g. runs/NAME."),
            click.option("--steps", type=click.IntRange(min=1), default=steps_default,
                         show_default=steps_default is not None, help="Optimizer steps."),
            click.option("--max-minutes", type=click.FloatRange(min=0, min_open=True), default=None,
                         help="Wall-clock budget: stop and checkpoint when spent (continue later with --resume)."),
            click.option("--time-limit", "time_limit", type=float, default=None, hidden=True),
            click.option("--save-every", type=click.IntRange(min=1), default=None,
                         help=f"Checkpoint interval in steps (default: {DEFAULT_SAVE_EVERY}, or the run's length "
                              "if shorter); data streams restart at checkpoints."),
            click.option("--ckpt-every", "ckpt_every", type=click.IntRange(min=1), default=None, hidden=True),
            click.option("--keep", type=click.IntRange(min=1), default=2, show_default=True,
                         help="Checkpoints to keep (the latest is never deleted)."),
            click.option("--resume", is_flag=True, help="Continue exactly from the run folder's latest checkpoint."),
            click.option("--overwrite", is_flag=True, help="Start afresh in a run folder that holds an older run."),
            click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:1, ..."),
            click.option("--threads", type=click.IntRange(min=1), default=None,
                         help="torch threads on CPU (default: cores / processes - loader workers)."),
            click.option("--workers", type=click.IntRange(min=0), default=None,
                         help="Data-loading workers, started once per run (default: spare cores, at most "
                              f"{MAX_DEFAULT_WORKERS}; 0 reads in the main process)."),
            click.option("--seed", type=int, default=0, show_default=True),
            click.option("--val", multiple=True, type=click.Path(dir_okay=False),
                         help="Validation manifest(s), e.g. manifests/val.parquet (repeatable)."),
            click.option("--val-every", type=click.IntRange(min=1), default=None,
                         help="Validation interval in steps (default: at every checkpoint)."),
            click.option("--log-every", type=click.IntRange(min=1), default=log_every_default, show_default=True,
                         help="Write a metrics.jsonl row every this many steps."),
            click.option("--stop-at", type=click.IntRange(min=1), default=None,
                         help="Stop after this step but keep the schedule of the full run (preemptible jobs)."),
            click.option("--mix", type=click.Choice(MIX_POLICIES), default=mix_default, show_default=True,
                         help="How degradations share batches: weighted (in proportion to their samples) or "
                              "round-robin (each type equally often)."),
            click.option("--max-pixels", type=click.IntRange(min=1), default=DEFAULT_MAX_PIXELS, show_default=True,
                         help="Image members with more pixels are skipped without decoding (bombs)."),
            click.option("--max-bad-fraction", type=click.FloatRange(0, 1), default=DEFAULT_MAX_BAD_FRACTION, show_default=True,
                         help="Stop when more than this fraction of the samples read cannot be used."),
        ]
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def settings_from_kwargs(kwargs: dict[str, Any]) -> RunSettings:
    """Pop the shared run flags (see :func:`run_options`) out of a command's kwargs."""
    _merge_alias(kwargs, "time_limit", "max_minutes")
    _merge_alias(kwargs, "ckpt_every", "save_every")
    names = ("out", "steps", "max_minutes", "save_every", "keep", "resume", "overwrite", "device", "threads",
             "workers", "seed", "val", "val_every", "log_every", "stop_at", "mix", "max_pixels", "max_bad_fraction")
    values = {name: kwargs.pop(name) for name in names if name in kwargs}
    values["val"] = tuple(values.get("val") or ())
    return RunSettings(**values)
