"""The one device resolver: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` (or ``mps``) -> a torch device.

Resolved at run time, never at import time, so a ``--device`` default never depends on the
machine that happened to import the module. torch is imported lazily: ``make-dataset
synthesize`` starts without it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DeviceUnavailableError", "resolve_device"]


class DeviceUnavailableError(ValueError):
    """The requested device does not exist on this machine; the message names what to use."""


def resolve_device(name: str = "auto") -> Any:
    """``auto`` picks CUDA when torch sees a GPU, else the CPU; an unavailable CUDA is an error."""
    import torch

    name = (name or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exn:
        raise DeviceUnavailableError(f"--device {name!r} is not a device name (auto, cpu, cuda, cuda:N)") from exn
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceUnavailableError(f"--device {name} asked for, but torch sees no CUDA device (use --device cpu)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceUnavailableError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) here")
    return device
