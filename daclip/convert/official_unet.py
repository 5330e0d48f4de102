"""DA-CLIP's released restoration U-Nets (``universal-ir.pth``: daclip-sde; ``wild-ir.pth``) -> ours.

The source is the plain ``state_dict`` that the reference's ``save_network`` writes. Its
architecture (``network_G.setting``: nf, ch_mult, context_dim, which contexts, wild-ir's
``scale: 0.5``) is read off the tensor shapes; :func:`unet_config` turns it into the
:class:`~daclip.restoration.unet.UNetConfig` that makes our U-Net compute the same function, and
:func:`map_key` renames each tensor. The reference's bias-free 1x1 residual convs and its two
bias-free level-change convs get zero biases in ours (adding 0.0 is exact).
"""

from __future__ import annotations

import re
from typing import Any

import torch

from ..restoration.unet import ConditionalUNet, UNetConfig
from .errors import ConversionError, check_keys

__all__ = ["REQUIRED", "convert_unet", "infer_setting", "looks_like_unet", "map_key", "unet_config"]

REQUIRED = ("init_conv.weight", "final_conv.weight", "downs.0.0.block1.proj.weight")
DIM_HEAD = 32  # the reference's num_head_channels
SETTING_KEYS = ("in_nc", "out_nc", "nf", "ch_mult", "context_dim", "use_degra_context", "use_image_context")

# (pattern, replacement) applied in order; attention pre-norms are handled in map_key
_RULES = [
    (r"^prompt$", "prompt.bank"),
    (r"^text_mlp\.", "prompt.to_weights."),
    (r"^prompt_mlp\.", "prompt.proj."),
    (r"^downsample\.", "stem.conv."),
    (r"^upsample\.1\.", "head.conv."),
    (r"^mid_block1\.", "mid1."),
    (r"^mid_block2\.", "mid2."),
    (r"^final_res_block\.", "final_res."),
    (r"\.block1\.proj\.", ".conv1."),
    (r"\.block2\.proj\.", ".conv2."),
    (r"\.res_conv\.", ".res."),
    (r"\.fn\.fn\.", "."),
    (r"\.transformer_blocks\.0\.", "."),
    (r"\.(attn\d)\.to_out\.0\.", r".\1.to_out."),
    (r"\.ff\.net\.0\.proj\.", ".ff_in."),
    (r"\.ff\.net\.2\.", ".ff_out."),
    (r"^ups\.(\d+)\.3\.1\.", r"ups.\1.3.conv."),
]


def looks_like_unet(keys: set[str]) -> bool:
    return all(k in keys for k in REQUIRED[:2])


def _levels(state: dict[str, torch.Tensor]) -> int:
    found = {int(m.group(1)) for k in state if (m := re.match(r"downs\.(\d+)\.", k))}
    if not found:
        raise ConversionError("not a DA-CLIP U-Net: no downs.N.* tensors")
    return max(found) + 1


def _transformer_levels(state: dict[str, torch.Tensor]) -> list[int]:
    return sorted({int(m.group(1)) for k in state if (m := re.match(r"downs\.(\d+)\.2\.fn\.fn\.transformer_blocks\.", k))})


def infer_setting(state: dict[str, torch.Tensor]) -> dict[str, Any]:
    """The reference's ``network_G.setting`` that built these tensors."""
    nf, in2 = state["init_conv.weight"].shape[:2]
    depth = _levels(state)
    ch_mult = []
    for i in range(depth):
        down = state.get(f"downs.{i}.3.weight")
        if down is None:
            raise ConversionError(f"not a DA-CLIP U-Net: missing downs.{i}.3.weight")
        ch_mult.append(int(down.shape[0]) // int(nf))
    context_dim = None
    if "text_mlp.0.weight" in state:
        context_dim = int(state["text_mlp.0.weight"].shape[1])
    else:
        to_k = [v for k, v in state.items() if k.endswith("attn2.to_k.weight")]
        context_dim = int(to_k[0].shape[1]) if to_k else None
    setting = {
        "in_nc": int(in2) // 2, "out_nc": int(state["final_conv.weight"].shape[0]), "nf": int(nf),
        "ch_mult": ch_mult, "context_dim": context_dim, "use_degra_context": "prompt" in state,
        "use_image_context": any(".transformer_blocks." in k for k in state),
    }
    if "downsample.weight" in state:
        setting["scale"] = 0.5
    return setting


def check_setting(given: dict[str, Any], inferred: dict[str, Any]) -> None:
    """A ``--config`` setting must describe the tensors: name the first field that does not."""
    for key in (*SETTING_KEYS, "scale"):
        if key not in given and key not in inferred:
            continue
        want = inferred.get(key, 1)
        have = given.get(key, 1 if key == "scale" else None)
        if key == "ch_mult" and have is not None:
            have = [int(m) for m in have]
        if have != want and not (key == "context_dim" and not inferred["use_image_context"]
                                 and not inferred["use_degra_context"]):
            raise ConversionError(f"--config says {key}={have!r} but the tensors say {want!r}")


def unet_config(setting: dict[str, Any], state: dict[str, torch.Tensor]) -> UNetConfig:
    """Our U-Net config that computes what the reference's ``ConditionalUNet(**setting)`` computes."""
    if not setting["use_image_context"]:
        raise ConversionError("U-Nets without image context (use_image_context: false) are not supported: "
                              "their middle attention is linear")
    depth = len(setting["ch_mult"])
    if any(".transformer_blocks.1." in k for k in state):
        raise ConversionError("spatial transformers of depth > 1 are not supported")
    levels = _transformer_levels(state)
    qkv = state.get("downs.0.2.fn.fn.to_qkv.weight")
    heads = int(qkv.shape[0]) // 3 // DIM_HEAD if qkv is not None else 4
    return UNetConfig(
        in_nc=setting["in_nc"], out_nc=setting["out_nc"], nf=setting["nf"], ch_mult=tuple(setting["ch_mult"]),
        context_dim=setting["context_dim"], use_image_context=True,
        use_degra_context=bool(setting["use_degra_context"]), dim_head=DIM_HEAD, prompt_kind="gate",
        linear_heads=heads, linear_average_values=True,
        transformer_from_level=levels[0] if levels else depth, transformer_prenorm=True,
        pad_multiple=2**depth, half_resolution=setting.get("scale", 1) == 0.5,
    )


def map_key(key: str, state: dict[str, torch.Tensor], depth: int) -> str:
    """Our name of one reference tensor."""
    norm = re.match(r"^(.*)\.fn\.norm\.g$", key)
    if norm:
        linear = f"{norm.group(1)}.fn.fn.to_qkv.weight" in state
        return f"{norm.group(1)}.{'norm' if linear else 'prenorm'}.g"
    down = re.match(r"^downs\.(\d+)\.3\.(weight|bias)$", key)
    if down and int(down.group(1)) < depth - 1:
        return f"downs.{down.group(1)}.3.conv.{down.group(2)}"
    for pattern, replacement in _RULES:
        key = re.sub(pattern, replacement, key)
    return key


def convert_unet(state: dict[str, torch.Tensor], setting: dict[str, Any] | None = None
                 ) -> tuple[UNetConfig, dict[str, Any], dict[str, torch.Tensor]]:
    """``(our config, the reference setting, our state dict)``; every key accounted for, or ConversionError."""
    inferred = infer_setting(state)
    if setting is not None:
        check_setting(setting, inferred)
    config = unet_config(inferred, state)
    depth = len(inferred["ch_mult"])
    weights = {map_key(k, state, depth): v for k, v in state.items()}
    with torch.device("meta"):
        expected = ConditionalUNet(config).state_dict()
    for key, value in expected.items():  # bias-free convs of the reference: zero biases in ours
        weight = key[: -len("bias")] + "weight"
        if key.endswith(".bias") and key not in weights and weight in weights and weights[weight].dim() == 4:
            weights[key] = torch.zeros(value.shape, dtype=weights[weight].dtype)
    check_keys("U-Net", set(expected), set(weights), map_back={map_key(k, state, depth): k for k in state})
    for key, value in expected.items():
        if tuple(weights[key].shape) != tuple(value.shape):
            raise ConversionError(f"U-Net tensor {key}: shape {tuple(weights[key].shape)}, "
                                  f"expected {tuple(value.shape)} for the inferred setting {inferred}")
    return config, dict(setting or inferred), weights
