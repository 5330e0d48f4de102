"""Native-resolution crops for classification (``daclip classify --crops N``)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from daclip.cli import cli
from daclip.controller.classify import image_probabilities
from daclip.controller.crops import crop_boxes, native_crops
from daclip.loading import load


def test_boxes_spread_over_the_image_deterministically():
    boxes = crop_boxes(300, 400, 64, 9)
    assert len(boxes) == 9 and boxes == crop_boxes(300, 400, 64, 9)
    assert boxes[0] == (0, 0) and boxes[-1] == (300 - 64, 400 - 64) and (118, 168) in boxes
    assert len(set(crop_boxes(300, 400, 64, 5))) == 5
    assert crop_boxes(300, 400, 64, 1) == [(118, 168)]
    assert crop_boxes(50, 400, 64, 4) == []
    with pytest.raises(ValueError, match=">= 1"):
        crop_boxes(300, 400, 64, 0)


def test_crops_keep_native_pixels():
    image = torch.rand(3, 100, 120)
    crops = native_crops(image, 32, 4)
    assert crops.shape == (4, 3, 32, 32) and torch.equal(crops[0], image[:, :32, :32])
    assert native_crops(image, 128, 4) is None


def test_probabilities_average_the_crops(daclip_run):
    model = load(daclip_run)
    size = model.image_size
    image = torch.rand(3, size * 3, size * 2)
    with torch.no_grad():
        whole = image_probabilities(model, image)
        assert torch.equal(whole, model.classify(model.preprocess_tensor(image[None]))[0].float())
        averaged = image_probabilities(model, image, crops=4)
        each = [model.classify(model.preprocess_tensor(c[None]))[0] for c in native_crops(image, size, 4)]
        torch.testing.assert_close(averaged, torch.stack(each).mean(0), atol=1e-6, rtol=1e-5)
        assert not torch.allclose(averaged, whole)
        small = torch.rand(3, size - 1, size * 2)  # no native crop fits: the resized view
        assert torch.equal(image_probabilities(model, small, crops=4), image_probabilities(model, small))
    assert abs(float(averaged.sum()) - 1) < 1e-5 or model.probability_kind == "sigmoid"


def test_cli(daclip_run, tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray((np.random.default_rng(0).random((150, 200, 3)) * 255).astype(np.uint8)).save(path)
    result = CliRunner().invoke(cli, ["classify", str(path), "--ckpt", str(daclip_run), "--crops", "4", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)[0]["degradation"] is not None
