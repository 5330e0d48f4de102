"""DA-CLIP: a trainable controller steering a frozen open_clip CLIP image encoder.

Sketch (L = number of vision blocks)::

    image ─┬─ controller (trainable deep copy of clip.visual) ───────────────────────────┐
           │    embeds → block_1 → … → block_L → ln_post[CLS] @ proj  = degradation emb.  │
           │              │ Z_1        │ Z_L      (Z_i: Linear(width, width), zero-init)  │
           │              ▼            ▼          on all tokens, controller stream unchanged
           └─ frozen clip.visual:  embeds → block_1 (+h) → … → block_L (+h) → ln_post[CLS] @ proj
                                                                     = content embedding

``control_order`` pairs controller and encoder blocks: ``"aligned"`` adds Z_i(controller block i)
after encoder block i (the paper's figure, our default); ``"reversed"`` adds Z_{L+1-i} after
encoder block i (what DA-CLIP's code does through ``list.pop()``; needed to mirror its weights).
Because every Z_i starts at zero, an untrained model's content embedding is exactly plain CLIP's.

All CLIP weights (image and text towers) are frozen; the controller, the Z_i and a copy of the
logit scale train. Degradation logits are the scaled cosines between the degradation embedding
and the text embeddings of the ten bare degradation words. A single-type model (trained with
``ce``/``infonce``) turns them into a softmax; a multi-label model (``multi_label=True``, trained
with ``bce``) adds one learned logit bias, as SigLIP does, and reads each type's probability as an
independent sigmoid, so an image can hold several types at once.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from degradations import NAMES

from ..data.transforms import preprocess_tensor
from .config import CONTROL_ORDERS
from .factory import clip_from_config, create_clip, get_tokenizer, tokenizer_for_config

PREPROCESS = ("tensor", "pil")
MAX_LOGIT_SCALE = math.log(100.0)
# the multi-label bias starts where sigmoid(bias) = 0.1, the prior of one type in ten when the
# cosine is 0 (the RetinaNet/focal-loss prior init), so the first steps are not spent on it
CLASS_BIAS_INIT = -math.log(9.0)
FORMAT = "daclip/1"


@dataclass(frozen=True)
class DaCLIPConfig:
    """What is needed to rebuild the architecture (weights come from the checkpoint)."""

    model: str = "ViT-B-32"
    pretrained: str = "laion2b_s34b_b79k"  # where the frozen CLIP came from (informational once trained)
    control_order: str = "aligned"
    init_seed: int = 0
    # an open_clip model config (embed_dim, vision_cfg, text_cfg) that overrides ``model``, e.g. one
    # inferred from released DA-CLIP weights by ``daclip convert``
    clip_config: dict[str, Any] | None = None
    # "tensor": bicubic resize on float tensors (ours); "pil": open_clip's PIL transform on uint8,
    # exactly the reference's clip_transform
    preprocess: str = "tensor"
    class_scale: float | None = None  # fixed logit scale for classify (the reference: 100); None: learned
    # True: sigmoid per type (+ a learned logit bias), trained with the bce loss on multi-hot targets;
    # False: softmax over the ten types (ce/infonce). Checkpoints without this field are single-type.
    multi_label: bool = False

    def __post_init__(self) -> None:
        if self.control_order not in CONTROL_ORDERS:
            raise ValueError(f"control_order must be one of {CONTROL_ORDERS}, got {self.control_order!r}")
        if self.preprocess not in PREPROCESS:
            raise ValueError(f"preprocess must be one of {PREPROCESS}, got {self.preprocess!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DaCLIPConfig:
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in fields})


def degradation_prompts() -> list[str]:
    """DA-CLIP's class texts: the bare degradation words (``motion-blurry``, ``hazy``, ...)."""
    return list(NAMES)


class DaCLIP(nn.Module):
    """Controller + frozen CLIP. ``encode_image(x) -> (content, degradation)``."""

    def __init__(self, clip: nn.Module, config: DaCLIPConfig, tokenizer=None):
        super().__init__()
        self.config = config
        self.clip = clip
        for p in self.clip.parameters():
            p.requires_grad_(False)
        visual = clip.visual
        if not hasattr(visual, "transformer") or not hasattr(visual, "_embeds"):
            raise TypeError(f"{config.model}: the controller needs an open_clip VisionTransformer image tower")
        self.controller = copy.deepcopy(visual)
        for p in self.controller.parameters():
            p.requires_grad_(True)
        width = visual.transformer.width
        self.zero_linears = nn.ModuleList(nn.Linear(width, width) for _ in visual.transformer.resblocks)
        for linear in self.zero_linears:
            nn.init.zeros_(linear.weight)
            nn.init.zeros_(linear.bias)
        self.logit_scale = nn.Parameter(clip.logit_scale.detach().clone().reshape(()))
        if config.multi_label:  # only multi-label models have it: single-type checkpoints load unchanged
            self.class_bias = nn.Parameter(torch.tensor(CLASS_BIAS_INIT, dtype=self.logit_scale.dtype))
        self.embed_dim = int(visual.output_dim)
        self.image_size = int(visual.image_size[0])
        if tokenizer is None:
            tokenizer = tokenizer_for_config(config.clip_config) if config.clip_config else get_tokenizer(config.model)
        self.tokenizer = tokenizer
        self.register_buffer("degradation_tokens", self.tokenizer(degradation_prompts()), persistent=False)
        self.clip.eval()

    # -- modes -------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> DaCLIP:
        super().train(mode)
        self.clip.eval()  # frozen: no patch dropout or other train-time behaviour
        return self

    def trainable_parameters(self) -> list[tuple[str, nn.Parameter]]:
        return [(n, p) for n, p in self.named_parameters() if p.requires_grad]

    # -- image side --------------------------------------------------------------------------
    def preprocess_tensor(self, x: torch.Tensor) -> torch.Tensor:
        """Float Bx3xHxW in [0, 1], any size -> normalised CLIP input (bicubic resize of the
        shorter side to ``image_size``, centre crop, OpenAI mean/std; with ``preprocess="pil"``
        the same through PIL on the image rounded to uint8, as the reference does)."""
        if self.config.preprocess == "pil":
            from .preprocess import pil_preprocess

            return pil_preprocess(x, self.image_size).to(self.logit_scale.device)
        return preprocess_tensor(x.to(self.logit_scale.device), self.image_size)

    def control(self, image: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Run the controller: (degradation embedding, one control per block, in block order)."""
        ctrl = self.controller
        x = _to_stream(ctrl.transformer, ctrl._embeds(image))
        hints = []
        for block, linear in zip(ctrl.transformer.resblocks, self.zero_linears):
            x = block(x)
            hints.append(linear(x))  # the controller's own stream is not modified
        return _head(ctrl, _from_stream(ctrl.transformer, x)), hints

    def encode_controlled(self, image: torch.Tensor, hints: list[torch.Tensor]) -> torch.Tensor:
        """The frozen encoder with ``hints`` added after each block (pairing per ``control_order``)."""
        visual = self.clip.visual
        blocks = visual.transformer.resblocks
        order = hints if self.config.control_order == "aligned" else hints[::-1]
        x = _to_stream(visual.transformer, visual._embeds(image))
        for block, hint in zip(blocks, order):
            x = block(x) + hint
        return _head(visual, _from_stream(visual.transformer, x))

    def encode_image(
        self, image: torch.Tensor, control: bool = True, normalize: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(content, degradation)`` embeddings of normalised CLIP input. ``control=False``:
        plain CLIP for the content; the degradation embedding is the controller's either way."""
        degradation, hints = self.control(image)
        content = self.encode_controlled(image, hints) if control else self.clip.encode_image(image)
        if normalize:
            content, degradation = F.normalize(content, dim=-1), F.normalize(degradation, dim=-1)
        return content, degradation

    @torch.no_grad()
    def encode_plain(self, image: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        """Frozen plain CLIP image embedding (no controller)."""
        return self.clip.encode_image(image, normalize=normalize)

    # -- text side ---------------------------------------------------------------------------
    def tokenize(self, texts: list[str]) -> torch.Tensor:
        return self.tokenizer(texts)

    @torch.no_grad()
    def encode_text(self, tokens: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        return self.clip.encode_text(tokens.to(self.logit_scale.device), normalize=normalize)

    @torch.no_grad()
    def degradation_text_features(self) -> torch.Tensor:
        """Normalised text embeddings of the ten degradation words, rows in ``NAMES`` order."""
        return self.encode_text(self.degradation_tokens, normalize=True)

    # -- classification ----------------------------------------------------------------------
    @property
    def probability_kind(self) -> str:
        """``"sigmoid"`` (multi-label: one independent probability per type) or ``"softmax"``."""
        return "sigmoid" if self.config.multi_label else "softmax"

    def degradation_bias(self) -> torch.Tensor | None:
        """The multi-label logit bias (None for a single-type model)."""
        return self.class_bias if self.config.multi_label else None

    def degradation_logits(self, degradation: torch.Tensor, class_text: torch.Tensor | None = None) -> torch.Tensor:
        class_text = self.degradation_text_features() if class_text is None else class_text
        if self.config.class_scale is not None:
            scale = torch.tensor(float(self.config.class_scale), device=degradation.device)
        else:
            scale = self.logit_scale.exp().clamp(max=100.0)
        logits = scale * F.normalize(degradation, dim=-1) @ class_text.T
        bias = self.degradation_bias()
        return logits if bias is None else logits + bias.to(logits.dtype)

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """Degradation logits -> probabilities of this model's kind (sigmoid or softmax)."""
        return logits.sigmoid() if self.config.multi_label else logits.softmax(dim=-1)

    @torch.no_grad()
    def classify(self, image: torch.Tensor) -> torch.Tensor:
        """Probabilities over ``degradations.NAMES`` (B x 10) for normalised CLIP input: a softmax
        for a single-type model, independent sigmoids for a multi-label one (see ``probability_kind``)."""
        degradation, _ = self.control(image)
        return self.probabilities(self.degradation_logits(degradation))

    @torch.no_grad()
    def zero_shot(self, image: torch.Tensor) -> torch.Tensor:
        """Plain CLIP's zero-shot probabilities over the same ten words (the baseline)."""
        image_features = self.encode_plain(image, normalize=True)
        scale = self.clip.logit_scale.exp().clamp(max=100.0)
        return (scale * image_features @ self.degradation_text_features().T).softmax(dim=-1)

    def clamp_logit_scale(self) -> None:
        with torch.no_grad():
            self.logit_scale.clamp_(0.0, MAX_LOGIT_SCALE)


def _to_stream(transformer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Batch-first tokens (what ``_embeds`` returns) -> the transformer's own layout."""
    return x if getattr(transformer, "batch_first", True) else x.transpose(0, 1)


def _from_stream(transformer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return x if getattr(transformer, "batch_first", True) else x.transpose(0, 1)


def _head(visual: nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """ln_post + pooling + projection, as ``VisionTransformer.forward`` does after its blocks."""
    pooled, _ = visual._pool(tokens)
    return pooled @ visual.proj if visual.proj is not None else pooled


def build(config: DaCLIPConfig) -> DaCLIP:
    """A fresh DA-CLIP: base CLIP from ``config.pretrained``, controller copied from it."""
    return DaCLIP(_base_clip(config, config.pretrained), config)


def _base_clip(config: DaCLIPConfig, pretrained: str) -> nn.Module:
    if config.clip_config:
        return clip_from_config(config.clip_config, seed=config.init_seed)
    return create_clip(config.model, pretrained, seed=config.init_seed)


def state_for_checkpoint(model: DaCLIP) -> dict[str, torch.Tensor]:
    """Everything ``load`` needs, frozen CLIP included, so a checkpoint stands alone."""
    return {k: v for k, v in model.state_dict().items()}


def from_weights(config: DaCLIPConfig, weights: dict[str, torch.Tensor]) -> DaCLIP:
    """A DA-CLIP rebuilt from its config and checkpoint weights (the base CLIP is built empty: no download)."""
    if not config.clip_config:  # open_clip's factory moves the model to a device: no meta build
        model = DaCLIP(_base_clip(config, "none"), config)
        model.load_state_dict(weights, strict=True)
        return model
    with torch.device("meta"):  # no time or memory spent on an initialisation the weights replace
        model = DaCLIP(_base_clip(config, "none"), config)
    model.load_state_dict(weights, strict=True, assign=True)
    return _rebuild_buffers(_aligned(model))


def _aligned(model: nn.Module) -> nn.Module:
    """Copy tensors that sit at addresses not 64-byte aligned (safetensors and mmapped files can
    put them there): CPU kernels round differently on them, so results would depend on the file."""
    for module in model.modules():
        for tensor in [*module._parameters.values(), *module._buffers.values()]:
            if tensor is not None and tensor.data_ptr() % 64:
                tensor.data = tensor.data.clone()
    return model


def _rebuild_buffers(model: DaCLIP) -> DaCLIP:
    """Non-persistent buffers (the text tower's causal mask, the class tokens) are not in the
    weights: recompute them on CPU; any other buffer left on ``meta`` is an error."""
    mask = model.clip.attn_mask
    if mask is not None and mask.is_meta:
        causal = torch.full(tuple(mask.shape), float("-inf")).triu_(1)
        model.clip.register_buffer("attn_mask", causal, persistent=False)
    model.register_buffer("degradation_tokens", model.tokenizer(degradation_prompts()), persistent=False)
    left = [name for name, b in model.named_buffers() if b.is_meta]
    if left:
        raise RuntimeError(f"buffers not restored after loading: {left}")
    return model
