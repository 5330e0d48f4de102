"""The app's models: a DA-CLIP for degradation probabilities and a restorer for the tiled path.

Both are optional; :func:`missing_help` says how to get what is missing. Images come in as bytes
(an upload) or as one of the bundled photos chosen by name, and are decoded by the guarded
:func:`pipelines.common.images.load_image`: a request never names a file.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipelines.common.images import DEFAULT_MAX_PIXELS, load_image

__all__ = ["Models", "bundled_photos", "load_models", "missing_help"]

HOW_TO = {
    "daclip": "train one with `train-daclip --out runs/daclip ...`, or convert the released weights with "
              "`daclip convert daclip_ViT-B-32.pt --out models/daclip-b32`, then start the app with "
              "`--ckpt DIR`",
    "restorer": "train one with `train-restore --out runs/restore ...`, or convert the released U-Net with "
                "`daclip convert universal-ir.pth --out models/universal-ir --daclip models/daclip-b32`, then "
                "start the app with `--restorer DIR`",
}


def missing_help(what: str) -> str:
    return f"No {'DA-CLIP checkpoint' if what == 'daclip' else 'restoration model'} loaded: {HOW_TO[what]}."


def bundled_photos() -> dict[str, str]:
    """Display name -> path of scikit-image's sample photos (the only files the restore tab reads)."""
    from pipelines.build.sources import bundled_photos as listed

    try:
        return {s.source.removeprefix("skimage:"): s.path for s in listed()}
    except FileNotFoundError:
        return {}


@dataclass
class Models:
    daclip: Any | None = None
    restorer: Any | None = None  # a LoadedRestoration or LoadedOneStep
    encoder: Any | None = None  # the DA-CLIP the restorer is conditioned on (None: unconditioned)
    sampling: Any | None = None
    device: str = "cpu"
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    photos: dict[str, str] = field(default_factory=bundled_photos)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def read(self, data: bytes | None, photo: str | None) -> np.ndarray:
        """The upload's pixels, else the bundled photo named ``photo``; ImageError/ValueError say why not."""
        if data is not None:
            return load_image(bytes(data), self.max_pixels)
        if photo:
            if photo not in self.photos:
                raise ValueError(f"unknown bundled photo {photo!r}")
            return load_image(self.photos[photo], self.max_pixels)
        raise ValueError("upload an image or pick a bundled photo first")

    def probabilities(self, img: np.ndarray) -> dict[str, float]:
        """DA-CLIP's probabilities over the ten degradations."""
        import torch

        from degradations import NAMES

        from ..data.transforms import to_float

        with self._lock, torch.no_grad():
            x = self.daclip.preprocess_tensor(to_float(img)[None].to(self.device))
            probs = self.daclip.classify(x)[0].float().cpu()
        return {name: float(p) for name, p in zip(NAMES, probs)}

    def restore(self, img: np.ndarray, on_tiles: Callable[[int], None] | None = None) -> np.ndarray:
        """The restored image through the tiled path (same size as ``img``)."""
        import torch

        from ..restoration.restore import restore_image

        net = self.restorer.inference_net("ema")
        with self._lock, torch.no_grad():
            return restore_image(self.restorer, net, self.encoder, img, self.sampling, self.device, on_tiles)

    def network_calls(self, img: np.ndarray) -> int:
        from ..restoration.restore import network_calls

        return network_calls(self.restorer, img.shape[0], img.shape[1], self.sampling)


def load_models(ckpt: str | None, restorer: str | None, sampling: Any, device: str = "cpu",
                max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Models:
    """Load what was given; a restorer conditioned on DA-CLIP uses its config's DA-CLIP, else ``ckpt``."""
    from pipelines.common.devices import resolve_device

    device = str(resolve_device(device))
    models = Models(device=device, max_pixels=max_pixels)
    if ckpt:
        from ..loading import load

        models.daclip = load(ckpt, device=device).eval()
    if restorer:
        from ..loading import load_encoder, load_restoration

        loaded = load_restoration(restorer, device=device)
        loaded.inference_net("ema").eval()
        models.restorer = loaded
        override = ckpt if loaded.config.conditioned and not loaded.config.daclip else None
        models.encoder = load_encoder(loaded.config, device, override)
        models.sampling = sampling.resolved(loaded.config.sampling)
    return models
