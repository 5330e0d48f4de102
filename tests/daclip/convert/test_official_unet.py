"""daclip.convert.official_unet: the released restoration U-Nets (daclip-sde, wild-ir), number for number."""

from __future__ import annotations

import json

import pytest
import torch

import daclip
from daclip.convert.command import convert_state
from daclip.convert.official_unet import infer_setting
from daclip.restoration.model import from_weights

from .conftest import FIXTURES, TOL, load_io, random_state, rel_err

torch.set_num_threads(2)

SETTINGS = {  # network_G.setting of options/test.yml (fixture README)
    "keys_unet_daclip-sde.json": {"in_nc": 3, "out_nc": 3, "nf": 64, "ch_mult": [1, 2, 4, 8], "context_dim": 512,
                                  "use_degra_context": True, "use_image_context": True},
    "keys_unet_wild-ir.json": {"in_nc": 3, "out_nc": 3, "nf": 64, "ch_mult": [1, 2, 4, 8], "context_dim": 768,
                               "use_degra_context": False, "use_image_context": True, "scale": 0.5},
}


@pytest.fixture(scope="module")
def tiny():
    return daclip.load_restorer(str(FIXTURES / "unet_tiny.pth")), load_io("unet_tiny_io.safetensors")


def test_unet_output_matches_the_reference(tiny):
    """42 x 58 inputs: reflect-padded to 44 x 60 and cropped back, as the reference does."""
    restorer, io = tiny
    net = restorer.unet
    with torch.no_grad():
        ours = {
            "out": net(io["xt"], io["cond"], io["time"], content=io["image_context"], degradation=io["text_context"]),
            "time_mlp_out": net.time_mlp(io["time"]),
            "prompt_mlp_out": net.prompt(io["text_context"]),
        }
    errors = {name: rel_err(value, io[name]) for name, value in ours.items()}
    assert max(errors.values()) <= TOL, errors


def test_tiny_setting_and_layout(tiny):
    restorer, _ = tiny
    assert infer_setting(torch.load(FIXTURES / "unet_tiny.pth", weights_only=True)) == json.loads(
        (FIXTURES / "unet_tiny_config.json").read_text())
    c = restorer.config.unet
    assert (c.prompt_kind, c.linear_heads, c.linear_average_values, c.transformer_prenorm) == ("gate", 4, True, True)
    assert c.multiple == 4 and c.transformer_from_level == 2  # depth 2: no level reaches the reference's i >= 3
    assert restorer.config.sampling == {"sampler": "posterior", "clip_x0": False}


@pytest.mark.parametrize("keymap", sorted(SETTINGS))
def test_full_size_converts_loads_strictly_and_runs(keymap):
    state = random_state(keymap)
    weights, config = convert_state(state, source={"file": keymap})
    assert config["source"]["original_config"] == SETTINGS[keymap]
    loaded = from_weights(weights, config)  # strict=True
    n = sum(p.numel() for p in loaded.net.parameters())
    shapes = json.loads((FIXTURES / keymap).read_text())
    zero_biases = sum(v.numel() for k, v in weights.items() if k[4:] not in _mapped(shapes, state))
    assert n == sum(torch.Size(s).numel() for s in shapes.values()) + zero_biases
    context = config["unet"]["context_dim"]
    x = torch.rand(1, 3, 40, 52)
    with torch.no_grad():
        out = loaded.unet(x, x.clone(), torch.tensor([50]), content=torch.randn(1, context),
                          degradation=torch.randn(1, context))
    assert out.shape == x.shape and torch.isfinite(out).all()
    if "wild" in keymap:
        assert loaded.config.unet.half_resolution and loaded.unet.prompt is None


def _mapped(shapes: dict, state: dict) -> set[str]:
    from daclip.convert.official_unet import map_key

    depth = 4
    return {map_key(k, state, depth) for k in shapes}
