"""``train-daclip``'s own settings and their choices, free of torch so the CLI builds its flags
(and their defaults) from here without importing the model."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AUTO", "CONTROL_ORDERS", "DEGRADATION_LOSS_CHOICES", "DEGRADATION_LOSS_NAMES", "MULTI_LABEL_LOSSES",
           "TrainConfig"]

CONTROL_ORDERS = ("aligned", "reversed")  # controller -> encoder block pairing (see daclip.controller.model)
DEGRADATION_LOSS_NAMES = ("ce", "infonce", "bce")  # the keys of daclip.controller.losses.DEGRADATION_LOSSES
MULTI_LABEL_LOSSES = frozenset({"bce"})  # losses that read the multi-hot target (and the model's logit bias)
AUTO = "auto"  # ce on single-type data, bce when mixtures are present
DEGRADATION_LOSS_CHOICES = (AUTO, *DEGRADATION_LOSS_NAMES)


@dataclass(frozen=True)
class TrainConfig:
    """DA-CLIP's own settings; the run's (steps, checkpoints, device, ...) are a RunSettings."""

    shards: tuple[str, ...]
    model: str = "ViT-B-32"
    pretrained: str = "laion2b_s34b_b79k"
    control_order: str = "aligned"
    epochs: int = 1  # run length when --steps is not given: epochs x (manifest samples / global batch)
    batch_size: int = 64
    accum: int = 1
    lr: float = 3e-5
    warmup: int = 100
    weight_decay: float = 0.05
    degradation_loss: str = AUTO
    hq_align_weight: float = 0.0
    shuffle_buffer: int = 256
    train_split: str | None = None
    val_split: str | None = None

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.accum < 1:
            raise ValueError("--batch-size and --accum must be >= 1")
        if self.epochs < 1:
            raise ValueError("--epochs must be >= 1")
        if self.degradation_loss not in DEGRADATION_LOSS_CHOICES:
            raise ValueError(f"unknown degradation loss {self.degradation_loss!r}; "
                             f"choose from {sorted(DEGRADATION_LOSS_NAMES)}")
        if self.hq_align_weight < 0:
            raise ValueError("hq_align_weight must be >= 0")
