"""daclip.convert.official_daclip: the released DA-CLIP controller, number for number.

The tiny checkpoint and its outputs come from the reference code (fixture README); the full-size
key maps give the names and shapes of ``daclip_ViT-B-32.pt`` and ``daclip_ViT-L-14.pt``.
"""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open

import daclip
from daclip.controller.model import DaCLIPConfig, from_weights
from daclip.convert.command import convert_state
from daclip.convert.official_daclip import infer_clip_config

from .conftest import TOL, load_io, random_state, rel_err

torch.set_num_threads(2)

OFFICIAL_CONFIGS = {  # the fork's model_configs/daclip_ViT-*.json
    "keys_daclip_ViT-B-32.json": {"embed_dim": 512, "vision_cfg": {"image_size": 224, "layers": 12, "width": 768,
                                                                   "patch_size": 32},
                                  "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 512, "heads": 8,
                                               "layers": 12}},
    "keys_daclip_ViT-L-14.json": {"embed_dim": 768, "vision_cfg": {"image_size": 224, "layers": 24, "width": 1024,
                                                                   "patch_size": 14},
                                  "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 768, "heads": 12,
                                               "layers": 12}},
}


@pytest.fixture(scope="module")
def tiny(fixtures, tmp_path_factory):
    """The tiny reference checkpoint through ``daclip convert`` (with its config: 32-wide heads)."""
    from click.testing import CliRunner

    from daclip.cli import cli

    out = tmp_path_factory.mktemp("converted") / "daclip"
    result = CliRunner().invoke(cli, ["convert", str(fixtures / "daclip_tiny.pt"), "--out", str(out),
                                      "--config", str(fixtures / "daclip_tiny_config.json")])
    assert result.exit_code == 0, result.output
    return daclip.load(str(out)), load_io("daclip_tiny_io.safetensors")


def test_every_output_matches_the_reference(tiny):
    model, io = tiny
    images = io["images"]
    with torch.no_grad():
        content, degradation = model.encode_image(images)
        content_n, degradation_n = model.encode_image(images, normalize=True)
        ours = {
            "image_features_unnorm": content, "degra_features_unnorm": degradation,
            "image_features": content_n, "degra_features": degradation_n,
            "clip_image_features_unnorm": model.encode_plain(images),
            "clip_image_features": model.encode_plain(images, normalize=True),
            "text_features_unnorm": model.encode_text(io["text_tokens"]),
            "text_features": model.encode_text(io["text_tokens"], normalize=True),
            "degra_probs": model.classify(images),
            "image_probs": (100 * content_n @ model.encode_text(io["text_tokens"], normalize=True).T).softmax(-1),
            "control_hiddens": torch.stack(model.control(images)[1]).transpose(1, 2),
            "logit_scale": model.logit_scale, "clip_logit_scale": model.clip.logit_scale,
        }
    errors = {name: rel_err(value, io[name]) for name, value in ours.items()}
    assert max(errors.values()) <= TOL, errors


def test_preprocessing_and_tokens_match_the_reference(tiny, fixtures):
    model, io = tiny
    for i in range(4):
        raw = io[f"raw_image_{i}"]
        x = model.preprocess_tensor(raw.permute(2, 0, 1)[None].float() / 255)
        assert rel_err(x[0], io["images"][i]) <= TOL
    texts = json.loads(safe_open(fixtures / "daclip_tiny_io.safetensors", "pt").metadata()["texts"])
    assert torch.equal(model.tokenize(texts), io["text_tokens"])


def test_the_released_file_itself_loads_and_matches(fixtures, tiny):
    """daclip.load(FILE) converts in memory; without --config the heads are guessed (64 wide), so
    the tiny model (32-wide heads) needs its config: the shapes agree, the function would not."""
    model, io = tiny
    direct = daclip.load(str(fixtures / "daclip_tiny.pt"))
    assert direct.config.clip_config["vision_cfg"]["head_width"] == 64  # the shapes cannot tell
    assert model.config.clip_config["vision_cfg"]["head_width"] == 32
    assert model.config.control_order == "reversed" and model.config.preprocess == "pil"
    assert model.config.class_scale == 100.0


@pytest.mark.parametrize("keymap", sorted(OFFICIAL_CONFIGS))
def test_shapes_give_the_official_configs(keymap):
    shapes = json.loads((__import__("pathlib").Path(__file__).parents[2] / "fixtures" / "daclip_official" /
                         keymap).read_text())
    state = {k: torch.empty(v, device="meta") for k, v in shapes.items()}
    inferred = infer_clip_config(state)
    official = OFFICIAL_CONFIGS[keymap]
    assert inferred["embed_dim"] == official["embed_dim"] and inferred["text_cfg"] == official["text_cfg"]
    assert {k: inferred["vision_cfg"][k] for k in official["vision_cfg"]} == official["vision_cfg"]
    assert inferred["vision_cfg"]["width"] // inferred["vision_cfg"]["head_width"] in (12, 16)


def _full_size(keymap: str) -> None:
    state = random_state(keymap)
    weights, config = convert_state(state, source={"file": keymap})
    del state
    model = from_weights(DaCLIPConfig.from_dict(config["model"]), weights).eval()  # strict=True
    with torch.no_grad():
        x = model.preprocess_tensor(torch.rand(1, 3, 240, 260))
        content, degradation = model.encode_image(x)
        probs = model.classify(x)
    dim = config["model"]["clip_config"]["embed_dim"]
    assert content.shape == degradation.shape == (1, dim) and torch.isfinite(content).all()
    assert probs.shape == (1, 10) and torch.allclose(probs.sum(), torch.tensor(1.0))


def test_full_size_vit_b_32_converts_loads_strictly_and_runs():
    _full_size("keys_daclip_ViT-B-32.json")


@pytest.mark.slow
def test_full_size_vit_l_14_converts_loads_strictly_and_runs():
    """~757 M parameters (3 GB float32): built on meta, loaded by assignment (no second copy)."""
    _full_size("keys_daclip_ViT-L-14.json")
