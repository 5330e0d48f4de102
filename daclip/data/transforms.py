"""CLIP image transforms on uint8 arrays and the per-sample training stage (runs in DataLoader workers).

Train: RandomResizedCrop(image_size, scale 0.9-1.0, ratio 3/4-4/3, bicubic with antialias) and
OpenAI normalisation, as DA-CLIP trains (whole LQ images, no patches). Val/inference: bicubic
resize of the shorter side to image_size, centre crop, same normalisation. LQ and HQ get the same
crop so they stay pixel-aligned. Crops are drawn from an explicit ``np.random.Generator`` seeded
per (run seed, rank, worker): the stream is deterministic for a given worker count.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
_MEAN = torch.tensor(OPENAI_MEAN).view(3, 1, 1)
_STD = torch.tensor(OPENAI_STD).view(3, 1, 1)


def random_resized_crop_box(
    rng: np.random.Generator,
    height: int,
    width: int,
    scale: tuple[float, float] = (0.9, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> tuple[int, int, int, int]:
    """``(top, left, h, w)`` as torchvision's RandomResizedCrop draws it, from ``rng``."""
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(*log_ratio))
        w = round(math.sqrt(target * aspect))
        h = round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            top = int(rng.integers(0, height - h + 1))
            left = int(rng.integers(0, width - w + 1))
            return top, left, h, w
    # fallback: centre crop at the nearest allowed aspect ratio
    in_ratio = width / height
    if in_ratio < ratio[0]:
        w, h = width, round(width / ratio[0])
    elif in_ratio > ratio[1]:
        h, w = height, round(height * ratio[1])
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


def to_float(img: np.ndarray) -> torch.Tensor:
    """HxWx3 uint8 -> 3xHxW float in [0, 1]."""
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f"expected an HxWx3 uint8 image, got {img.dtype} {img.shape}")
    return torch.from_numpy(np.require(img, requirements=("C", "W"))).permute(2, 0, 1).float().div_(255.0)


def normalize(x: torch.Tensor) -> torch.Tensor:
    """OpenAI CLIP mean/std on a ...x3xHxW float tensor in [0, 1]."""
    return (x - _MEAN.to(x.device)) / _STD.to(x.device)


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bicubic with antialias (close to PIL's), clamped back to [0, 1]."""
    batched = x.ndim == 4
    x = x if batched else x.unsqueeze(0)
    if tuple(x.shape[-2:]) != tuple(size):
        x = F.interpolate(x, size=size, mode="bicubic", align_corners=False, antialias=True).clamp_(0, 1)
    return x if batched else x[0]


def resize_center_crop(x: torch.Tensor, image_size: int) -> torch.Tensor:
    """Shorter side -> ``image_size`` (bicubic), then the centre ``image_size`` square."""
    h, w = x.shape[-2:]
    s = image_size
    scale = s / min(h, w)
    nh, nw = max(s, round(h * scale)), max(s, round(w * scale))
    x = resize(x, (nh, nw))
    top, left = (nh - s) // 2, (nw - s) // 2
    return x[..., top : top + s, left : left + s]


def preprocess_tensor(x: torch.Tensor, image_size: int) -> torch.Tensor:
    """Float Bx3xHxW in [0, 1], any size -> normalised CLIP input."""
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"expected a Bx3xHxW tensor, got shape {tuple(x.shape)}")
    return normalize(resize_center_crop(x.float(), image_size))


def val_image(img: np.ndarray, image_size: int) -> torch.Tensor:
    """uint8 HxWx3 -> normalised 3xSxS (resize + centre crop)."""
    return normalize(resize_center_crop(to_float(img), image_size))


def train_images(
    images: list[np.ndarray], image_size: int, rng: np.random.Generator
) -> list[torch.Tensor]:
    """One RandomResizedCrop box (from the first image's size) applied to all: LQ/HQ stay aligned."""
    h, w = images[0].shape[:2]
    top, left, ch, cw = random_resized_crop_box(rng, h, w)
    out = []
    for img in images:
        crop = to_float(img)[:, top : top + ch, left : left + cw]
        out.append(normalize(resize(crop, (image_size, image_size))))
    return out


class ToTensors:
    """Stream stage: decoded sample dicts -> model-ready tensors (crops, tokens, label, multi-hot
    target, masks).

    A class so it pickles into DataLoader workers; its generator is seeded per (seed, rank,
    worker) when iteration starts. ``train=False`` uses the deterministic val transform.
    """

    def __init__(self, image_size: int, tokenizer, seed: int = 0, train: bool = True, with_hq: bool = False):
        self.image_size = image_size
        self.tokenizer = tokenizer
        self.seed = seed
        self.train = train
        self.with_hq = with_hq

    def __call__(self, source: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        import webdataset as wds

        rank, _, worker, _ = wds.utils.pytorch_worker_info()
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, rank, worker]))
        for sample in source:
            has_hq = self.with_hq and "hq" in sample
            images = [sample["lq"]] + ([sample["hq"]] if has_hq else [])
            if has_hq and sample["hq"].shape != sample["lq"].shape:
                images[1] = _match_size(sample["hq"], sample["lq"].shape)
            if self.train:
                tensors = train_images(images, self.image_size, rng)
            else:
                tensors = [val_image(img, self.image_size) for img in images]
            caption = sample.get("caption")
            out = {
                "key": sample["key"],
                "image": tensors[0],
                "label": int(sample["label"]),
                "target": torch.tensor(sample["target"], dtype=torch.float32),
                "has_caption": caption is not None,
                "text": self.tokenizer([caption or ""])[0],
            }
            if self.with_hq:  # an LQ-only row gets a zero HQ image, masked out by has_hq
                out["hq"] = tensors[1] if has_hq else torch.zeros_like(tensors[0])
                out["has_hq"] = has_hq
            yield out


def _match_size(img: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    import cv2

    return cv2.resize(img, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
