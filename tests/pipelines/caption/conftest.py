"""Fixtures of the caption tests: a tiny random BLIP and a fresh copy of a small dataset per test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipelines.caption.blip import Captioner
from tests.pipelines.caption.captioning import synthesize_manifests
from tests.pipelines.tiny_blip import build_tiny_blip


@pytest.fixture(scope="module")
def blip_dir(tmp_path_factory) -> Path:
    return build_tiny_blip(tmp_path_factory.mktemp("tiny_blip"), image_size=32)


@pytest.fixture(scope="module")
def dataset_template(tmp_path_factory, photos) -> Path:
    root = tmp_path_factory.mktemp("dataset")
    synthesize_manifests(root, photos)
    return root


@pytest.fixture()
def dataset(dataset_template, tmp_path) -> Path:
    """A fresh copy of the shards and manifests; returns the manifests folder."""
    root = tmp_path / "ds"
    shutil.copytree(dataset_template, root)
    return root / "manifests"


@pytest.fixture(scope="module")
def captioner(blip_dir) -> Captioner:
    return Captioner.load(str(blip_dir), device="cpu")
