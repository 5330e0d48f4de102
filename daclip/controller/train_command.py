"""``daclip train-daclip`` (also the ``train-daclip`` console script; under torchrun:
``torchrun ... -m daclip.cli train-daclip``). Flags and defaults come from
:class:`daclip.controller.config.TrainConfig` and the shared run flags; the trainer (torch) is
imported only when the command runs, so ``--help`` starts fast."""

from __future__ import annotations

from functools import partial
from typing import Any

import click

from pipelines.common.cli import GuardedCommand, manifest_inputs, setup_logging

from ..runtime.command import config_default, run_trainer
from ..runtime.settings import run_options
from .config import CONTROL_ORDERS, DEGRADATION_LOSS_CHOICES, TrainConfig

default = partial(config_default, TrainConfig)


@click.command("train-daclip", cls=GuardedCommand, context_settings={"show_default": True})
@manifest_inputs(required=True, old_spellings=("--shards",),
                 help="Training manifest, e.g. manifests/train.parquet (repeatable; also positional).")
@click.option("--model", default=default("model"), help="open_clip architecture, or 'tiny' (ours, for CPU).")
@click.option("--pretrained", default=default("pretrained"),
              help="open_clip tag, a local .safetensors/.bin file, or 'none' (random init).")
@click.option("--control-order", type=click.Choice(CONTROL_ORDERS), default=default("control_order"),
              help="Controller->encoder block pairing: aligned (paper figure) or reversed (DA-CLIP code).")
@click.option("--epochs", type=click.IntRange(min=1), default=default("epochs"),
              help="Run length when --steps is not given: epochs of (manifest samples / global batch) steps.")
@click.option("--batch-size", type=click.IntRange(min=1), default=default("batch_size"),
              help="Per process, per micro-batch.")
@click.option("--accum", type=click.IntRange(min=1), default=default("accum"),
              help="Gradient accumulation micro-batches per step.")
@click.option("--lr", type=float, default=default("lr"))
@click.option("--warmup", type=click.IntRange(min=0), default=default("warmup"),
              help="Linear warmup steps before the cosine decay.")
@click.option("--weight-decay", type=float, default=default("weight_decay"), help="On >= 2-D weights only.")
@click.option("--degradation-loss", type=click.Choice(DEGRADATION_LOSS_CHOICES), default=default("degradation_loss"),
              help="ce: cross-entropy over the ten words (one type per image); infonce: DA-CLIP's in-batch form; "
                   "bce: multi-label sigmoid per word (learns mixtures such as hazy+rainy); auto: ce when every "
                   "row has one type, bce when any row is a mixture.")
@click.option("--hq-align-weight", type=float, default=default("hq_align_weight"),
              help="Weight of 1-cos(content(LQ), CLIP(HQ)); reads HQ images when > 0.")
@click.option("--split", "train_split", default=default("train_split"),
              help="Use only rows of this split from the training manifests.")
@click.option("--val-split", default=default("val_split"), help="Use only rows of this split from --val.")
@run_options("train-daclip")
@click.option("-v", "--verbose", is_flag=True)
def command(verbose: bool, manifests: tuple[str, ...], **kwargs: Any) -> None:
    """Train the DA-CLIP controller on a frozen CLIP from WebDataset shards."""
    from .trainer import train

    setup_logging(verbose)
    run_trainer(train, TrainConfig, {"shards": tuple(manifests), **kwargs})
