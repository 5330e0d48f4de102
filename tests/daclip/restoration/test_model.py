"""The restoration model: named configs, checkpoints with EMA weights."""

from __future__ import annotations

import pytest
import torch

from daclip.loading import load_restoration
from daclip.restoration.model import EMA, create_model, save_restoration

torch.set_num_threads(1)

def test_named_configs():
    config, net = create_model("base", context_dim=512)
    n = sum(p.numel() for p in net.parameters())
    assert config.unet.ch_mult == (1, 2, 4, 8) and config.unet.nf == 64
    assert 45e6 < n < 52e6  # the released universal model has ~49 M parameters
    with pytest.raises(ValueError, match="valid"):
        create_model("huge", context_dim=None)


def test_checkpoint_round_trip_with_ema(tmp_path):
    config, net = create_model("tiny", context_dim=16, daclip="/some/daclip")
    ema = EMA(net, decay=0.9, update_every=1)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.01)
    ema.update(net, step=1)
    folder = save_restoration(tmp_path / "checkpoints" / "step_1", net, ema, config, {"step": 1})
    loaded = load_restoration(tmp_path, with_state=True)
    assert loaded.config == config and loaded.training_state == {"step": 1}
    x, mu, t, c, d = torch.rand(1, 3, 20, 24), torch.rand(1, 3, 20, 24), torch.tensor([7]), torch.randn(1, 16), \
        torch.randn(1, 16)
    with torch.no_grad():
        torch.testing.assert_close(loaded.net(x, mu, t, c, d), net(x, mu, t, c, d), atol=0, rtol=0)
        torch.testing.assert_close(loaded.inference_net("ema")(x, mu, t, c, d), ema.shadow(x, mu, t, c, d),
                                   atol=0, rtol=0)
        assert not torch.equal(loaded.inference_net("ema")(x, mu, t, c, d), net(x, mu, t, c, d))
    assert (folder / "model.safetensors").exists() and (folder / "config.json").exists()


def test_relative_daclip_reference_resolves_against_the_checkpoint(tmp_path):
    """demo_weights/restore names its DA-CLIP as ../daclip, so the pair can move; absolute paths still work."""
    config, net = create_model("tiny", context_dim=16, daclip="../daclip")
    save_restoration(tmp_path / "moved" / "restore", net, None, config)
    loaded = load_restoration(tmp_path / "moved" / "restore")
    assert loaded.config.daclip == str((tmp_path / "moved" / "daclip").resolve())
    config, net = create_model("tiny", context_dim=16, daclip="/abs/daclip")
    save_restoration(tmp_path / "abs", net, None, config)
    assert load_restoration(tmp_path / "abs").config.daclip == "/abs/daclip"


def test_oracle_degradation_text_replaces_only_the_degradation_embedding(daclip_run):
    import torch.nn.functional as F

    import daclip
    from daclip.restoration.model import embed

    encoder = daclip.load(daclip_run)
    lq = torch.rand(2, 3, 40, 48)
    content, degradation = embed(encoder, lq)
    o_content, oracle = embed(encoder, lq, degradation_text="rainy")
    text = encoder.encode_text(encoder.tokenize(["rainy"]), normalize=True)[0]
    torch.testing.assert_close(o_content, content)
    torch.testing.assert_close(oracle.norm(dim=-1), degradation.norm(dim=-1))
    torch.testing.assert_close(F.normalize(oracle, dim=-1), text.expand(2, -1), atol=1e-5, rtol=1e-5)
