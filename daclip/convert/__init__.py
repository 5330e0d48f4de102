"""Converters from the DA-CLIP reference code's released checkpoints to ours (``daclip convert``).

- ``official_daclip``: the controller checkpoints (key map, open_clip config from the shapes);
- ``official_unet``: the restoration U-Nets, daclip-sde and wild-ir (key map, our U-Net config
  that reproduces the reference architecture);
- ``command``: file reading (weights-only), kind detection, the checkpoint folder, the CLI;
- ``errors``: the one-line :class:`ConversionError`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ConversionError", "convert", "convert_file"]


def __getattr__(name: str) -> Any:
    if name in ("convert", "convert_file"):
        from . import command

        return getattr(command, name)
    if name == "ConversionError":
        from .errors import ConversionError

        return ConversionError
    raise AttributeError(name)
