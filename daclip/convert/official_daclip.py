"""DA-CLIP's released controller checkpoints (``daclip_ViT-B-32.pt``, ``daclip_ViT-L-14.pt``) -> ours.

The reference wraps its forked open_clip ``CLIP`` in a ``DaCLIP`` whose ``state_dict`` holds
``clip.*`` (the frozen CLIP, stock open_clip names), ``visual.*`` (an alias of ``clip.visual``:
the same tensors again), ``visual_control.*`` (the controller, its blocks under
``transformer.transformer.resblocks`` and its zero-initialised linears under
``transformer.zero_modules``) and ``logit_scale``. Ours keeps ``clip.*`` and ``logit_scale``,
drops the alias, and names the controller ``controller.*`` and its linears ``zero_linears.*``.

The open_clip model config is read off the shapes (widths, layers, patch and image size, embed
dim, MLP ratio). Heads are not visible in the weights: 64-wide heads are assumed (open_clip's
default, and what both released models use) unless ``--config`` gives the original JSON.
The reference adds controller block ``L-1-i``'s output after CLIP block ``i`` (``list.pop()``):
``control_order="reversed"``.
"""

from __future__ import annotations

import re
from typing import Any

import torch

from ..controller.model import DaCLIP, DaCLIPConfig
from .errors import ConversionError, check_keys

__all__ = ["REQUIRED", "convert_daclip", "infer_clip_config", "looks_like_daclip", "map_key"]

REQUIRED = ("clip.visual.conv1.weight", "visual_control.conv1.weight")
HEAD_WIDTH = 64
CLASS_SCALE = 100.0  # the reference demo's softmax(100 * cos)
KNOWN = {(768, 32, 12, 512): "ViT-B-32", (1024, 14, 24, 768): "ViT-L-14", (768, 16, 12, 512): "ViT-B-16"}
_RULES = [
    (r"^visual_control\.transformer\.transformer\.", "controller.transformer."),
    (r"^visual_control\.transformer\.zero_modules\.", "zero_linears."),
    (r"^visual_control\.", "controller."),
]


def looks_like_daclip(keys: set[str]) -> bool:
    return any(k in keys for k in REQUIRED)


def map_key(key: str) -> str:
    for pattern, replacement in _RULES:
        key = re.sub(pattern, replacement, key)
    return key


def _count(state: dict[str, torch.Tensor], prefix: str) -> int:
    return len({m.group(1) for k in state if (m := re.match(re.escape(prefix) + r"(\d+)\.", k))})


def infer_clip_config(state: dict[str, torch.Tensor]) -> dict[str, Any]:
    """The open_clip model config (``embed_dim``, ``vision_cfg``, ``text_cfg``) of a DaCLIP state dict."""
    try:
        conv = state["clip.visual.conv1.weight"]
        positions = state["clip.visual.positional_embedding"].shape[0]
        width, patch = int(conv.shape[0]), int(conv.shape[-1])
        text_width = int(state["clip.token_embedding.weight"].shape[1])
        mlp = int(state["clip.visual.transformer.resblocks.0.mlp.c_fc.weight"].shape[0])
        config = {
            "embed_dim": int(state["clip.visual.proj"].shape[1]),
            "vision_cfg": {
                "image_size": round((positions - 1) ** 0.5) * patch, "layers": _count(state, "clip.visual.transformer.resblocks."),
                "width": width, "patch_size": patch, "head_width": HEAD_WIDTH, "mlp_ratio": mlp / width,
            },
            "text_cfg": {
                "context_length": int(state["clip.positional_embedding"].shape[0]),
                "vocab_size": int(state["clip.token_embedding.weight"].shape[0]), "width": text_width,
                "heads": max(1, text_width // HEAD_WIDTH), "layers": _count(state, "clip.transformer.resblocks."),
            },
        }
    except KeyError as exn:
        raise ConversionError(f"not a DA-CLIP checkpoint: missing {exn.args[0]}") from None
    return config


def _merge_config(given: dict[str, Any], inferred: dict[str, Any]) -> dict[str, Any]:
    """The original JSON (``daclip_ViT-B-32.json`` style) wins where it speaks; shapes must agree."""
    merged = {"embed_dim": given.get("embed_dim", inferred["embed_dim"])}
    for tower in ("vision_cfg", "text_cfg"):
        merged[tower] = {**inferred[tower], **given.get(tower, {})}
        if tower == "vision_cfg" and "head_width" not in given.get(tower, {}) and "heads" in given.get(tower, {}):
            merged[tower]["head_width"] = merged[tower]["width"] // merged[tower].pop("heads")
    for key in ("quick_gelu",):
        if key in given:
            merged[key] = given[key]
    for tower, fields in (("vision_cfg", ("image_size", "layers", "width", "patch_size")),
                          ("text_cfg", ("context_length", "vocab_size", "width", "layers"))):
        for field in fields:
            if merged[tower][field] != inferred[tower][field]:
                raise ConversionError(f"--config says {tower}.{field}={merged[tower][field]} but the tensors say "
                                      f"{inferred[tower][field]}")
    if merged["embed_dim"] != inferred["embed_dim"]:
        raise ConversionError(f"--config says embed_dim={merged['embed_dim']} but the tensors say "
                              f"{inferred['embed_dim']}")
    return merged


def model_name(clip_config: dict[str, Any]) -> str:
    v = clip_config["vision_cfg"]
    return "daclip_" + KNOWN.get((v["width"], v["patch_size"], v["layers"], clip_config["embed_dim"]), "custom")


def convert_daclip(state: dict[str, torch.Tensor], original: dict[str, Any] | None = None, source: str = ""
                   ) -> tuple[DaCLIPConfig, dict[str, Any], dict[str, torch.Tensor]]:
    """``(our config, the original open_clip config, our state dict)``, or ConversionError."""
    inferred = infer_clip_config(state)
    clip_config = _merge_config(original, inferred) if original else inferred
    for key, value in state.items():
        if key.startswith("visual.") and not torch.equal(value, state.get("clip." + key, value.new_empty(0))):
            raise ConversionError(f"{key} differs from clip.{key} (the reference's alias of the same tensor)")
    weights = {map_key(k): v for k, v in state.items() if not k.startswith("visual.")}
    config = DaCLIPConfig(model=model_name(clip_config), pretrained=f"released:{source}" if source else "released",
                          control_order="reversed", clip_config=clip_config, preprocess="pil",
                          class_scale=CLASS_SCALE)
    with torch.device("meta"):
        expected = {k: v for k, v in _empty_model(config).state_dict().items()}
    check_keys("DA-CLIP", set(expected), set(weights), map_back={map_key(k): k for k in state})
    for key, value in expected.items():
        if tuple(weights[key].shape) != tuple(value.shape):
            raise ConversionError(f"DA-CLIP tensor {key}: shape {tuple(weights[key].shape)}, expected "
                                  f"{tuple(value.shape)}")
    return config, dict(original or inferred), weights


def _empty_model(config: DaCLIPConfig) -> DaCLIP:
    from ..controller.factory import clip_from_config

    return DaCLIP(clip_from_config(config.clip_config), config)
