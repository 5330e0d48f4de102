"""Native-resolution views of a photo for classification.

Resizing a 1600x1200 photo to 224 px erases what tells JPEG blocks, sensor noise or motion blur
apart, so ``daclip classify --crops N`` classifies N crops of the model's input size taken from the
photo at its own resolution, spread evenly over it, and averages their probabilities. An image
smaller than the input size in either dimension has no native crop: it gets the usual resized view.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["crop_boxes", "native_crops"]


def _starts(length: int, size: int, count: int) -> list[int]:
    if count == 1:
        return [(length - size) // 2]
    return [round(i * (length - size) / (count - 1)) for i in range(count)]


def crop_boxes(height: int, width: int, size: int, n: int) -> list[tuple[int, int]]:
    """``n`` (top, left) corners of ``size`` x ``size`` crops on an even grid (deterministic); [] when
    the image is smaller than ``size``."""
    if n < 1:
        raise ValueError(f"crops must be >= 1, got {n}")
    if height < size or width < size:
        return []
    rows = cols = math.ceil(math.sqrt(n))
    grid = [(top, left) for top in _starts(height, size, rows) for left in _starts(width, size, cols)]
    picks = np.linspace(0, len(grid) - 1, n).round().astype(int)
    return [grid[i] for i in picks]


def native_crops(image: torch.Tensor, size: int, n: int) -> torch.Tensor | None:
    """``image`` 3 x H x W -> n x 3 x size x size crops at native scale, or None if it is too small."""
    boxes = crop_boxes(int(image.shape[-2]), int(image.shape[-1]), size, n)
    if not boxes:
        return None
    return torch.stack([image[:, top : top + size, left : left + size] for top, left in boxes])
