"""Where trained models come from: our checkpoint folders, or released files converted in memory.

The architecture modules (:mod:`daclip.controller.model`, :mod:`daclip.restoration.model`) only
rebuild a model from weights and a config (``from_weights``); reading a folder or a released
``.pt``/``.pth`` file (through :mod:`daclip.convert`) happens here, so the models never import
the converters that import them.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .controller.model import FORMAT as DACLIP_FORMAT
from .controller.model import DaCLIP, DaCLIPConfig
from .controller.model import from_weights as daclip_from_weights
from .convert.command import convert_file
from .restoration.model import FORMAT as RESTORE_FORMAT
from .restoration.model import LoadedRestoration, RestorationConfig
from .restoration.model import from_weights as restoration_from_weights
from .restoration.onestep import FORMAT as ONESTEP_FORMAT
from .restoration.onestep import LoadedOneStep, OneStepConfig
from .restoration.onestep import from_weights as onestep_from_weights
from .runtime.checkpoint import load_checkpoint, resolve_checkpoint

__all__ = ["RESTORERS", "load", "load_encoder", "load_restoration", "load_restorer"]

# restoration checkpoint formats (config.json "format") -> the architecture's from_weights
RESTORERS = {RESTORE_FORMAT: restoration_from_weights, ONESTEP_FORMAT: onestep_from_weights}


def load(path: str | os.PathLike, device: str | torch.device = "cpu") -> DaCLIP:
    """Load a trained DA-CLIP from a checkpoint folder or a run folder (its latest checkpoint),
    or a released DA-CLIP file (``daclip_ViT-B-32.pt``: converted in memory, see :mod:`daclip.convert`).

    The base CLIP is built without weights (no download) and everything comes from the
    checkpoint's ``model.safetensors``.
    """
    if os.path.isfile(path):
        weights, config = convert_file(path, kind="daclip")
    else:
        weights, config, _ = load_checkpoint(path)
    model_config = config.get("model", config)
    if model_config.get("format") != DACLIP_FORMAT:
        raise ValueError(f"{path} is not a DA-CLIP checkpoint (config format {model_config.get('format')!r})")
    return daclip_from_weights(DaCLIPConfig.from_dict(model_config), weights).to(device).eval()


def load_restoration(
    path: str | os.PathLike, device: str | torch.device = "cpu", with_state: bool = False
) -> LoadedRestoration | LoadedOneStep:
    """Load a restoration checkpoint (a folder, or a run folder with ``checkpoints/latest``), or a
    released U-Net file (``universal-ir.pth``, ``wild-ir.pth``: converted in memory, see :mod:`daclip.convert`).

    The config's ``format`` picks the architecture (:data:`RESTORERS`): an IR-SDE U-Net
    (:class:`LoadedRestoration`) or a one-step NAFNet (:class:`LoadedOneStep`)."""
    if os.path.isfile(path):
        state, raw_config = convert_file(path, kind="unet")
        return restoration_from_weights(state, raw_config, device)
    state, raw_config, training_state = load_checkpoint(path, with_state=with_state)
    ref = raw_config.get("daclip")
    if ref and not Path(ref).is_absolute():  # relocatable pairs: relative to the checkpoint folder
        raw_config = {**raw_config, "daclip": str((resolve_checkpoint(path) / ref).resolve())}
    from_weights = RESTORERS.get(raw_config.get("format"), restoration_from_weights)  # its error names the format
    return from_weights(state, raw_config, device, training_state)


def load_restorer(path: str | os.PathLike, device: str | torch.device = "cpu") -> LoadedRestoration | LoadedOneStep:
    """:func:`load_restoration` ready for inference, in eval mode: an IR-SDE model has
    ``.unet(x_t, mu, t, content=..., degradation=...)`` and ``.sde``; a one-step one
    ``.inference_net()(lq, degradation, content)``."""
    loaded = load_restoration(path, device=device)
    loaded.inference_net("ema").eval()
    return loaded


def load_encoder(config: RestorationConfig | OneStepConfig, device: str | torch.device,
                 override: str | None = None) -> DaCLIP | None:
    """The frozen DA-CLIP a restoration model was trained with (or ``override``), None if unconditioned."""
    if not config.conditioned:
        return None
    path = override or config.daclip
    if not path:
        raise ValueError("this restoration model is DA-CLIP conditioned but its config names no DA-CLIP "
                         "checkpoint: pass --daclip")
    encoder = load(path, device=device)
    if int(encoder.embed_dim) != config.embed_dim:
        raise ValueError(f"DA-CLIP at {path} has embed_dim {encoder.embed_dim}, the restorer expects "
                         f"{config.embed_dim}")
    return encoder.eval().requires_grad_(False)
