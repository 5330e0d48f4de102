"""``train-restore``: the IR-SDE restoration U-Net on (LQ, HQ) shards, DA-CLIP conditioned.

This module holds only what is restoration's own: the model (a U-Net config, EMA weights, the
frozen DA-CLIP whose ``(content, degradation)`` embeddings condition it, or none for the
``--no-daclip`` baseline), its batches (aligned random HQ/LQ patches with flips and
transposition, degradations mixed by ``--mix``: :class:`daclip.data.pairs.PatchBatches`) and its
loss (a random timestep and noise, then the maximum-likelihood L1 loss of
:meth:`daclip.restoration.sde.IRSDE.loss`, or L1 on the clean image with ``--loss x0``). The loop,
resume, checkpoints, time budget, DDP and logging are the shared runtime's.

For short budgets (about 1k steps on CPU) ``--prediction x0 --loss x0`` trains far faster than the
reference's noise prediction + ML loss, whose clean-image estimate divides the noise error by
``exp(-theta_bar_t dt)`` (down to 0.005): see bench/restore_cpu.py for the measured recipe.

Everything random in a step is a pure function of ``(seed, rank, step)`` (patch positions,
flips, timesteps, noise), and the shard streams restart at checkpoint boundaries, so a resumed
run ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import torch

from ..data.pairs import PatchBatches, derive_seed, load_val_samples
from ..data.prefetch import prefetch
from ..data.shards import check_index, load_index
from ..runtime.loop import RunContext, run
from ..runtime.schedule import warmup_cosine
from ..runtime.settings import TRAINER_DEFAULTS, RunSettings
from .config import LOSS_NAMES, TrainConfig
from .evaluate import validate
from .model import EMA, RestorationConfig, checkpoint_weights, create_model, embed, from_weights
from .sde import IRSDE, SDEConfig

log = logging.getLogger(__name__)

__all__ = ["LOSSES", "TrainConfig", "train"]

LOSSES = dict(zip(LOSS_NAMES, (IRSDE.loss, IRSDE.x0_loss), strict=True))
DEFAULTS = TRAINER_DEFAULTS["train-restore"]


def train(cfg: TrainConfig, settings: RunSettings) -> dict[str, Any]:
    """Train (or resume) a restoration model; returns a summary of the run (last metrics included)."""
    if settings.steps is None:
        settings = dataclasses.replace(settings, steps=DEFAULTS["steps"])
    return run(partial(RestorationTraining.build, cfg), settings)


def amp_dtype(cfg: Any) -> torch.dtype | None:
    """The autocast dtype on CUDA when ``cfg.amp`` (bfloat16 where supported); None elsewhere."""
    if not cfg.amp or not torch.cuda.is_available():
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


class RestorationTraining:
    """The runtime's task for IR-SDE restoration (see :class:`daclip.runtime.loop.Task`)."""

    name = "train-restore"
    log_every = DEFAULTS["log_every"]
    accum = 1
    find_unused_parameters = False

    def __init__(self, cfg: TrainConfig, ctx: RunContext, config: RestorationConfig, net: torch.nn.Module,
                 ema: EMA, encoder: Any, indexes: dict[str, Any], val_samples: list[dict[str, Any]]):
        self.cfg, self.ctx, self.config = cfg, ctx, config
        self.module, self.ema, self.encoder = net, ema, encoder
        self.sde = IRSDE(config.sde)
        self.indexes, self.val_samples = indexes, val_samples
        train_defaults = config.train
        self.batch_size, self.patch = int(train_defaults["batch_size"]), int(train_defaults["patch"])
        lr = float(train_defaults["lr"])
        self.total_steps = int(ctx.settings.steps or DEFAULTS["steps"])
        self.samples_per_step = self.batch_size
        self.grad_clip = cfg.grad_clip
        self.amp_dtype = amp_dtype(cfg)
        self.optimizer = torch.optim.AdamW(net.parameters(), lr=lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, warmup_cosine(self.total_steps, cfg.warmup, min_ratio=cfg.min_lr / lr))

    @classmethod
    def build(cls, cfg: TrainConfig, ctx: RunContext) -> RestorationTraining:
        encoder, context_dim = None, None
        if cfg.daclip:
            from ..loading import load as load_daclip

            encoder = load_daclip(cfg.daclip, device=str(ctx.device)).eval().requires_grad_(False)
            context_dim = int(encoder.embed_dim)
        ema_weights = None
        if ctx.resumed is not None:
            loaded = from_weights(ctx.resumed.weights, ctx.resumed.config)
            config, net, ema_weights = loaded.config, loaded.net, loaded.ema
            if config.unet.context_dim != context_dim:
                raise ValueError(f"--resume: the checkpoint's U-Net has context_dim {config.unet.context_dim}, "
                                 f"this run's DA-CLIP gives {context_dim}")
        else:
            daclip_ref = str(Path(cfg.daclip).resolve()) if cfg.daclip else None
            config, net = create_model(cfg.model, context_dim, daclip_ref, seed=ctx.settings.seed)
        config = _with_overrides(config, cfg, resumed=ctx.resumed is not None)
        net = net.to(ctx.device)
        ema = EMA(net, cfg.ema_decay, cfg.ema_every)
        if ema_weights is not None:
            ema.shadow.load_state_dict(ema_weights.state_dict())
        indexes = check_index(load_index(cfg.shards, cfg.split)).by_degradation()
        val_samples = []
        if ctx.settings.val and ctx.dist.main:
            val_samples = load_val_samples(ctx.settings.val, cfg.val_split, cfg.val_images, cfg.val_crop)
        return cls(cfg, ctx, config, net, ema, encoder, indexes, val_samples)

    def describe(self) -> str:
        params = sum(p.numel() for p in self.module.parameters()) / 1e6
        types = ", ".join(f"{k} {v.num_samples}" for k, v in self.indexes.items())
        return f"{self.config.name} ({params:.2f} M parameters) on {self.ctx.device}: {types}"

    def config_record(self) -> dict[str, Any]:
        return {"train": dataclasses.asdict(self.cfg), "model": self.config.to_dict()}

    def batches(self, start: int, save_every: int) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
        settings = self.ctx.settings
        batches = PatchBatches(self.indexes, self.batch_size, self.patch, settings.seed, self.ctx.dist.rank,
                               save_every, self.cfg.shuffle_buffer, mix=settings.mix or DEFAULTS["mix"],
                               decode_threads=self.ctx.workers, max_pixels=settings.max_pixels,
                               max_bad_fraction=settings.max_bad_fraction)
        return prefetch(batches(start)) if self.ctx.workers else batches(start)

    def loss(self, module: torch.nn.Module, batch: tuple[int, torch.Tensor, torch.Tensor],
             step: int) -> tuple[torch.Tensor, dict[str, float]]:
        _, lq, hq = batch
        device, sde = self.ctx.device, self.sde
        gen = torch.Generator().manual_seed(derive_seed(self.ctx.settings.seed, self.ctx.dist.rank, step, 2))
        lq, hq = lq.to(device, non_blocking=True), hq.to(device, non_blocking=True)
        content, degradation = embed(self.encoder, lq)
        t = sde.sample_timesteps(lq.shape[0], gen).to(device)
        noise = torch.randn(lq.shape, generator=gen).to(device)
        x_t = sde.add_noise(hq, lq, noise, t)
        with self.ctx.autocast(self.amp_dtype):
            pred = module(x_t, lq, t, content, degradation)
        loss = LOSSES[self.cfg.loss](sde, sde.noise_from_output(pred.float(), x_t, lq, t), x_t, hq, lq, t)
        return loss, {"loss": loss.item()}

    def after_step(self, step: int) -> None:
        self.ema.update(self.module, step)

    def summarize(self, sums: dict[str, float], steps: int) -> dict[str, float]:
        return {"loss": sums.get("loss", 0.0) / max(1, steps)}

    def validate(self, step: int) -> dict[str, Any] | None:
        if not self.val_samples:
            return None
        return validate(self.ema.shadow, self.sde, self.encoder, self.val_samples, self.cfg.val_steps,
                        self.ctx.device)

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


def _with_overrides(config: RestorationConfig, cfg: TrainConfig, resumed: bool) -> RestorationConfig:
    """The model config with this run's batch size, patch, learning rate, loss and prediction."""
    defaults = config.train
    sde_config = config.sde
    if cfg.prediction is not None and cfg.prediction != sde_config.prediction:
        if resumed:
            raise ValueError(f"--resume: the checkpoint predicts {sde_config.prediction!r}, not {cfg.prediction!r}")
        sde_config = SDEConfig.from_dict({**sde_config.to_dict(), "prediction": cfg.prediction})
    train = {**defaults, "batch_size": cfg.batch_size or int(defaults.get("batch_size", 8)),
             "patch": cfg.patch or int(defaults.get("patch", 128)), "lr": cfg.lr or float(defaults.get("lr", 2e-4)),
             "loss": cfg.loss}
    return RestorationConfig(name=config.name, unet=config.unet, sde=sde_config, daclip=config.daclip, train=train,
                             sampling=config.sampling)

