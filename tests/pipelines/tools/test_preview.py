"""``make-dataset preview``: the contact sheet a user looks at before building a dataset."""

from __future__ import annotations

import cv2
import numpy as np
from click.testing import CliRunner

import degradations as D
from pipelines.cli import cli
from pipelines.tools.preview import COLUMNS, cell_size, layout_for, resolve_tasks

TASKS = ("noise", "jpeg-compressed", "shadow", "inpaint")


def _read_rgb(path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def test_preview_grid_shape_and_cells(tmp_path, astronaut):
    src = tmp_path / "photo.png"
    photo = np.ascontiguousarray(astronaut[:300, :400])
    cv2.imwrite(str(src), cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    out = tmp_path / "sheets" / "grid.png"
    args = ["preview", str(src), "--out", str(out), "--size", "64", "--seed", "3"]
    for task in TASKS:
        args += ["--task", task]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    sheet = _read_rgb(out)
    names = resolve_tasks(TASKS)
    layout = layout_for(len(names), photo.shape, 64, names)
    assert sheet.shape == layout.shape, "one row per type, one column per clean/severity"
    assert (layout.cell_h, layout.cell_w) == cell_size(photo.shape, 64) == (48, 64)
    clean = sheet[layout.cell(0, 0)].astype(int)
    for row in range(len(names)):
        assert np.array_equal(sheet[layout.cell(row, 0)], sheet[layout.cell(0, 0)]), "first column is the clean image"
        for col in range(1, len(COLUMNS)):
            cell = sheet[layout.cell(row, col)].astype(int)
            assert np.abs(cell - clean).mean() > 0.5, (names[row], COLUMNS[col])
    assert not list(out.parent.glob("*.tmp")), "the sheet is written atomically"


def test_preview_default_image_and_all(tmp_path):
    out = tmp_path / "all.png"
    result = CliRunner().invoke(cli, ["preview", "--task", "all", "--out", str(out), "--size", "24"])
    assert result.exit_code == 0, result.output
    assert "astronaut" in result.output
    sheet = _read_rgb(out)
    assert sheet.shape == layout_for(len(D.NAMES), (512, 512), 24, D.NAMES).shape


def test_preview_rejects_unknown_task(tmp_path):
    result = CliRunner().invoke(cli, ["preview", "--task", "foggy", "--out", str(tmp_path / "x.png")])
    assert result.exit_code != 0 and "valid names" in result.output
    assert not (tmp_path / "x.png").exists()


def test_resolve_tasks_accepts_aliases_in_names_order():
    assert resolve_tasks(["inpaint", "noise", "noisy"]) == ["noisy", "uncompleted"]
    assert resolve_tasks(["all"]) == list(D.NAMES)
