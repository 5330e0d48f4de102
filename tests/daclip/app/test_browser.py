"""The app in headless Chromium: filters, a row's images and error, uploads, and what HTTP refuses."""

from __future__ import annotations

import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from daclip.app.data import Filter
from degradations import NAMES
from pipelines.common.images import decode_rgb, load_image

SHOTS = os.environ.get("DACLIP_APP_SCREENSHOTS")  # e.g. docs: write the README's screenshots there


def _rows_text(page) -> str:
    return page.inner_text("#rows-table")


def _show_row(page, row: int) -> None:
    page.fill("#row-number input", str(row))
    page.click("#show-row")
    page.wait_for_selector(f"#row-note >> text=row {row}:", timeout=20_000)


def _image(page, selector: str) -> np.ndarray:
    page.wait_for_selector(f"{selector} img", timeout=30_000)
    response = page.request.get(page.get_attribute(f"{selector} img", "src"))
    assert response.ok
    return decode_rgb(response.body())


def test_filters_change_the_table(page, app_server):
    dataset = app_server["dataset"]
    total = len(dataset.frame)
    assert f"{total} of {total} rows" in page.inner_text("#summary")
    page.locator("#filter-degradation label", has_text="hazy").click()
    hazy = len(dataset.select(Filter(degradation=("hazy",))))
    page.wait_for_selector(f"#summary >> text={hazy} of {total} rows", timeout=20_000)
    page.locator("#filter-status label", has_text="error").click()
    both = dataset.select(Filter(degradation=("hazy",), status=("error",)))
    page.wait_for_selector(f"#summary >> text={len(both)} of {total} rows", timeout=20_000)
    text = _rows_text(page)
    assert "noisy" not in text and "_error" in text
    page.locator("#filter-status label", has_text="error").click()  # back to all hazy rows
    page.wait_for_selector(f"#summary >> text={hazy} of {total} rows", timeout=20_000)
    ok_hazy = dataset.select(Filter(degradation=("hazy",), status=("ok",)))
    cut = float(np.median(dataset.param_table().values(ok_hazy, "t_far")))
    expected = dataset.select(Filter(degradation=("hazy",), params=f"t_far < {cut}"))
    page.fill("#filter-params textarea", f"t_far < {cut}")
    page.press("#filter-params textarea", "Enter")
    page.wait_for_selector(f"#summary >> text={len(expected)} of {total} rows", timeout=20_000)
    assert "hazy t_far" in page.inner_text("#summary")


def test_row_shows_lq_and_hq_pixels_of_the_shard(page, app_server):
    dataset = app_server["dataset"]
    row = int(dataset.select(Filter(degradation=("hazy",), status=("ok",)))[0])
    _show_row(page, row)
    assert np.array_equal(_image(page, "#row-lq"), dataset.image(row, "lq.png"))
    assert np.array_equal(_image(page, "#row-hq"), dataset.image(row, "hq.png"))
    page.click("#replay")
    page.wait_for_selector("#replay-note >> text=byte-identical", timeout=20_000)
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / "app_dataset.png"), full_page=True)


def test_error_row_shows_its_message(page, app_server):
    dataset = app_server["dataset"]
    row = int(dataset.select(Filter(status=("error",)))[0])
    _show_row(page, row)
    page.wait_for_function("document.querySelector('#row-error textarea').value.length > 0", timeout=20_000)
    assert page.input_value("#row-error textarea") == dataset.frame.iloc[row]["error_message"]
    assert "could not open" in page.inner_text("#dataset-status")  # the bad manifest, in one line


def _analyse(page, path: Path) -> None:
    page.get_by_role("tab", name="Restore").click()
    page.set_input_files("#upload input[type=file]", str(path))
    page.wait_for_timeout(500)
    page.click("#run-restore")


def test_upload_shows_probabilities_and_restored_image(page, app_data, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes((app_data["photos"] / "broken.png").read_bytes())
    _analyse(page, broken)
    page.wait_for_selector("#restore-status >> text=cannot use this image", timeout=30_000)
    photo = app_data["photos"] / "astronaut.png"
    page.locator("#upload button[aria-label='Clear']").first.click()  # the file input comes back
    page.set_input_files("#upload input[type=file]", str(photo))
    page.wait_for_timeout(500)
    page.click("#run-restore")
    page.wait_for_selector("#restore-status >> text=restored", timeout=60_000)
    probs = page.inner_text("#probs")
    assert all(name in probs for name in NAMES)
    assert _image(page, "#restore-output").shape == load_image(photo).shape
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / "app_restore.png"), full_page=True)


@pytest.mark.parametrize("route", ["gradio_api/file=", "file=", "gradio_api/file%3D"])
def test_http_serves_nothing_outside_the_dataset(app_server, app_data, route):
    base = app_server["url"]
    shard = app_server["dataset"].frame["shard_path"].dropna().iloc[0]
    targets = ["/etc/passwd", "../../../../../../etc/passwd", str(app_data["manifests"] / "noisy.parquet"), shard]
    for target in targets:
        for spelled in (target, urllib.parse.quote(target, safe=""), target.replace("/", "%2F"),
                        target.replace("..", "%2e%2e")):
            try:
                with urllib.request.urlopen(base + route + spelled, timeout=10) as response:
                    body = response.read()
            except urllib.error.HTTPError as exc:
                assert exc.code in (400, 403, 404, 405), (spelled, exc.code)
                continue
            assert b"root:" not in body and b"PAR1" not in body and b"ustar" not in body, spelled


def test_command_is_in_the_daclip_group():
    from click.testing import CliRunner

    from daclip.cli import cli

    result = CliRunner().invoke(cli, ["app", "--help"])
    assert result.exit_code == 0 and "--manifest PATH" in result.output and "127.0.0.1" in result.output
