"""``train-daclip``: the DA-CLIP controller on a frozen CLIP, streamed from the shards.

This module holds only what is DA-CLIP's own: the model (frozen open_clip CLIP + controller,
or the one in the checkpoint being resumed), its batches (per-degradation resampled shard
streams mixed by ``--mix``, random crops, tokenised captions, multi-hot targets) and its loss
(captions InfoNCE + degradation term, :mod:`daclip.controller.losses`).

``--degradation-loss auto`` (the default) picks ``ce`` when every training row has one type (so
single-type runs train exactly as before) and ``bce`` (multi-label, sigmoid per type; the model
then gets ``multi_label=True`` and a learned logit bias) when any row is a mixture. ``ce`` or
``infonce`` named explicitly on data with mixtures is refused with one line. Rows labelled
``unknown`` train no degradation term (they feed the content term when captioned); a resumed run
keeps its checkpoint's kind. The loop, resume, checkpoints, time budget,
DDP and logging are the shared runtime's (:mod:`daclip.runtime`).

Multi-GPU/multi-node: run under ``torchrun``; each rank reads its own resampled shard stream
and the contrastive loss is computed per rank (features not gathered).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from functools import partial
from typing import Any

import torch

from ..data.health import DataStreamError, stream_error
from ..data.loaders import eval_loader, train_loader
from ..data.segments import segmented_batches
from ..data.shards import ShardIndex, check_index, load_index
from ..runtime.loop import RunContext, run
from ..runtime.schedule import warmup_cosine
from ..runtime.settings import TRAINER_DEFAULTS, RunSettings
from .config import AUTO, MULTI_LABEL_LOSSES, TrainConfig
from .evaluate import val_accuracy
from .losses import DEGRADATION_LOSSES, LossConfig
from .metrics import exact_set_hits, training_prediction
from .model import DaCLIP, DaCLIPConfig, build, from_weights, state_for_checkpoint
from .task import TrainingTask, param_groups

log = logging.getLogger(__name__)

__all__ = ["TrainConfig", "train"]

DEFAULTS = TRAINER_DEFAULTS["train-daclip"]


def resolve_degradation_loss(requested: str, index: ShardIndex, resumed_multi_label: bool | None = None) -> str:
    """The degradation loss a run trains with (see the module docstring); ValueError (one line)
    for a single-type loss on data with mixtures, or a loss that does not fit the resumed model."""
    if requested == AUTO:
        if resumed_multi_label is not None:
            return "bce" if resumed_multi_label else "ce"
        return "bce" if index.num_mixtures else "ce"
    if requested not in MULTI_LABEL_LOSSES and index.num_mixtures:
        raise ValueError(f"--degradation-loss {requested} trains one type per image, but {index.num_mixtures} of "
                         f"{index.num_samples} training rows are mixtures: use --degradation-loss bce (or auto)")
    if resumed_multi_label is not None and resumed_multi_label != (requested in MULTI_LABEL_LOSSES):
        kind = "multi-label" if resumed_multi_label else "single-type"
        raise ValueError(f"the checkpoint being resumed is a {kind} model; --degradation-loss {requested} does not "
                         f"fit it (use auto)")
    return requested


def train(cfg: TrainConfig, settings: RunSettings) -> dict[str, Any]:
    """Train (or resume) and return a summary: steps, last loss/accuracy, val accuracy, samples/s."""
    return run(partial(DaCLIPTraining.build, cfg), settings)


def to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


class DaCLIPTraining:
    """The runtime's task for DA-CLIP (see :class:`daclip.runtime.loop.Task`)."""

    name = "train-daclip"
    log_every = DEFAULTS["log_every"]
    amp_dtype = torch.float16
    grad_clip = None

    def __init__(self, cfg: TrainConfig, ctx: RunContext, index: ShardIndex, val_index: ShardIndex | None,
                 model: DaCLIP, model_cfg: DaCLIPConfig, total_steps: int):
        if cfg.degradation_loss not in DEGRADATION_LOSSES:
            raise ValueError(f"resolve --degradation-loss {cfg.degradation_loss} before building the task")
        self.cfg, self.ctx, self.index = cfg, ctx, index
        self.model, self.model_cfg = model, model_cfg
        self.total_steps = total_steps
        self.accum = cfg.accum
        self.samples_per_step = cfg.batch_size * cfg.accum
        self.module = TrainingTask(model, LossConfig(cfg.degradation_loss, cfg.hq_align_weight))
        # batches without captions (and no HQ term, or no HQ image) leave the zero linears out of the loss
        self.find_unused_parameters = index.num_captioned < index.num_samples and (
            cfg.hq_align_weight == 0 or index.num_with_hq < index.num_samples)
        self.optimizer = torch.optim.AdamW(param_groups(model, cfg.weight_decay), lr=cfg.lr, betas=(0.9, 0.98),
                                           eps=1e-6)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, warmup_cosine(total_steps, cfg.warmup))
        self.val_loader = None
        if val_index is not None:
            self.val_loader = eval_loader(val_index, image_size=model.image_size, tokenizer=model.tokenizer,
                                          batch_size=cfg.batch_size, workers=ctx.workers, persistent=True,
                                          max_pixels=ctx.settings.max_pixels)
        self._train_loader = None

    @classmethod
    def build(cls, cfg: TrainConfig, ctx: RunContext) -> DaCLIPTraining:
        index = check_index(load_index(cfg.shards, split=cfg.train_split))
        val_index = check_index(load_index(ctx.settings.val, split=cfg.val_split)) if ctx.settings.val else None
        resumed_cfg = DaCLIPConfig.from_dict(ctx.resumed.config["model"]) if ctx.resumed is not None else None
        loss = resolve_degradation_loss(cfg.degradation_loss, index,
                                        None if resumed_cfg is None else resumed_cfg.multi_label)
        cfg = dataclasses.replace(cfg, degradation_loss=loss)  # the record names the loss that trained
        if ctx.dist.main:
            _report_captions(index, cfg.hq_align_weight)
            _report_labels(index, loss)
        global_batch = cfg.batch_size * cfg.accum * ctx.dist.world
        total = ctx.settings.steps or cfg.epochs * max(1, index.num_samples // global_batch)
        if resumed_cfg is not None:
            model_cfg = resumed_cfg
            model = from_weights(model_cfg, ctx.resumed.weights)
        else:
            model_cfg = DaCLIPConfig(cfg.model, cfg.pretrained, cfg.control_order, init_seed=ctx.settings.seed,
                                     multi_label=loss in MULTI_LABEL_LOSSES)
            model = build(model_cfg)
        model.to(ctx.device).train()
        return cls(cfg, ctx, index, val_index, model, model_cfg, total)

    def describe(self) -> str:
        trainable = sum(p.numel() for _, p in self.model.trainable_parameters())
        return (f"{self.cfg.model}: {trainable} trainable / {sum(p.numel() for p in self.model.parameters())} "
                f"parameters; {self.index.num_samples} samples (global batch "
                f"{self.samples_per_step * self.ctx.dist.world})")

    def config_record(self) -> dict[str, Any]:
        return {"train": dataclasses.asdict(self.cfg), "model": self.model_cfg.to_dict()}

    def batches(self, start: int, save_every: int) -> Iterator[dict[str, Any]]:
        self._train_loader = train_loader(
            self.index, seed=self.ctx.settings.seed, start=start, every=save_every, batch_size=self.cfg.batch_size,
            workers=self.ctx.workers, image_size=self.model.image_size, tokenizer=self.model.tokenizer,
            with_hq=self.cfg.hq_align_weight > 0, shuffle_buffer=self.cfg.shuffle_buffer,
            mix=self.ctx.settings.mix or DEFAULTS["mix"], max_pixels=self.ctx.settings.max_pixels,
            max_bad_fraction=self.ctx.settings.max_bad_fraction,
        )
        try:
            for batch in segmented_batches(self._train_loader, start, save_every, per_step=self.accum):
                yield to_device(batch, self.ctx.device)
        except DataStreamError as exn:  # raised in a loader worker: keep its one-line message
            raise stream_error(exn) from None

    def loss(self, module: torch.nn.Module, batch: dict[str, Any], step: int) -> tuple[torch.Tensor, dict[str, float]]:
        with self.ctx.autocast(self.amp_dtype):
            terms, logits = module(batch)
        # exact-set accuracy over the labelled rows: top-1 == label for a single-type model
        probs = self.model.probabilities(logits.detach().float())
        correct, seen = exact_set_hits(training_prediction(probs, self.model.probability_kind), batch["target"])
        stats = {"loss": float(terms["total"].detach()) / self.accum, "correct": float(correct), "seen": float(seen)}
        return terms["total"], stats

    def after_step(self, step: int) -> None:
        self.model.clamp_logit_scale()

    def summarize(self, sums: dict[str, float], steps: int) -> dict[str, float]:
        return {
            "loss": round(sums.get("loss", 0.0) / max(1, steps), 5),
            "accuracy": round(sums.get("correct", 0.0) / max(1.0, sums.get("seen", 0.0)), 4),
            "logit_scale": round(float(self.model.logit_scale.detach().exp()), 3),
        }

    def validate(self, step: int) -> dict[str, Any] | None:
        if self.val_loader is None:
            return None
        return {"val_accuracy": val_accuracy(self.model, self.val_loader, self.ctx.device, self.ctx.dist)}

    def format_validation(self, step: int, metrics: dict[str, Any]) -> str:
        return f"step {step}: val accuracy {metrics['val_accuracy']:.3f}"

    def checkpoint(self, step: int) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        config = {"model": self.model_cfg.to_dict(), "train": dataclasses.asdict(self.cfg),
                  "run": dataclasses.asdict(self.ctx.settings), "step": step}
        return state_for_checkpoint(self.model), config

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass

    def close(self) -> None:
        self._train_loader = self.val_loader = None  # persistent workers end with their loader


def _report_captions(index: ShardIndex, hq_align_weight: float) -> None:
    uncaptioned = index.num_samples - index.num_captioned
    if uncaptioned:
        log.info("%d of %d training samples have no caption: they train the degradation term only%s",
                 uncaptioned, index.num_samples, "" if index.num_captioned else " (no content loss at all)")
    if index.num_with_hq < index.num_samples and hq_align_weight > 0:
        log.info("%d of %d training samples have no HQ image: they are left out of the HQ-alignment term",
                 index.num_samples - index.num_with_hq, index.num_samples)
    if not index.num_captioned and hq_align_weight == 0:
        log.warning("no captions and --hq-align-weight 0: the content path gets no gradient, so the content "
                    "embedding stays plain CLIP's (caption the data or set --hq-align-weight)")


def _report_labels(index: ShardIndex, loss: str) -> None:
    if index.num_mixtures:
        log.info("%d of %d training samples are mixtures: degradation loss %s (multi-hot targets)",
                 index.num_mixtures, index.num_samples, loss)
    if index.num_unknown:
        log.info("%d of %d training samples are labelled unknown: they train no degradation term%s",
                 index.num_unknown, index.num_samples,
                 "" if index.num_unknown < index.num_samples else " (no degradation term at all)")

