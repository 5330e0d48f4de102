"""One run per output folder (parts of one run share it); stale temporary files are removed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pipelines.common.locks import LOCK_NAME, OutputLocked, output_lock, output_locks
from tests.pipelines.hostile import ROOT

HOLD = ("import sys, time; sys.path.insert(0, sys.argv[1]); from pipelines.common.locks import output_lock; "
        "part = sys.argv[3] or None\nwith output_lock(sys.argv[2], part):\n print('held', flush=True); time.sleep(60)")


def hold(folder, part: str = "") -> subprocess.Popen:
    """Another process holding ``folder`` until killed."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(ROOT), str(folder), part], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_run_is_refused_with_the_first_runs_pid(tmp_path):
    other = hold(tmp_path / "out")
    try:
        with pytest.raises(OutputLocked, match=rf"in use by another run \(pid {other.pid}\)"), \
                output_lock(tmp_path / "out"):
            pass
    finally:
        other.kill()
        other.wait()
    with output_lock(tmp_path / "out"):  # a dead holder's lock is gone with it
        assert (tmp_path / "out" / LOCK_NAME).read_text().strip() == str(os.getpid())
    assert not (tmp_path / "out" / LOCK_NAME).exists()


def test_parts_share_a_folder_but_not_with_a_whole_run(tmp_path):
    other = hold(tmp_path / "out", "part-0-of-2")
    try:
        with output_lock(tmp_path / "out", "part-1-of-2"):
            pass
        with pytest.raises(OutputLocked, match=str(other.pid)), output_lock(tmp_path / "out", "part-0-of-2"):
            pass
        with pytest.raises(OutputLocked), output_lock(tmp_path / "out"):
            pass
    finally:
        other.kill()
        other.wait()


def test_stale_temporary_files_are_removed_at_start(tmp_path):
    out = tmp_path / "out"
    (out / "noisy").mkdir(parents=True)
    stale = [out / ".train.parquet.x1y2.tmp", out / "noisy" / "noisy-000001.tar.4242.tmp",
             out / "noisy" / "noisy-000001.parquet.4242.tmp", out / "noisy" / ".sizes.json.ab.tmp"]
    keep = [out / "notes.tmp", out / "noisy" / "noisy-000001.tar", out / "deeper" / "x" / ".a.tmp"]
    for path in stale + keep:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    with output_locks({out: 1, out / "noisy": 0}):
        assert not any(p.exists() for p in stale) and all(p.exists() for p in keep)
