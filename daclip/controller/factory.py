"""Build the frozen base CLIP: an open_clip architecture name plus a weight source.

Architectures are open_clip JSON configs; ours (``tiny`` for CPU runs and tests) live in
``daclip/model_configs/`` and are registered with ``open_clip.add_model_config``, so open_clip
builds them like its own. Weights come from one of three sources, resolved here and nowhere else:

* ``none``: random initialisation (seeded, without touching the global RNG);
* a local file (``.safetensors``, or a ``.bin``/``.pt`` state dict read with ``weights_only``);
* an open_clip pretrained tag (e.g. ``laion2b_s34b_b79k``), fetched through open_clip's own
  download path (Hugging Face hub cache first). Offline without a cached copy this fails with
  :class:`PretrainedUnavailable`, whose message names the local-file option.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch

log = logging.getLogger(__name__)

CONFIG_DIR = Path(__file__).parent / "model_configs"
NO_WEIGHTS = ("", "none", "random")

_registered = False


class PretrainedUnavailable(RuntimeError):
    """The requested pretrained CLIP weights cannot be had (offline, unknown tag, missing file)."""


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
    source = (pretrained or "none").strip()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if source.lower() in NO_WEIGHTS:
            model = _quietly(open_clip.create_model, model_name, pretrained=None)
        elif os.path.isfile(source):
            try:
                model = _quietly(open_clip.create_model, model_name, pretrained=source, weights_only=True)
            except Exception as exn:
                raise PretrainedUnavailable(f"cannot load {source} into {model_name}: {_first_line(exn)}") from None
        elif open_clip.get_pretrained_cfg(model_name, source):
            try:
                model = _quietly(open_clip.create_model, model_name, pretrained=source)
            except Exception as exn:
                raise PretrainedUnavailable(_offline_message(model_name, source, exn)) from None
        else:
            tags = ", ".join(open_clip.list_pretrained_tags_by_model(model_name)) or "none known"
            raise PretrainedUnavailable(
                f"--pretrained {source!r} is neither a file nor an open_clip tag of {model_name} "
                f"(tags: {tags}); use --pretrained none for random initialisation"
            )
    return model.eval()


def _offline_message(model_name: str, tag: str, exn: Exception) -> str:
    reason = _first_line(exn)
    offline = " (HF_HUB_OFFLINE is set)" if os.environ.get("HF_HUB_OFFLINE") not in (None, "", "0") else ""
    return (
        f"cannot load pretrained CLIP weights {model_name}/{tag}{offline}: {reason}\n"
        f"Download them where there is network (open_clip caches them in the Hugging Face hub cache), or pass "
        f"a local file: --pretrained /path/to/open_clip_model.safetensors|.bin "
        f"(unset HF_HUB_OFFLINE to let open_clip download)."
    )


def _first_line(exn: Exception) -> str:
    text = str(exn).strip()
    return text.splitlines()[0][:200] if text else type(exn).__name__


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
