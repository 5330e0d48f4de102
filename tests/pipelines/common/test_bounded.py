"""The bounded runner: results and ValueError text come back; time, memory and crashes stop with one line."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from pipelines.common.bounded import GiB, Limits, Stopped, format_bytes, run_bounded

SMALL = Limits(seconds=20, memory_bytes=256 * 1024**2)


def test_returns_the_result():
    assert run_bounded(divmod, 7, 2, limits=SMALL) == (3, 1)
    assert np.array_equal(run_bounded(np.arange, 5, limits=SMALL), np.arange(5))


def test_value_error_keeps_its_text():
    with pytest.raises(ValueError, match=r"^invalid literal for int\(\) with base 10: 'x'$"):
        run_bounded(int, "x", limits=SMALL)


def test_timeout_kills_a_sleeping_child():
    started = time.monotonic()
    with pytest.raises(Stopped, match=r"^it ran past 0\.5 s$"):
        run_bounded(time.sleep, 60, limits=Limits(seconds=0.5))
    assert time.monotonic() - started < 10


def test_memory_limit_stops_a_large_allocation():
    with pytest.raises(Stopped, match=r"^it needed more than 256 MiB$"):
        run_bounded(bytearray, 64 * GiB, limits=SMALL)


def test_other_errors_and_deaths_are_one_line():
    with pytest.raises(Stopped, match=r"^it failed: ZeroDivisionError: .*by zero$"):
        run_bounded(divmod, 1, 0, limits=SMALL)
    with pytest.raises(Stopped, match=r"^it exited with code 3 and no result"):
        run_bounded(os._exit, 3, limits=SMALL)


def test_format_bytes():
    assert (format_bytes(4 * GiB), format_bytes(GiB + GiB // 2), format_bytes(256 * 1024**2)) == \
        ("4 GiB", "1.5 GiB", "256 MiB")
