"""``train-restore``'s own settings and their choices, free of torch so the CLI builds its flags
(and their defaults) from here without importing the model."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LOSS_NAMES", "PREDICTIONS", "TrainConfig"]

LOSS_NAMES = ("ml", "x0")  # the keys of daclip.restoration.trainer.LOSSES
PREDICTIONS = ("noise", "x0")  # what the network outputs (daclip.restoration.sde.SDEConfig.prediction)


@dataclass(frozen=True)
class TrainConfig:
    """Restoration's own settings; the run's (steps, checkpoints, device, ...) are a RunSettings."""

    shards: tuple[str, ...]
    model: str = "tiny"
    daclip: str | None = None  # None: unconditioned IR-SDE baseline (--no-daclip)
    split: str | None = "train"
    val_split: str | None = "val"
    batch_size: int | None = None  # None: the model config's default
    patch: int | None = None
    lr: float | None = None
    warmup: int = 0  # linear learning-rate warmup steps before the cosine decay
    grad_clip: float | None = None  # clip the gradient norm to this (None: off); guards high learning rates
    prediction: str | None = None  # network output, "noise" or "x0" (default: the model config's, else noise)
    loss: str = "ml"  # "ml": IR-SDE's L1 on the reverse-step mean; "x0": L1 on the implied clean image
    min_lr: float = 1e-6
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.99)
    ema_decay: float = 0.995
    ema_every: int = 10
    val_images: int = 8
    val_crop: int = 128
    val_steps: int | None = None
    amp: bool = True
    shuffle_buffer: int = 64

    def __post_init__(self) -> None:
        if not self.shards:
            raise ValueError("give at least one --shards manifest")
        if self.loss not in LOSS_NAMES:
            raise ValueError(f"unknown loss {self.loss!r}; valid: {sorted(LOSS_NAMES)}")
        if self.warmup < 0:
            raise ValueError("warmup must be >= 0")
