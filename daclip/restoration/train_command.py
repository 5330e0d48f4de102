"""``daclip train-restore`` (also the ``train-restore`` console script; under torchrun:
``torchrun ... -m daclip.cli train-restore``). Flags and defaults come from
:class:`daclip.restoration.config.TrainConfig` and the shared run flags; the trainer (torch) is
imported only when the command runs, so ``--help`` starts fast."""

from __future__ import annotations

from functools import partial
from typing import Any

import click

from pipelines.common.cli import GuardedCommand, manifest_inputs, setup_logging

from ..runtime.command import config_default, run_trainer
from ..runtime.settings import run_options
from .config import LOSS_NAMES, PREDICTIONS, TrainConfig

default = partial(config_default, TrainConfig)


@click.command("train-restore", cls=GuardedCommand, context_settings={"show_default": True})
@manifest_inputs(required=True, old_spellings=("--shards",),
                 help="Training manifest, e.g. manifests/train.parquet (repeatable; also positional).")
@click.option("--split", default=default("split"), help="Manifest split to train on ('' for all rows).")
@click.option("--daclip", default=default("daclip"),
              help="Trained DA-CLIP (run or checkpoint folder) giving the embeddings.")
@click.option("--no-daclip", is_flag=True, help="Train the unconditioned IR-SDE baseline (ablation).")
@click.option("--model", default=default("model"), help="Restoration config: tiny, base or a .json path.")
@click.option("--batch-size", default=default("batch_size"), type=click.IntRange(min=1),
              help="Per process (default: config).")
@click.option("--patch", default=default("patch"), type=click.IntRange(min=8),
              help="Patch size (default: config; base 256).")
@click.option("--lr", default=default("lr"), type=float, help="Peak learning rate (default: config; base 2e-4).")
@click.option("--min-lr", default=default("min_lr"), type=float)
@click.option("--warmup", default=default("warmup"), type=click.IntRange(min=0),
              help="Linear learning-rate warmup steps before the cosine decay.")
@click.option("--grad-clip", default=default("grad_clip"), type=click.FloatRange(min=0, min_open=True),
              help="Clip the gradient norm to this value (default: off).")
@click.option("--prediction", type=click.Choice(PREDICTIONS), default=default("prediction"),
              help="Network output: noise (the reference) or x0 (clean image as a residual on the LQ); "
                   "default: the model config's.")
@click.option("--loss", type=click.Choice(LOSS_NAMES), default=default("loss"),
              help="ml: L1 on the reverse-step mean (IR-SDE); x0: L1 on the implied clean image.")
@click.option("--val-split", default=default("val_split"))
@click.option("--val-images", default=default("val_images"), type=click.IntRange(min=1))
@click.option("--val-crop", default=default("val_crop"), type=click.IntRange(min=16))
@click.option("--val-steps", default=default("val_steps"), type=click.IntRange(min=1),
              help="Sampling steps in validation (T).")
@click.option("--ema-decay", default=default("ema_decay"), type=float)
@click.option("--ema-every", default=default("ema_every"), type=click.IntRange(min=1),
              help="Update the EMA weights every this many steps.")
@click.option("--no-amp", is_flag=True, help="Disable mixed precision on CUDA.")
@run_options("train-restore")
@click.option("-v", "--verbose", is_flag=True)
def command(verbose: bool, no_daclip: bool, no_amp: bool, manifests: tuple[str, ...], **kwargs: Any) -> None:
    """Train the IR-SDE restoration U-Net (DA-CLIP conditioned unless --no-daclip)."""
    from .trainer import train

    setup_logging(verbose)
    if bool(kwargs["daclip"]) == bool(no_daclip):
        raise click.UsageError("give --daclip PATH (a trained DA-CLIP) or --no-daclip (unconditioned baseline)")
    kwargs.update(shards=tuple(manifests), amp=not no_amp, split=kwargs["split"] or None,
                  val_split=kwargs["val_split"] or None)
    run_trainer(train, TrainConfig, kwargs)
