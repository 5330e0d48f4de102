"""Hostile inputs for the tests: crafted tars (sparse, links, traversal names), pixel bombs, FIFOs,
a deadline for code that could hang, and the peak memory of a CLI run in a subprocess."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import struct
import subprocess
import sys
import tarfile
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

from pipelines.manifest.schema import read_manifest, write_manifest

ROOT = Path(__file__).resolve().parents[2]


class Hung(BaseException):
    """Raised by :func:`deadline`; not an ``OSError`` (``TimeoutError`` is one, and code under
    test catches those), nor an ``Exception``, so nothing on the way swallows it."""


@contextlib.contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Raise :class:`Hung` in the block after ``seconds`` (a blocking open of a FIFO included)."""

    def expire(signum, frame):
        raise Hung(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _checksum(header: bytearray) -> bytearray:
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\x00 " % sum(header)
    return header


def sparse_member(name: str, real_size: int, data: bytes = b"x" * 512) -> bytes:
    """Header + data of a GNU sparse member: ``len(data)`` bytes stored, ``real_size`` when expanded."""
    info = tarfile.TarInfo(name)
    info.size, info.type = len(data), tarfile.GNUTYPE_SPARSE
    header = bytearray(info.tobuf(format=tarfile.GNU_FORMAT)[:512])
    header[386:410] = b"%011o\x00%011o\x00" % (real_size - len(data), len(data))  # one data block at the end
    header[482] = 0  # no extended sparse headers
    header[483:495] = b"%011o\x00" % real_size
    padding = b"\x00" * (-len(data) % 512)
    return bytes(_checksum(header)) + data + padding


def special_member(name: str, kind: bytes, linkname: str = "") -> bytes:
    """A header-only member: a symlink (``tarfile.SYMTYPE``), hard link, device or FIFO."""
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info.tobuf(format=tarfile.USTAR_FORMAT)


def regular_member(name: str, data: bytes) -> bytes:
    """A regular member whose name is not checked (tarfile writes any name)."""
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info.tobuf(format=tarfile.GNU_FORMAT) + data + b"\x00" * (-len(data) % 512)


def rewrite_tar(path: Path, replace: dict[str, bytes] | None = None, first: Sequence[bytes] = ()) -> None:
    """Rewrite a tar: raw members ``first`` (see above), then its own members, some data replaced."""
    replace = replace or {}
    with tarfile.open(path) as tin:
        members = [(m, tin.extractfile(m).read()) for m in tin.getmembers()]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tout:
        for member, data in members:
            data = replace.get(member.name, data)
            member.size = len(data)
            tout.addfile(member, io.BytesIO(data))
    path.write_bytes(b"".join(first) + buf.getvalue())


def pixel_bomb_png(width: int, height: int) -> bytes:
    """A 1-bit black PNG of ``width`` x ``height``: a few KB on disk, 3 bytes a pixel decoded as RGB."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" * (1 + (width + 7) // 8)
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row * 256) for _ in range(height // 256))
    idat += packer.compress(row * (height % 256)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def edit_manifest(manifest: Path, out: Path, **columns) -> Path:
    """A copy of a manifest (shard paths made absolute) with some columns set for every row,
    written without validation."""
    frame = read_manifest(manifest, status=None).drop(columns=["shard_path"])
    frame["shard"] = [str((manifest.parent / s).resolve()) if isinstance(s, str) else s for s in frame["shard"]]
    for name, value in columns.items():
        frame[name] = value
    write_manifest(frame, out)
    return out


def run_measured(command: Sequence[str], timeout: float = 120) -> dict:
    """Run ``command`` from a small wrapper process: return code, stdout, stderr and peak RSS (MiB).

    The wrapper matters: Linux carries a process's peak RSS across ``exec``, so a child forked
    straight from pytest (torch loaded) would report pytest's peak, not its own."""
    wrapper = ("import json, resource, subprocess, sys; "
               "r = subprocess.run(sys.argv[2:], capture_output=True, text=True, timeout=float(sys.argv[1])); "
               "print(json.dumps({'rc': r.returncode, 'stdout': r.stdout, 'stderr': r.stderr, "
               "'rss_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "NO_ALBUMENTATIONS_UPDATE": "1"}
    done = subprocess.run([sys.executable, "-c", wrapper, str(timeout), *map(str, command)], capture_output=True,
                          text=True, env=env, timeout=timeout + 30)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def run_cli(args: Sequence[str], timeout: float = 120) -> dict:
    """``make-dataset ARGS`` in a fresh process (see :func:`run_measured`)."""
    return run_measured([sys.executable, "-m", "pipelines.cli", *map(str, args)], timeout)


def error_lines(stderr: str) -> list[str]:
    """Lines of stderr that are not progress bars."""
    return [line for line in stderr.replace("\r", "\n").splitlines() if line.strip() and "it/s]" not in line
            and "%|" not in line]
