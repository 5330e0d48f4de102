"""The one-step checkpoint format: factory, round trip through daclip.loading, margins, the encoder."""

from __future__ import annotations

import json

import pytest
import torch

from daclip.loading import load_encoder, load_restoration, load_restorer
from daclip.restoration import onestep
from daclip.restoration.model import EMA
from daclip.restoration.nafnet import NAFNetConfig, receptive_radius
from daclip.restoration.onestep import (
    LoadedOneStep,
    OneStepConfig,
    create_onestep,
    default_margin,
    save_onestep,
)


def _nudged(net: torch.nn.Module, seed: int = 1) -> torch.nn.Module:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            if not p.any():
                p.copy_(0.3 * torch.randn(p.shape, generator=gen))
    return net


def test_create_is_seeded_and_conditioning_follows_the_daclip():
    config, a = create_onestep("nafnet-tiny", None, seed=3)
    _, b = create_onestep("nafnet-tiny", None, seed=3)
    _, c = create_onestep("nafnet-tiny", None, seed=4)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert not all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), c.state_dict().values()))
    assert config.nafnet.condition == "none" and not config.conditioned and config.embed_dim is None
    assert config.daclip is None and config.train["loss"] == "psnr"
    cond, _ = create_onestep("nafnet-tiny", 64, "/x/daclip", condition="oracle")
    assert cond.conditioned and cond.embed_dim == 64 and cond.daclip == "/x/daclip"
    with pytest.raises(ValueError, match="needs a DA-CLIP"):
        create_onestep("nafnet-tiny", None, condition="daclip")
    with pytest.raises(ValueError, match="not a NAFNet config"):
        create_onestep("tiny", None)


def test_checkpoint_round_trip_through_load_restoration(tmp_path):
    config, net = create_onestep("nafnet-tiny", 64, "../daclip", condition="daclip", seed=0)
    _nudged(net)
    ema = EMA(net)
    with torch.no_grad():
        next(ema.shadow.parameters()).add_(1.0)  # EMA differs from the raw weights
    save_onestep(tmp_path / "ckpt", net, ema, config)
    raw = json.loads((tmp_path / "ckpt" / "config.json").read_text())
    assert raw["format"] == onestep.FORMAT == "daclip-onestep/1" and set(raw) == {"format", "name", "nafnet", "daclip", "train"}
    assert OneStepConfig.from_dict(raw) == config

    loaded = load_restoration(tmp_path / "ckpt")
    assert isinstance(loaded, LoadedOneStep)
    assert loaded.config.daclip == str((tmp_path / "daclip").resolve())  # relative refs follow the folder
    lq, emb = torch.rand(1, 3, 20, 24), torch.randn(1, 64)
    with torch.no_grad():
        assert torch.equal(loaded.inference_net("net")(lq, emb, emb), net.eval()(lq, emb, emb))
        assert torch.equal(loaded.inference_net()(lq, emb, emb), ema.shadow(lq, emb, emb))
    with pytest.raises(ValueError, match="weights"):
        loaded.inference_net("best")
    assert not load_restorer(tmp_path / "ckpt").inference_net().training


def test_wrong_format_is_refused():
    with pytest.raises(ValueError, match="not a one-step checkpoint"):
        OneStepConfig.from_dict({"format": "daclip-restore/1", "name": "x"})


def test_default_margin_is_the_receptive_radius_capped():
    small = NAFNetConfig(width=4, enc_blocks=(1,), dec_blocks=(1,), middle_blocks=1, pool_radius=2)
    assert default_margin(small) == receptive_radius(small) < onestep.MAX_MARGIN
    assert default_margin(NAFNetConfig()) == onestep.MAX_MARGIN < receptive_radius(NAFNetConfig())
    assert default_margin(NAFNetConfig(pool_radius=None)) == onestep.MAX_MARGIN


def test_load_encoder_only_for_conditioned_models(tiny_daclip):
    none, _ = create_onestep("nafnet-tiny", None)
    assert load_encoder(none, "cpu") is None
    cond, _ = create_onestep("nafnet-tiny", 64, str(tiny_daclip), condition="daclip")
    assert load_encoder(cond, "cpu").embed_dim == 64
    wrong, _ = create_onestep("nafnet-tiny", 32, str(tiny_daclip), condition="oracle")
    with pytest.raises(ValueError, match="embed_dim 64, the restorer expects 32"):
        load_encoder(wrong, "cpu")
    unnamed, _ = create_onestep("nafnet-tiny", 64, None, condition="daclip")
    with pytest.raises(ValueError, match="pass --daclip"):
        load_encoder(unnamed, "cpu")
