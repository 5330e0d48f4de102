"""Reference fixtures (``tests/fixtures/daclip_official``, see its README) and full-size random state dicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

FIXTURES = Path(__file__).parents[2] / "fixtures" / "daclip_official"
GAINS = (".g", "ln_1.weight", "ln_2.weight", "norm.weight", "norm1.weight", "norm2.weight", "norm3.weight",
         "ln_pre.weight", "ln_post.weight", "ln_final.weight")
TOL = 2e-5  # x max|reference|: the fixture README's suggested bound (5x its float32 rounding floor)


def rel_err(ours: torch.Tensor, ref: torch.Tensor) -> float:
    """max |ours - ref| / max |ref|."""
    ref = ref.double()
    return float((ours.detach().double() - ref).abs().max() / ref.abs().max().clamp_min(1e-30))


def load_io(name: str) -> dict[str, torch.Tensor]:
    """A fixture's tensors, cloned: aligned memory, as the reference run fed them."""
    return {k: v.clone() for k, v in load_file(FIXTURES / name).items()}


def random_state(keymap: str, std: float = 0.02, alias: bool = True) -> dict[str, torch.Tensor]:
    """Random tensors with the official names and shapes of a full-size key map; ``visual.*``
    shares ``clip.visual.*``'s tensors, as in the released file."""
    shapes = json.loads((FIXTURES / keymap).read_text())
    gen = torch.Generator().manual_seed(0)
    state = {}
    for key, shape in shapes.items():
        if alias and key.startswith("visual.") and "clip." + key in state:
            state[key] = state["clip." + key]
            continue
        t = torch.empty(shape).normal_(0, std, generator=gen)
        state[key] = t.add_(1.0) if key.endswith(GAINS) else t
    for key in ("logit_scale", "clip.logit_scale"):
        if key in state:
            state[key] = torch.tensor(4.6052)
    return state


@pytest.fixture(scope="package")
def fixtures() -> Path:
    return FIXTURES
