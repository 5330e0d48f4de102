"""Build the frozen base CLIP: an open_clip architecture name plus a weight source.

Architectures are open_clip JSON configs; ours (``tiny`` for CPU runs and tests) live in
``daclip/controller/model_configs/`` and are registered with ``open_clip.add_model_config``, so
open_clip builds them like its own. ``--pretrained`` names one of three weight sources:

* ``none``: random initialisation (seeded, without touching the global RNG);
* a local file (``.safetensors``, or a ``.bin``/``.pt`` state dict read with ``weights_only``);
* an open_clip pretrained tag (e.g. ``laion2b_s34b_b79k``), fetched through open_clip's own
  download path (Hugging Face hub cache first).

Sources are resolved, and failures explained, by :mod:`pipelines.common.models` (the resolver
BLIP uses too): weights that cannot be had raise
:class:`~pipelines.common.models.ModelUnavailableError` with a one-line message naming the
local-file option.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch

from pipelines.common.models import HUB, ModelSource, ModelUnavailableError, load_or_explain, resolve_source

log = logging.getLogger(__name__)

CONFIG_DIR = Path(__file__).parent / "model_configs"
NO_WEIGHTS = ("", "none", "random")
FLAG = "--pretrained"
EXAMPLE = "/path/to/open_clip_model.safetensors"
HUB_WEIGHTS = "open_clip_model.safetensors"  # what open_clip fetches from a hub repo given without a file

_registered = False


def register_model_configs() -> None:
    """Add ``daclip/model_configs/*.json`` to open_clip's registry (idempotent)."""
    global _registered
    if not _registered:
        import open_clip

        open_clip.add_model_config(CONFIG_DIR)
        _registered = True


def list_models() -> list[str]:
    register_model_configs()
    import open_clip

    return open_clip.list_models()


def get_tokenizer(model_name: str):
    """open_clip's tokenizer for an architecture (our configs use the standard CLIP BPE)."""
    register_model_configs()
    import open_clip

    return _quietly(open_clip.get_tokenizer, model_name)


def create_clip(model_name: str, pretrained: str | None = "none", seed: int = 0) -> torch.nn.Module:
    """An open_clip CLIP in eval mode on CPU. See the module docstring for ``pretrained``."""
    register_model_configs()
    import open_clip

    if model_name not in open_clip.list_models():
        raise ValueError(f"unknown CLIP architecture {model_name!r}; known: tiny, ViT-B-32, ViT-L-14, ...")
    spec = (pretrained or "none").strip()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if spec.lower() in NO_WEIGHTS:
            model = _quietly(open_clip.create_model, model_name, pretrained=None)
        else:
            model = _pretrained_clip(model_name, spec)
    return model.eval()


def _pretrained_clip(model_name: str, spec: str) -> torch.nn.Module:
    """Weights from a local file or an open_clip tag; failures explained by ``pipelines.common.models``."""
    import open_clip

    what = f"pretrained CLIP weights for {model_name}"
    hint = f"{FLAG} takes a local .safetensors/.bin file, an open_clip tag of {model_name}, or none."
    source = resolve_source(spec, what, FLAG, EXAMPLE, hint=hint)
    if source.is_local:
        return load_or_explain(
            source, lambda path: _quietly(open_clip.create_model, model_name, pretrained=path, weights_only=True),
            what, FLAG, EXAMPLE, hint=hint, errors=(Exception,),
        )
    cfg = open_clip.get_pretrained_cfg(model_name, spec)
    if not cfg:
        tags = ", ".join(open_clip.list_pretrained_tags_by_model(model_name)) or "none known"
        raise ModelUnavailableError(
            f"{FLAG} {spec!r} is neither a file nor an open_clip tag of {model_name} "
            f"(tags: {tags}); use {FLAG} none for random initialisation"
        )
    repo, filename = os.path.split(cfg.get("hf_hub", ""))  # open_clip's "org/name/" or "org/name/file"
    filename = filename or HUB_WEIGHTS
    folder = Path(EXAMPLE).parent
    download = f"huggingface-cli download {repo} {filename} --local-dir {folder}" if repo else None
    return load_or_explain(
        ModelSource(spec=spec, kind=HUB, ref=repo or spec),
        lambda _: _quietly(open_clip.create_model, model_name, pretrained=spec),
        f"pretrained CLIP weights {model_name}/{spec}", FLAG, str(folder / filename), download=download,
        errors=(Exception,),
    )


class _DropOpenClipRecords(logging.Filter):
    """open_clip logs on the root logger (info chatter; errors we re-raise with our own message)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return f"{os.sep}open_clip{os.sep}" not in record.pathname


def _quietly(fn, *args, **kwargs):
    """Call an open_clip function with its root-logger records held back."""
    root = logging.getLogger()
    dropper = _DropOpenClipRecords()
    root.addFilter(dropper)
    try:
        return fn(*args, **kwargs)
    finally:
        root.removeFilter(dropper)
