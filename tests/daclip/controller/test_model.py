"""The DA-CLIP model on the tiny config (controller, frozen CLIP, load): no data set needed."""

from __future__ import annotations

import pytest
import torch

import daclip
from daclip.controller.model import DaCLIP, DaCLIPConfig, build, state_for_checkpoint
from daclip.runtime.checkpoint import save_checkpoint
from degradations import NAMES

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny() -> DaCLIP:
    return build(DaCLIPConfig(model="tiny", pretrained="none"))


def _images(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, 64, 64, generator=g)


@pytest.mark.parametrize("order", ["aligned", "reversed"])
def test_untrained_content_embedding_is_plain_clip(order):
    model = build(DaCLIPConfig(model="tiny", pretrained="none", control_order=order))
    x = model.preprocess_tensor(_images(3))
    with torch.no_grad():
        content, degradation = model.encode_image(x)
        plain = model.clip.encode_image(x)
    assert torch.equal(content, plain)
    assert torch.equal(degradation, plain)  # the controller starts as an exact copy
    content_grad, _ = model.encode_image(x)  # autograd path (no fused attention kernel)
    assert torch.allclose(content_grad, plain, atol=1e-5, rtol=1e-5)


def test_control_order_changes_which_block_gets_which_control():
    torch.manual_seed(0)
    models = {o: build(DaCLIPConfig(model="tiny", pretrained="none", control_order=o)) for o in ("aligned", "reversed")}
    for linear_a, linear_r in zip(models["aligned"].zero_linears, models["reversed"].zero_linears):
        torch.nn.init.normal_(linear_a.weight, std=0.05)
        linear_r.weight.data.copy_(linear_a.weight.data)
    x = models["aligned"].preprocess_tensor(_images(2))
    with torch.no_grad():
        a, _ = models["aligned"].encode_image(x)
        r, _ = models["reversed"].encode_image(x)
        plain = models["aligned"].encode_plain(x)
    assert not torch.allclose(a, r) and not torch.allclose(a, plain)
    with pytest.raises(ValueError, match="control_order"):
        DaCLIPConfig(model="tiny", control_order="sideways")


def test_only_controller_and_logit_scale_train(tiny):
    trainable = {name for name, _ in tiny.trainable_parameters()}
    assert trainable, "something must train"
    assert all(n.startswith(("controller.", "zero_linears.")) or n == "logit_scale" for n in trainable)
    assert "logit_scale" in trainable and any(n.startswith("zero_linears.") for n in trainable)
    assert not any(p.requires_grad for p in tiny.clip.parameters())
    assert len(tiny.zero_linears) == len(tiny.clip.visual.transformer.resblocks)
    tiny.train()
    assert tiny.controller.training and not tiny.clip.training, "the frozen CLIP always runs in eval mode"
    tiny.eval()


def test_public_attributes_and_preprocess(tiny):
    assert tiny.embed_dim == 64 and tiny.image_size == 64
    for shape in [(2, 3, 50, 90), (1, 3, 64, 64), (1, 3, 200, 70)]:
        out = tiny.preprocess_tensor(torch.rand(shape))
        assert out.shape == (shape[0], 3, 64, 64)
    white = tiny.preprocess_tensor(torch.ones(1, 3, 80, 120))
    mean = torch.tensor([0.48145466, 0.4578275, 0.40821073])
    std = torch.tensor([0.26862954, 0.26130258, 0.27577711])
    assert torch.allclose(white[0, :, 10, 10], (1 - mean) / std, atol=1e-5)
    probs = tiny.classify(tiny.preprocess_tensor(_images(2)))
    assert probs.shape == (2, len(NAMES)) and torch.allclose(probs.sum(-1), torch.ones(2), atol=1e-5)
    with pytest.raises(ValueError, match="Bx3xHxW"):
        tiny.preprocess_tensor(torch.rand(3, 64, 64))


def test_tiny_128_config_is_registered_with_the_same_token_count(tiny):
    """``tiny-128`` sees 128 px at patch 16: native-resolution detail for the same transformer cost."""
    model = build(DaCLIPConfig(model="tiny-128", pretrained="none"))
    assert model.image_size == 128 and model.embed_dim == tiny.embed_dim
    assert model.clip.visual.positional_embedding.shape == tiny.clip.visual.positional_embedding.shape
    x = model.preprocess_tensor(torch.rand(2, 3, 150, 130))
    assert x.shape == (2, 3, 128, 128)
    content, degradation = model.encode_image(x)
    assert torch.allclose(content, model.encode_plain(x), atol=1e-5), "zero controls: plain CLIP at step 0"
    assert model.classify(x).shape == (2, len(NAMES))


def test_checkpoint_round_trip_through_daclip_load(tmp_path):
    model = build(DaCLIPConfig(model="tiny", pretrained="none", control_order="reversed", init_seed=3))
    with torch.no_grad():  # make the controller matter
        for linear in model.zero_linears:
            linear.weight.normal_(std=0.02)
        model.logit_scale.fill_(3.0)
    save_checkpoint(tmp_path / "checkpoints" / "step_1", state_for_checkpoint(model),
                    {"model": model.config.to_dict()})
    loaded = daclip.load(str(tmp_path))
    assert loaded.config == model.config and not loaded.training
    x = model.preprocess_tensor(_images(2, seed=5))
    model.eval()
    with torch.no_grad():
        for a, b in zip(model.encode_image(x), loaded.encode_image(x)):
            assert torch.equal(a, b)
        assert torch.equal(model.classify(x), loaded.classify(x))
    (tmp_path / "other").mkdir()
    save_checkpoint(tmp_path / "other" / "x", {"w": torch.zeros(1)}, {"width": 3})
    with pytest.raises(ValueError, match="not a DA-CLIP checkpoint"):
        daclip.load(str(tmp_path / "other" / "x"))
