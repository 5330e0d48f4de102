"""DA-CLIP models and the IR-SDE restoration model: training, inference CLIs. Reads manifests
through ``pipelines``; never the reverse.

Subpackages, by model:

- ``daclip.controller``: the DA-CLIP controller on a frozen open_clip CLIP (model, CLIP factory and
  ``model_configs/``, losses, ``daclip classify``/``evaluate``, the ``train-daclip`` trainer);
- ``daclip.restoration``: the conditional U-Net, the IR-SDE and samplers, the restoration model
  (``restore_configs/``, EMA, checkpoints), ``daclip restore``/``evaluate-restore``, PSNR/SSIM/LPIPS,
  the ``train-restore`` trainer;
- ``daclip.data``: manifest index and shard streams, transforms, loaders, restoration patch batches;
- ``daclip.runtime``: what trainers share: checkpoints (safetensors + JSON) and the torchrun process group;
- ``daclip.cli``: the ``daclip`` console group (subcommands imported on use).

>>> model = daclip.load("runs/daclip")          # a trained DA-CLIP (controller + frozen CLIP)
>>> content, degradation = model.encode_image(x)
>>> probs = model.classify(x)                    # over degradations.NAMES
>>> restorer = daclip.load_restorer("runs/restore")   # or a converted / released U-Net
>>> eps = restorer.unet(x_t, mu, t, content=content, degradation=degradation)
"""

from __future__ import annotations

from typing import Any

__all__ = ["load", "load_restorer"]


def load(path: str, device: str = "cpu") -> Any:
    """Load a DA-CLIP from a run or checkpoint folder, or a released ``daclip_*.pt`` file
    (converted in memory): :func:`daclip.loading.load`."""
    from .loading import load as _load

    return _load(path, device=device)


def load_restorer(path: str, device: str = "cpu") -> Any:
    """Load a restoration model: ``.unet(x_t, mu, t, content=..., degradation=...)`` and ``.sde``.

    ``path``: a train-restore run or checkpoint folder, a ``daclip convert`` folder, or a released
    U-Net file (converted in memory). See :func:`daclip.loading.load_restorer`.
    """
    from .loading import load_restorer as _load_restorer

    return _load_restorer(path, device=device)
