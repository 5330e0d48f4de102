"""Checkpoints as safetensors plus JSON: model weights, model config and training state.

Nothing here unpickles. Training state (optimizer, scheduler, step, RNG states) is a nested
structure of tensors and JSON values: tensors go to ``state.safetensors``, everything else to
``state.json`` with placeholders, so ``--resume`` restores it exactly.

Layout of a checkpoint folder::

    model.safetensors   weights (trainable and frozen parts the model needs)
    config.json         the model config and anything needed to rebuild it
    state.safetensors   training-state tensors (optional)
    state.json          training-state skeleton (optional)

Folders are written under a temporary name and renamed into place, so a killed run never
leaves a half-written checkpoint; ``latest`` (a one-line text file) names the newest one.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from pipelines.common.files import write_bytes_atomic

MODEL_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
STATE_FILE = "state.safetensors"
STATE_JSON = "state.json"
LATEST = "latest"

_TENSOR = "__tensor__"
_ITEMS = "__items__"
_TUPLE = "__tuple__"


def flatten_state(obj: Any) -> tuple[Any, dict[str, torch.Tensor]]:
    """Split a nested structure into a JSON-able skeleton and a flat dict of tensors."""
    tensors: dict[str, torch.Tensor] = {}

    def walk(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            name = f"t{len(tensors)}"
            tensors[name] = value.detach().cpu().contiguous()
            return {_TENSOR: name}
        if isinstance(value, np.ndarray):
            return walk(torch.from_numpy(np.ascontiguousarray(value)))
        if isinstance(value, dict):
            if all(isinstance(k, str) for k in value):
                return {k: walk(v) for k, v in value.items()}
            return {_ITEMS: [[walk(k), walk(v)] for k, v in value.items()]}
        if isinstance(value, tuple):
            return {_TUPLE: [walk(v) for v in value]}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, (np.integer, np.floating)):
            return value.item()
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        raise TypeError(f"cannot store {type(value).__name__} in a checkpoint")

    return walk(obj), tensors


def unflatten_state(skeleton: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of :func:`flatten_state`."""
    if isinstance(skeleton, dict):
        if set(skeleton) == {_TENSOR}:
            return tensors[skeleton[_TENSOR]]
        if set(skeleton) == {_ITEMS}:
            return {unflatten_state(k, tensors): unflatten_state(v, tensors) for k, v in skeleton[_ITEMS]}
        if set(skeleton) == {_TUPLE}:
            return tuple(unflatten_state(v, tensors) for v in skeleton[_TUPLE])
        return {k: unflatten_state(v, tensors) for k, v in skeleton.items()}
    if isinstance(skeleton, list):
        return [unflatten_state(v, tensors) for v in skeleton]
    return skeleton


def rng_state() -> dict[str, Any]:
    """Every RNG a training loop touches: torch (CPU and CUDA), numpy's legacy global, python."""
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(legacy=False),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    folder: str | os.PathLike,
    model_state: dict[str, torch.Tensor],
    config: dict[str, Any],
    training_state: dict[str, Any] | None = None,
) -> Path:
    """Write a checkpoint folder atomically and point ``<parent>/latest`` at it."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        save_file({k: v.detach().cpu().contiguous() for k, v in model_state.items()}, tmp / MODEL_FILE)
        (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
        if training_state is not None:
            skeleton, tensors = flatten_state(training_state)
            save_file(tensors, tmp / STATE_FILE)
            (tmp / STATE_JSON).write_text(json.dumps(skeleton) + "\n")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    write_bytes_atomic((folder.name + "\n").encode("utf-8"), folder.parent / LATEST)
    return folder


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """A checkpoint folder, or a run folder (its ``checkpoints/latest``), or a folder with ``latest``."""
    path = Path(path)
    for candidate in (path, path / "checkpoints"):
        if (candidate / MODEL_FILE).exists():
            return candidate
        if (candidate / LATEST).exists():
            return candidate / (candidate / LATEST).read_text().strip()
    raise FileNotFoundError(
        f"no checkpoint at {path}: expected {MODEL_FILE} + {CONFIG_FILE}, or a run folder with checkpoints/latest"
    )


def load_checkpoint(
    path: str | os.PathLike, with_state: bool = False
) -> tuple[dict[str, torch.Tensor], dict[str, Any], dict[str, Any] | None]:
    """Return ``(model_state, config, training_state or None)``."""
    folder = resolve_checkpoint(path)
    model_state = load_file(folder / MODEL_FILE)
    config = json.loads((folder / CONFIG_FILE).read_text())
    state = None
    if with_state and (folder / STATE_FILE).exists():
        skeleton = json.loads((folder / STATE_JSON).read_text())
        state = unflatten_state(skeleton, load_file(folder / STATE_FILE))
    return model_state, config, state
