"""``train-restore --arch nafnet``: the one-step NAFNet restorer on (LQ, HQ) shards.

What is the one-step restorer's own: the model (a NAFNet config, EMA weights, and the frozen DA-CLIP
for ``--condition daclip|oracle``; none for ``--condition none``), its loss (NAFNet's PSNR loss,
``10 log10 MSE`` per image, or L1, on the one network call's output) and its validation (PSNR of
the EMA net's output on the val crops; the oracle arm is shown its true types). The batches are
IR-SDE's (:class:`daclip.data.pairs.PatchBatches`), tagged with their samples' degradation types;
``--condition oracle`` conditions each patch on its type's DA-CLIP text embedding
(:func:`daclip.restoration.model.embed`). The loop, resume, checkpoints, time budget, DDP and
logging are the shared runtime's.

Nothing in a step draws random numbers besides the batch (a pure function of ``(seed, rank, step)``),
so a resumed run ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import torch

from ..data.pairs import PatchBatches, load_val_samples
from ..data.prefetch import prefetch
from ..data.shards import check_index, load_index
from ..runtime.loop import RunContext, run
from ..runtime.schedule import warmup_cosine
from ..runtime.settings import TRAINER_DEFAULTS, RunSettings
from .config import ONESTEP_LOSS_NAMES, OneStepTrainConfig
from .evaluate import validate_with
from .model import EMA, checkpoint_weights, embed
from .onestep import OneStepConfig, create_onestep, from_weights
from .onestep_restore import restore_onestep_array
from .trainer import amp_dtype

__all__ = ["LOSSES", "OneStepTraining", "l1_loss", "psnr_loss", "train_onestep"]

DEFAULTS = TRAINER_DEFAULTS["train-restore"]
Batch = tuple[int, list[str], torch.Tensor, torch.Tensor]  # step, each sample's type, lq, hq


def psnr_loss(out: torch.Tensor, hq: torch.Tensor) -> torch.Tensor:
    """NAFNet's PSNR loss: the mean over images of ``10 log10 MSE`` (minus the PSNR at peak 1)."""
    mse = (out - hq).pow(2).mean(dim=(1, 2, 3))
    return 10 * torch.log10(mse + 1e-8).mean()


def l1_loss(out: torch.Tensor, hq: torch.Tensor) -> torch.Tensor:
    return (out - hq).abs().mean()


LOSSES = dict(zip(ONESTEP_LOSS_NAMES, (psnr_loss, l1_loss), strict=True))


def train_onestep(cfg: OneStepTrainConfig, settings: RunSettings) -> dict[str, Any]:
    """Train (or resume) a one-step restorer; returns a summary of the run (last metrics included)."""
    if settings.steps is None:
        settings = dataclasses.replace(settings, steps=DEFAULTS["steps"])
    return run(partial(OneStepTraining.build, cfg), settings)


class OneStepTraining:
    """The runtime's task for the one-step restorer (see :class:`daclip.runtime.loop.Task`)."""

    name = "train-restore"
    log_every = DEFAULTS["log_every"]
    accum = 1
    find_unused_parameters = False

    def __init__(self, cfg: OneStepTrainConfig, ctx: RunContext, config: OneStepConfig, net: torch.nn.Module,
                 ema: EMA, encoder: Any, indexes: dict[str, Any], val_samples: list[dict[str, Any]]):
        self.cfg, self.ctx, self.config = cfg, ctx, config
        self.module, self.ema, self.encoder = net, ema, encoder
        self.oracle = config.nafnet.condition == "oracle"
        self.indexes, self.val_samples = indexes, val_samples
        recipe = config.train
        self.batch_size, self.patch, lr = int(recipe["batch_size"]), int(recipe["patch"]), float(recipe["lr"])
        self.loss_fn = LOSSES[recipe["loss"]]
        self.total_steps = int(ctx.settings.steps or DEFAULTS["steps"])
        self.samples_per_step = self.batch_size
        self.grad_clip = cfg.grad_clip
        self.amp_dtype = amp_dtype(cfg)
        self.optimizer = torch.optim.AdamW(net.parameters(), lr=lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, warmup_cosine(self.total_steps, cfg.warmup, min_ratio=cfg.min_lr / lr))

    @classmethod
    def build(cls, cfg: OneStepTrainConfig, ctx: RunContext) -> OneStepTraining:
        encoder, embed_dim = None, None
        if cfg.condition != "none":
            from ..loading import load as load_daclip

            encoder = load_daclip(cfg.daclip, device=str(ctx.device)).eval().requires_grad_(False)
            embed_dim = int(encoder.embed_dim)
        config, net, ema_net = _model(cfg, ctx, embed_dim)
        config = _with_overrides(config, cfg)
        net = net.to(ctx.device)
        ema = EMA(net, cfg.ema_decay, cfg.ema_every)
        if ema_net is not None:
            ema.shadow.load_state_dict(ema_net.state_dict())
        indexes = check_index(load_index(cfg.shards, cfg.split)).by_degradation()
        val_samples = []
        if ctx.settings.val and ctx.dist.main:
            val_samples = load_val_samples(ctx.settings.val, cfg.val_split, cfg.val_images, cfg.val_crop)
        return cls(cfg, ctx, config, net, ema, encoder, indexes, val_samples)

    def describe(self) -> str:
        params = sum(p.numel() for p in self.module.parameters()) / 1e6
        types = ", ".join(f"{k} {v.num_samples}" for k, v in self.indexes.items())
        return (f"{self.config.name} (one-step NAFNet, condition {self.config.nafnet.condition}, {params:.2f} M "
                f"parameters) on {self.ctx.device}: {types}")

    def config_record(self) -> dict[str, Any]:
        return {"train": dataclasses.asdict(self.cfg), "model": self.config.to_dict()}

    def batches(self, start: int, save_every: int) -> Iterator[Batch]:
        settings = self.ctx.settings
        patches = PatchBatches(self.indexes, self.batch_size, self.patch, settings.seed, self.ctx.dist.rank,
                               save_every, self.cfg.shuffle_buffer, mix=settings.mix or DEFAULTS["mix"],
                               decode_threads=self.ctx.workers, max_pixels=settings.max_pixels,
                               max_bad_fraction=settings.max_bad_fraction)
        tagged = ((step, patches.step_types(step), lq, hq) for step, lq, hq in patches(start))
        return prefetch(tagged) if self.ctx.workers else tagged

    def loss(self, module: torch.nn.Module, batch: Batch, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        _, types, lq, hq = batch
        device = self.ctx.device
        lq, hq = lq.to(device, non_blocking=True), hq.to(device, non_blocking=True)
        content, degradation = embed(self.encoder, lq, types if self.oracle else None)
        with self.ctx.autocast(self.amp_dtype):
            out = module(lq, degradation, content)
        loss = self.loss_fn(out.float(), hq)
        return loss, {"loss": loss.item()}

    def after_step(self, step: int) -> None:
        self.ema.update(self.module, step)

    def summarize(self, sums: dict[str, float], steps: int) -> dict[str, float]:
        return {"loss": sums.get("loss", 0.0) / max(1, steps)}

    def validate(self, step: int) -> dict[str, Any] | None:
        if not self.val_samples:
            return None
        net, device = self.ema.shadow, self.ctx.device
        return validate_with(lambda s: restore_onestep_array(
            net, self.encoder, s["lq"], None, device, degradation_text=s["degradation"] if self.oracle else None),
            self.val_samples)

    def format_validation(self, step: int, metrics: dict[str, Any]) -> str:
        return f"step {step}: val PSNR {metrics['val_psnr']:.2f} dB (LQ {metrics['val_psnr_lq']:.2f} dB)"

    def checkpoint(self, step: int) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        return checkpoint_weights(self.module, self.ema), self.config.to_dict()

    def state_dict(self) -> dict[str, Any]:
        return {"ema": self.ema.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "ema" in state:
            self.ema.load_state_dict(state["ema"])

    def close(self) -> None:
        pass


def _model(cfg: OneStepTrainConfig, ctx: RunContext, embed_dim: int | None
           ) -> tuple[OneStepConfig, torch.nn.Module, torch.nn.Module | None]:
    """A fresh model, or the resumed checkpoint's (checked against this run's conditioning); and its EMA net."""
    if ctx.resumed is None:
        daclip_ref = str(Path(cfg.daclip).resolve()) if cfg.daclip else None
        config, net = create_onestep(cfg.model, embed_dim, daclip_ref, cfg.condition, seed=ctx.settings.seed)
        return config, net, None
    loaded = from_weights(ctx.resumed.weights, ctx.resumed.config)
    config = loaded.config
    if config.nafnet.condition != cfg.condition or config.embed_dim != embed_dim:
        raise ValueError(f"--resume: the checkpoint was trained with condition {config.nafnet.condition!r} "
                         f"(embed_dim {config.embed_dim}), this run asks for {cfg.condition!r} (embed_dim {embed_dim})")
    return config, loaded.net, loaded.ema


def _with_overrides(config: OneStepConfig, cfg: OneStepTrainConfig) -> OneStepConfig:
    """The model config with this run's batch size, patch, learning rate and loss."""
    d = config.train
    train = {**d, "batch_size": cfg.batch_size or int(d.get("batch_size", 8)),
             "patch": cfg.patch or int(d.get("patch", 96)), "lr": cfg.lr or float(d.get("lr", 1e-3)),
             "loss": cfg.loss or d.get("loss", "psnr")}
    return dataclasses.replace(config, train=train)
