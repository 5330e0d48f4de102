"""DA-CLIP model and loss on the tiny config: no data set needed."""

from __future__ import annotations

import math

import pytest
import torch
from safetensors.torch import save_file

import daclip
from daclip.checkpoint import save_checkpoint
from daclip.factory import PretrainedUnavailable, create_clip
from daclip.losses import DEGRADATION_LOSSES, LossConfig, daclip_loss, degradation_ce, degradation_infonce
from daclip.model import DaCLIPConfig, build, state_for_checkpoint
from degradations import NAMES

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny() -> daclip.model.DaCLIP:
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


def test_loss_decreases_on_a_fixed_batch():
    model = build(DaCLIPConfig(model="tiny", pretrained="none"))
    from daclip.train_daclip import TrainingTask, param_groups

    task = TrainingTask(model, LossConfig())
    x = model.preprocess_tensor(_images(8, seed=1))
    labels = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7])
    captions = [f"a photo of object number {i}" for i in range(8)]
    batch = {"image": x, "label": labels, "text": model.tokenize(captions),
             "has_caption": torch.ones(8, dtype=torch.bool)}
    opt = torch.optim.AdamW(param_groups(model, 0.05), lr=1e-3, betas=(0.9, 0.98), eps=1e-6)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        terms, logits = task(batch)
        terms["total"].backward()
        opt.step()
        model.clamp_logit_scale()
        losses.append(float(terms["total"].detach()))
    assert set(terms) == {"degradation", "content", "total"}
    assert losses[-1] < 0.5 * losses[0], losses
    assert (logits.argmax(-1) == labels).float().mean() >= 0.75
    assert float(model.logit_scale.detach()) <= math.log(100) + 1e-6


def test_degradation_ce_has_no_duplicate_floor_but_infonce_does():
    class_text = torch.eye(10, 16)
    labels = torch.tensor([3] * 8 + [5] * 8)  # two classes, eight duplicates each
    perfect = class_text[labels].clone()
    scale = torch.tensor(100.0)
    ce, logits = degradation_ce(perfect, class_text, labels, scale)
    info, logits2 = degradation_infonce(perfect, class_text, labels, scale)
    assert ce < 1e-3
    assert info > math.log(8) - 0.05, "in-batch InfoNCE on repeated words cannot go below ln(#duplicates)"
    assert torch.equal(logits, logits2)
    assert set(DEGRADATION_LOSSES) == {"ce", "infonce"}
    with pytest.raises(ValueError, match="infonce"):
        LossConfig(degradation_loss="focal")


def test_rows_without_caption_train_the_degradation_term_only():
    g = torch.Generator().manual_seed(0)
    content = torch.randn(6, 16, generator=g, requires_grad=True)
    degradation = torch.randn(6, 16, generator=g, requires_grad=True)
    common = dict(degradation=degradation, labels=torch.arange(6) % 10, class_text=torch.randn(10, 16, generator=g),
                  scale=torch.tensor(10.0), caption_text=torch.randn(6, 16, generator=g))
    mask = torch.tensor([True, True, True, False, False, False])
    terms, _ = daclip_loss(LossConfig(), content=content, has_caption=mask, **common)
    terms["total"].backward()
    assert content.grad[3:].abs().sum() == 0 and content.grad[:3].abs().sum() > 0
    assert degradation.grad.abs().sum(-1).gt(0).all(), "every row trains the degradation term"
    none, _ = daclip_loss(LossConfig(), content=content, has_caption=torch.zeros(6, dtype=torch.bool), **common)
    assert "content" not in none and torch.equal(none["total"], none["degradation"])


def test_hq_align_term_pulls_content_towards_hq():
    content = torch.randn(4, 8)
    common = dict(degradation=torch.randn(4, 8), labels=torch.zeros(4, dtype=torch.long),
                  class_text=torch.randn(10, 8), scale=torch.tensor(10.0))
    same, _ = daclip_loss(LossConfig(hq_align_weight=0.5), content=content, hq_features=content * 3, **common)
    other, _ = daclip_loss(LossConfig(hq_align_weight=0.5), content=content, hq_features=-content, **common)
    assert same["hq_align"] < 1e-6 and abs(float(other["hq_align"]) - 2.0) < 1e-5
    assert torch.allclose(other["total"], other["degradation"] + 0.5 * other["hq_align"])
    off, _ = daclip_loss(LossConfig(), content=content, hq_features=-content, **common)
    assert "hq_align" not in off


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


def test_pretrained_from_a_local_file_and_offline_tag(tmp_path, monkeypatch):
    reference = create_clip("tiny", "none", seed=7)
    path = tmp_path / "open_clip_model.safetensors"
    save_file({k: v.contiguous() for k, v in reference.state_dict().items()}, str(path))
    loaded = create_clip("tiny", str(path), seed=0)
    for (k, a), b in zip(reference.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), k
    assert torch.equal(create_clip("tiny", "none", seed=7).visual.proj, reference.visual.proj)
    assert not torch.equal(create_clip("tiny", "none", seed=0).visual.proj, reference.visual.proj)

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PretrainedUnavailable) as info:
        create_clip("ViT-B-32", "laion2b_s34b_b79k")
    message = str(info.value)
    assert "--pretrained /path/to/open_clip_model.safetensors" in message and "HF_HUB_OFFLINE" in message
    with pytest.raises(PretrainedUnavailable, match="neither a file nor an open_clip tag"):
        create_clip("tiny", "no_such_tag")
    with pytest.raises(ValueError, match="unknown CLIP architecture"):
        create_clip("no-such-model", "none")
