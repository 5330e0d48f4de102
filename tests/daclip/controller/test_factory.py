"""The base-CLIP factory: weights from none, a local file or an open_clip tag (offline error)."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from daclip.controller.factory import create_clip
from pipelines.common.models import ModelUnavailableError

torch.set_num_threads(1)


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
    with pytest.raises(ModelUnavailableError) as info:
        create_clip("ViT-B-32", "laion2b_s34b_b79k")
    message = str(info.value)
    assert "--pretrained /path/to/open_clip_model.safetensors" in message and "HF_HUB_OFFLINE" in message
    with pytest.raises(ModelUnavailableError, match="neither a file nor an open_clip tag"):
        create_clip("tiny", "no_such_tag")
    with pytest.raises(ValueError, match="unknown CLIP architecture"):
        create_clip("no-such-model", "none")
