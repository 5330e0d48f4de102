"""Fixtures of the pipelines tests: the small dataset of :mod:`tests.pipelines.small_dataset`."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.synthesize import synthesize
from tests.pipelines.small_dataset import config, make_inputs


@pytest.fixture(scope="session")
def inputs(tmp_path_factory, photos) -> Path:
    return make_inputs(tmp_path_factory.mktemp("tools") / "photos", photos)


@pytest.fixture(scope="session")
def dataset(tmp_path_factory, inputs) -> Path:
    root = tmp_path_factory.mktemp("dataset")
    synthesize(config(), input=inputs, out=root / "data", manifests=root / "manifests")
    return root
