"""``train-restore``'s own settings and their choices, free of torch so the CLI builds its flags
(and their defaults) from here without importing the model."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ARCHS", "CONDITIONS", "LOSS_NAMES", "ONESTEP_LOSS_NAMES", "PREDICTIONS", "OneStepTrainConfig",
           "TrainConfig"]

ARCHS = ("irsde", "nafnet")  # train-restore --arch: TrainConfig, OneStepTrainConfig
LOSS_NAMES = ("ml", "x0")  # the keys of daclip.restoration.trainer.LOSSES
ONESTEP_LOSS_NAMES = ("psnr", "l1")  # the keys of daclip.restoration.onestep_trainer.LOSSES
PREDICTIONS = ("noise", "x0")  # what the network outputs (daclip.restoration.sde.SDEConfig.prediction)
CONDITIONS = ("none", "daclip", "oracle")  # daclip.restoration.nafnet.CONDITIONS


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


@dataclass(frozen=True)
class OneStepTrainConfig:
    """``train-restore --arch nafnet``: the one-step NAFNet's settings (run settings apart, as above)."""

    shards: tuple[str, ...]
    condition: str = "none"  # none | daclip (DA-CLIP's image embedding) | oracle (the true type's text embedding)
    model: str = "nafnet-demo"
    daclip: str | None = None  # needed by condition daclip and oracle
    split: str | None = "train"
    val_split: str | None = "val"
    batch_size: int | None = None  # None: the model config's default
    patch: int | None = None
    lr: float | None = None
    warmup: int = 0
    grad_clip: float | None = None
    loss: str | None = None  # "psnr" (NAFNet's -PSNR) or "l1"; None: the model config's, else psnr
    min_lr: float = 1e-6
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.9)  # NAFNet's
    ema_decay: float = 0.995
    ema_every: int = 10
    val_images: int = 8
    val_crop: int = 128
    amp: bool = True
    shuffle_buffer: int = 64

    def __post_init__(self) -> None:
        if not self.shards:
            raise ValueError("give at least one --shards manifest")
        if self.condition not in CONDITIONS:
            raise ValueError(f"unknown condition {self.condition!r}; valid: {list(CONDITIONS)}")
        if self.loss is not None and self.loss not in ONESTEP_LOSS_NAMES:
            raise ValueError(f"--loss {self.loss} is not a one-step loss; valid with --arch nafnet: "
                             f"{list(ONESTEP_LOSS_NAMES)}")
        if self.condition == "none" and self.daclip:
            raise ValueError("--condition none uses no DA-CLIP: drop --daclip (or pick --condition daclip/oracle)")
        if self.condition != "none" and not self.daclip:
            raise ValueError(f"--condition {self.condition} needs --daclip PATH (a trained DA-CLIP)")
        if self.warmup < 0:
            raise ValueError("warmup must be >= 0")
