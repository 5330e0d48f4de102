"""App fixtures: a small dataset with error rows and side maps, a 1-step micro restorer, the
served app on a free loopback port, and headless Chromium (Debian's ``chromium``) via Playwright."""

from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path

import pytest

from tests.daclip.clirun import invoke_ok

MICRO_UNET = {"unet": {"nf": 8, "ch_mult": [1, 2], "dim_head": 8, "num_prompts": 4},
              "train": {"patch": 16, "batch_size": 2, "lr": 0.001}}
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="package")
def app_data(tmp_path_factory) -> dict[str, Path]:
    """noisy, hazy (transmission map), motion-blurry (kernel) from two photos and one broken file."""
    import cv2
    from skimage import data

    from pipelines.cli import cli as dataset_cli

    root = tmp_path_factory.mktemp("app_data")
    photos = root / "in"
    photos.mkdir()
    for name in ("astronaut", "coffee"):
        cv2.imwrite(str(photos / f"{name}.png"), cv2.cvtColor(getattr(data, name)()[:96, :128], cv2.COLOR_RGB2BGR))
    (photos / "broken.png").write_bytes((photos / "coffee.png").read_bytes()[:200])
    invoke_ok(dataset_cli, ["synthesize", "--task", "noisy", "--task", "hazy", "--task", "motion-blurry",
                          "--input", str(photos), "--variants", "2", "--max-side", "48", "--out", str(root / "data"),
                          "--manifests", str(root / "manifests"), "--val-fraction", "0.3", "--seed", "0"])
    bad = root / "bad.parquet"
    bad.write_bytes(b"not a parquet file")
    return {"manifests": root / "manifests", "bad": bad, "photos": photos, "root": root}


@pytest.fixture(scope="package")
def restorer_run(app_data, tmp_path_factory) -> Path:
    """A 1-step unconditioned micro U-Net (enough to exercise the tiled restore path)."""
    from daclip.restoration.train_command import command as train_restore

    micro = tmp_path_factory.mktemp("micro") / "micro.json"
    micro.write_text(json.dumps(MICRO_UNET))
    out = tmp_path_factory.mktemp("restore_run") / "run"
    invoke_ok(train_restore, ["--shards", str(app_data["manifests"] / "noisy.parquet"), "--no-daclip",
                            "--model", str(micro), "--split", "", "--steps", "1", "--workers", "0", "--out", str(out)])
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="package")
def app_server(app_data, daclip_run, restorer_run):
    """The app on 127.0.0.1 (a free port) over the dataset's manifests plus one bad manifest."""
    from daclip.app.data import open_dataset
    from daclip.app.models import load_models
    from daclip.app.server import build_app, launch
    from daclip.restoration.restore import SamplingConfig

    dataset = open_dataset([app_data["manifests"], app_data["bad"]])
    models = load_models(str(daclip_run), str(restorer_run), SamplingConfig(steps=2, tile=None), device="cpu")
    demo = build_app(dataset, models)
    launch(demo, port=free_port(), block=False)
    yield {"url": demo.local_url, "dataset": dataset, "demo": demo}
    demo.close()


@pytest.fixture(scope="package")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[app]' (playwright)")
    if CHROMIUM is None:
        pytest.skip("no chromium executable (apt-get install chromium, or set CHROMIUM)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, app_server):
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    tab = context.new_page()
    tab.goto(app_server["url"])
    tab.wait_for_selector("#summary >> text=rows", timeout=60_000)
    yield tab
    context.close()
