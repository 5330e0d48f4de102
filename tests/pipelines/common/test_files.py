"""Atomic writes keep the umask's mode; derived paths stay under their root; inputs are regular files."""

from __future__ import annotations

import os
import stat

import pytest

from pipelines.common.files import (
    NotRegularFileError,
    UnsafePathError,
    file_mode,
    file_sha256,
    open_regular,
    safe_join,
    write_bytes_atomic,
    write_json_atomic,
)
from tests.pipelines.hostile import deadline


def test_atomic_files_get_the_umask_mode_not_0600(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    assert file_mode() == 0o666 & ~umask
    for path in (write_bytes_atomic(b"x", tmp_path / "a.bin"), write_json_atomic({"a": 1}, tmp_path / "sub/b.json")):
        assert stat.S_IMODE(path.stat().st_mode) == file_mode()
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.bin", "b.json", "sub"]  # no temporary left


@pytest.mark.parametrize("parts", [("/etc", "x"), ("..", "x"), ("a", "../../x"), ("a/../..", "x"), ("",),
                                   ("a\x00b",), ("..\\x",)])
def test_safe_join_refuses_escapes(tmp_path, parts):
    with pytest.raises(UnsafePathError):
        safe_join(tmp_path / "root", *parts)


def test_safe_join_follows_symlinks_and_keeps_plain_paths(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "out").symlink_to(tmp_path)
    with pytest.raises(UnsafePathError, match="outside"):
        safe_join(root, "out", "x.png")
    assert safe_join(root, "noisy", "LQ", "k.png") == root.resolve() / "noisy/LQ/k.png"


def test_open_regular_never_blocks_on_special_files(tmp_path):
    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    with deadline(10):
        for path, kind in ((fifo, "FIFO"), ("/dev/zero", "character device"), (tmp_path, "folder")):
            with pytest.raises(NotRegularFileError, match=kind):
                open_regular(path)
            with pytest.raises(NotRegularFileError):
                file_sha256(path)
    (tmp_path / "a").write_bytes(b"abc")
    assert file_sha256(tmp_path / "a") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
