"""``daclip train-restore`` (also the ``train-restore`` console script; under torchrun:
``torchrun ... -m daclip.cli train-restore``). Flags and defaults come from
:class:`daclip.restoration.config.TrainConfig` (``--arch irsde``) or ``OneStepTrainConfig``
(``--arch nafnet``) and the shared run flags; the trainer (torch) is
imported only when the command runs, so ``--help`` starts fast."""

from __future__ import annotations

from functools import partial
from typing import Any

import click
from click.core import ParameterSource

from pipelines.common.cli import GuardedCommand, manifest_inputs, setup_logging

from ..runtime.command import config_default, run_trainer
from ..runtime.settings import run_options
from .config import (
    ARCHS,
    CONDITIONS,
    LOSS_NAMES,
    ONESTEP_LOSS_NAMES,
    PREDICTIONS,
    OneStepTrainConfig,
    TrainConfig,
)

default = partial(config_default, TrainConfig)
onestep_default = partial(config_default, OneStepTrainConfig)
IRSDE_ONLY = ("prediction", "val_steps")  # flags without meaning for a one-step model


@click.command("train-restore", cls=GuardedCommand, context_settings={"show_default": True})
@manifest_inputs(required=True, old_spellings=("--shards",),
                 help="Training manifest, e.g. manifests/train.parquet (repeatable; also positional).")
@click.option("--arch", type=click.Choice(ARCHS), default="irsde",
              help="irsde: the IR-SDE U-Net (sampled in many steps); nafnet: the one-step NAFNet restorer.")
@click.option("--condition", type=click.Choice(CONDITIONS), default=None,
              help="--arch nafnet only (required there): none (no DA-CLIP), daclip (DA-CLIP's image "
                   "embedding) or oracle (the true type's DA-CLIP text embedding); daclip/oracle need --daclip.")
@click.option("--split", default=default("split"), help="Manifest split to train on ('' for all rows).")
@click.option("--daclip", default=default("daclip"),
              help="Trained DA-CLIP (run or checkpoint folder) giving the embeddings.")
@click.option("--no-daclip", is_flag=True, help="Train the unconditioned IR-SDE baseline (ablation).")
@click.option("--model", default=default("model"),
              help=f"Restoration config: tiny, base or a .json path; --arch nafnet: nafnet-tiny, nafnet-demo "
                   f"(default there: {onestep_default('model')}).")
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
              help="IR-SDE only. Network output: noise (the reference) or x0 (clean image as a residual on the "
                   "LQ); default: the model config's.")
@click.option("--loss", type=click.Choice(LOSS_NAMES + ONESTEP_LOSS_NAMES), default=default("loss"),
              help="IR-SDE: ml (L1 on the reverse-step mean) or x0 (L1 on the implied clean image); nafnet: "
                   "psnr (NAFNet's PSNR loss) or l1 (default there: the model config's, psnr).")
@click.option("--val-split", default=default("val_split"))
@click.option("--val-images", default=default("val_images"), type=click.IntRange(min=1))
@click.option("--val-crop", default=default("val_crop"), type=click.IntRange(min=16))
@click.option("--val-steps", default=default("val_steps"), type=click.IntRange(min=1),
              help="IR-SDE only: sampling steps in validation (T).")
@click.option("--ema-decay", default=default("ema_decay"), type=float)
@click.option("--ema-every", default=default("ema_every"), type=click.IntRange(min=1),
              help="Update the EMA weights every this many steps.")
@click.option("--no-amp", is_flag=True, help="Disable mixed precision on CUDA.")
@run_options("train-restore")
@click.option("-v", "--verbose", is_flag=True)
def command(verbose: bool, arch: str, condition: str | None, no_daclip: bool, no_amp: bool,
            manifests: tuple[str, ...], **kwargs: Any) -> None:
    """Train a restorer: the IR-SDE U-Net (DA-CLIP conditioned unless --no-daclip), or with
    --arch nafnet the one-step NAFNet (--condition none|daclip|oracle)."""
    setup_logging(verbose)
    kwargs.update(shards=tuple(manifests), amp=not no_amp, split=kwargs["split"] or None,
                  val_split=kwargs["val_split"] or None)
    if arch == "irsde":
        from .trainer import train

        if condition is not None:
            raise click.UsageError("--condition is for --arch nafnet; the IR-SDE takes --daclip PATH or --no-daclip")
        if bool(kwargs["daclip"]) == bool(no_daclip):
            raise click.UsageError("give --daclip PATH (a trained DA-CLIP) or --no-daclip (unconditioned baseline)")
        run_trainer(train, TrainConfig, kwargs)
        return
    from .onestep_trainer import train_onestep

    source = click.get_current_context().get_parameter_source
    for name in ("model", "loss"):  # not given: OneStepTrainConfig's default, not the IR-SDE one
        if source(name) is ParameterSource.DEFAULT:
            del kwargs[name]
    given = [f"--{name.replace('_', '-')}" for name in IRSDE_ONLY if kwargs.pop(name) is not None]
    if no_daclip:
        given.append("--no-daclip (use --condition none)")
    if given:
        raise click.UsageError(f"{', '.join(given)}: IR-SDE only, not for --arch nafnet")
    if condition is None:
        raise click.UsageError("--arch nafnet needs --condition none|daclip|oracle")
    run_trainer(train_onestep, OneStepTrainConfig, {**kwargs, "condition": condition})
