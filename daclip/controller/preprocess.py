"""The reference's CLIP preprocessing, exactly: open_clip's PIL transform on uint8 images.

DA-CLIP's ``clip_transform`` (and its demo) turn the float LQ image back into uint8, then resize
the shorter side with PIL's bicubic filter, centre-crop and normalise with the OpenAI mean/std.
PIL rounds to uint8 after resizing, so a float-tensor resize cannot match it to 1e-5;
``DaCLIPConfig(preprocess="pil")`` uses this instead (converted released weights do).
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["pil_preprocess"]

_TRANSFORMS: dict[int, object] = {}


def _transform(image_size: int):
    if image_size not in _TRANSFORMS:
        from open_clip import image_transform

        _TRANSFORMS[image_size] = image_transform(image_size, is_train=False)
    return _TRANSFORMS[image_size]


def pil_preprocess(x: torch.Tensor, image_size: int) -> torch.Tensor:
    """Float Bx3xHxW in [0, 1] -> normalised CLIP input (B x 3 x S x S), through uint8 and PIL."""
    from PIL import Image

    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"expected a Bx3xHxW tensor, got shape {tuple(x.shape)}")
    arrays = x.detach().float().mul(255).round().clamp(0, 255).byte().permute(0, 2, 3, 1).cpu().numpy()
    transform = _transform(image_size)
    return torch.stack([transform(Image.fromarray(np.ascontiguousarray(a))) for a in arrays])
