"""The console scripts of ``daclip``: the ``daclip`` group (classify, evaluate, restore,
evaluate-restore, convert) and the two trainers, ``train-daclip`` and ``train-restore``.

Each command is a thin click wrapper: the trainers' run flags come from
:func:`daclip.runtime.settings.run_options` (one set of names for both), their own flags are
listed here, and the work is imported only when a command runs, so ``--help`` starts fast.
"""

from __future__ import annotations

import json
import os
from typing import Any

import click

from pipelines.common.cli import GuardedCommand, LocalOrURL, console_group, setup_logging

from .runtime.settings import run_options, settings_from_kwargs

SUBCOMMANDS = {
    "classify": "daclip.controller.classify:command",
    "evaluate": "daclip.controller.evaluate:command",
    "restore": "daclip.restoration.restore:command",
    "evaluate-restore": "daclip.restoration.evaluate:command",
    "convert": "daclip.convert.command:command",
    "app": "daclip.app.server:command",
    "compare": "daclip.restoration.compare:command",
}
MANIFEST = LocalOrURL  # a local file, or a manifest on object storage (s3://...)
CONTROL_ORDERS = ("aligned", "reversed")  # daclip.controller.model.CONTROL_ORDERS (not imported: no torch here)
DEGRADATION_LOSSES = ("auto", "ce", "infonce", "bce")  # "auto" + daclip.controller.losses.DEGRADATION_LOSSES
RESTORE_LOSSES = ("ml", "x0")  # daclip.restoration.trainer.LOSSES


cli = console_group("DA-CLIP inference: classify degradations, evaluate, restore images.", SUBCOMMANDS,
                    guarded=True)


def main() -> None:
    cli()


def _finish(summary: dict[str, Any]) -> None:
    if int(os.environ.get("RANK", "0")) == 0:
        click.echo(json.dumps(summary, default=float))


def _run_trainer(train: Any, config: Any, kwargs: dict[str, Any]) -> None:
    """Expected failures (bad manifests or shards, missing files, unusable data) become one line
    through the command's error boundary (``-v`` shows the traceback)."""
    from pipelines.common.models import ModelUnavailableError

    try:
        settings = settings_from_kwargs(kwargs)  # pops the run flags; the rest is the trainer's config
        summary = train(config(**kwargs), settings)
    except ModelUnavailableError as exn:
        raise click.ClickException(str(exn)) from None
    _finish(summary)


@click.command("train-daclip", cls=GuardedCommand, context_settings={"show_default": True})
@click.option("--shards", multiple=True, required=True, type=MANIFEST,
              help="Training manifest(s), e.g. manifests/train.parquet (repeatable).")
@click.option("--model", default="ViT-B-32", help="open_clip architecture, or 'tiny' (ours, for CPU).")
@click.option("--pretrained", default="laion2b_s34b_b79k",
              help="open_clip tag, a local .safetensors/.bin file, or 'none' (random init).")
@click.option("--control-order", type=click.Choice(CONTROL_ORDERS), default="aligned",
              help="Controller->encoder block pairing: aligned (paper figure) or reversed (DA-CLIP code).")
@click.option("--epochs", type=click.IntRange(min=1), default=1,
              help="Run length when --steps is not given: epochs of (manifest samples / global batch) steps.")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, help="Per process, per micro-batch.")
@click.option("--accum", type=click.IntRange(min=1), default=1, help="Gradient accumulation micro-batches per step.")
@click.option("--lr", type=float, default=3e-5)
@click.option("--warmup", type=click.IntRange(min=0), default=100, help="Linear warmup steps before the cosine decay.")
@click.option("--weight-decay", type=float, default=0.05, help="On >= 2-D weights only.")
@click.option("--degradation-loss", type=click.Choice(DEGRADATION_LOSSES), default="auto",
              help="ce: cross-entropy over the ten words (one type per image); infonce: DA-CLIP's in-batch form; "
                   "bce: multi-label sigmoid per word (learns mixtures such as hazy+rainy); auto: ce when every "
                   "row has one type, bce when any row is a mixture.")
@click.option("--hq-align-weight", type=float, default=0.0,
              help="Weight of 1-cos(content(LQ), CLIP(HQ)); reads HQ images when > 0.")
@click.option("--split", "train_split", default=None, help="Use only rows of this split from --shards.")
@click.option("--val-split", default=None, help="Use only rows of this split from --val.")
@run_options("train-daclip")
@click.option("-v", "--verbose", is_flag=True)
def train_daclip(verbose: bool, **kwargs: Any) -> None:
    """Train the DA-CLIP controller on a frozen CLIP from WebDataset shards."""
    from .controller.trainer import TrainConfig, train

    setup_logging(verbose)
    kwargs["shards"] = tuple(kwargs["shards"])
    _run_trainer(train, TrainConfig, kwargs)


@click.command("train-restore", cls=GuardedCommand, context_settings={"show_default": True})
@click.option("--shards", multiple=True, required=True, type=MANIFEST,
              help="Training manifest(s), e.g. manifests/train.parquet.")
@click.option("--split", default="train", help="Manifest split to train on ('' for all rows).")
@click.option("--daclip", default=None, help="Trained DA-CLIP (run or checkpoint folder) giving the embeddings.")
@click.option("--no-daclip", is_flag=True, help="Train the unconditioned IR-SDE baseline (ablation).")
@click.option("--model", default="tiny", help="Restoration config: tiny, base or a .json path.")
@click.option("--batch-size", default=None, type=click.IntRange(min=1), help="Per process (default: config).")
@click.option("--patch", default=None, type=click.IntRange(min=8), help="Patch size (default: config; base 256).")
@click.option("--lr", default=None, type=float, help="Peak learning rate (default: config; base 2e-4).")
@click.option("--min-lr", default=1e-6, type=float)
@click.option("--warmup", default=0, type=click.IntRange(min=0),
              help="Linear learning-rate warmup steps before the cosine decay.")
@click.option("--grad-clip", default=None, type=click.FloatRange(min=0, min_open=True),
              help="Clip the gradient norm to this value (default: off).")
@click.option("--prediction", type=click.Choice(["noise", "x0"]), default=None,
              help="Network output: noise (the reference) or x0 (clean image as a residual on the LQ); "
                   "default: the model config's.")
@click.option("--loss", type=click.Choice(RESTORE_LOSSES), default="ml",
              help="ml: L1 on the reverse-step mean (IR-SDE); x0: L1 on the implied clean image.")
@click.option("--val-split", default="val")
@click.option("--val-images", default=8, type=click.IntRange(min=1))
@click.option("--val-crop", default=128, type=click.IntRange(min=16))
@click.option("--val-steps", default=None, type=click.IntRange(min=1), help="Sampling steps in validation (T).")
@click.option("--ema-decay", default=0.995, type=float)
@click.option("--ema-every", default=10, type=click.IntRange(min=1), help="Update the EMA weights every this many steps.")
@click.option("--no-amp", is_flag=True, help="Disable mixed precision on CUDA.")
@run_options("train-restore")
@click.option("-v", "--verbose", is_flag=True)
def train_restore(verbose: bool, no_daclip: bool, no_amp: bool, **kwargs: Any) -> None:
    """Train the IR-SDE restoration U-Net (DA-CLIP conditioned unless --no-daclip)."""
    from .restoration.trainer import TrainConfig, train

    setup_logging(verbose)
    if bool(kwargs["daclip"]) == bool(no_daclip):
        raise click.UsageError("give --daclip PATH (a trained DA-CLIP) or --no-daclip (unconditioned baseline)")
    kwargs.update(shards=tuple(kwargs["shards"]), amp=not no_amp, split=kwargs["split"] or None,
                  val_split=kwargs["val_split"] or None)
    _run_trainer(train, TrainConfig, kwargs)


if __name__ == "__main__":
    main()
