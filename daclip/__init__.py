"""DA-CLIP models, streaming loaders, trainers, the IR-SDE restoration model and the
inference CLIs. Reads manifests through ``pipelines``; never the reverse.

>>> model = daclip.load("runs/daclip")          # a trained DA-CLIP (controller + frozen CLIP)
>>> content, degradation = model.encode_image(x)
>>> probs = model.classify(x)                    # over degradations.NAMES
"""

from __future__ import annotations

from typing import Any

__all__ = ["load"]


def load(path: str, device: str = "cpu") -> Any:
    """Load a trained DA-CLIP model from a run or checkpoint folder (see :mod:`daclip.controller.model`)."""
    from .controller.model import load as _load

    return _load(path, device=device)
