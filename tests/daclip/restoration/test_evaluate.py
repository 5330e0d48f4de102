"""evaluate-restore's sample grids (the command itself runs end to end in test_trainer)."""

from __future__ import annotations

import numpy as np

from daclip.restoration.evaluate import make_grid


def test_grid_puts_panels_side_by_side():
    rows = [(np.zeros((30, 40, 3), np.uint8),) * 3, (np.zeros((60, 40, 3), np.uint8),) * 3]
    grid = make_grid(rows, height=30, gap=2)
    assert grid.shape == (30 + 2 + 30, 3 * 40 + 2 * 2, 3)
    assert (grid[:30, 40:42] == 255).all() and (grid[:30, :40] == 0).all()  # LQ, then the gap
    assert (grid[32:, 64:] == 255).all()  # the second row, resized to the common height, is padded
