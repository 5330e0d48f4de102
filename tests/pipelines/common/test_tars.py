"""The safe tar reader: regular members only, sizes checked from the header before any read."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from pipelines.common.files import NotRegularFileError
from pipelines.common.tars import (
    TarSamples,
    UnsafeTarError,
    iter_digests,
    iter_members,
    iter_samples,
    member_index,
    read_member,
)
from tests.pipelines.hostile import deadline, regular_member, sparse_member, special_member

END = b"\x00" * 1024


def _tar(path, members: dict[str, bytes]):
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_members_samples_digests_and_offsets(tmp_path):
    shard = _tar(tmp_path / "a.tar", {"k1.hq.png": b"H1", "k1.json": b"{}", "k2.hq.png": b"H2", "k2.json": b"[]"})
    assert list(iter_members(shard)) == [("k1.hq.png", b"H1"), ("k1.json", b"{}"), ("k2.hq.png", b"H2"),
                                         ("k2.json", b"[]")]
    assert [n for n, _ in iter_members(shard, select=lambda n: n.endswith(".json"))] == ["k1.json", "k2.json"]
    samples = list(iter_samples(shard))
    assert samples[1] == {"__key__": "k2", "__url__": str(shard), "hq.png": b"H2", "json": b"[]"}
    with open(shard, "rb") as handle:  # any binary stream works too
        assert len(list(iter_samples(handle))) == 2
    digests = list(iter_digests(shard))
    assert digests[0].size == 2 and digests[0].head == b"H1" and len(digests[0].sha256) == 64
    index = member_index(shard, {"k2.hq.png"})
    assert list(index) == ["k2.hq.png"] and read_member(shard, *index["k2.hq.png"]) == b"H2"
    assert list(TarSamples()([{"url": str(shard)}, str(shard)])).__len__() == 4


@pytest.mark.parametrize("member, problem", [
    (sparse_member("k.lq.png", 3 * 2**30), "sparse"),
    (special_member("k.lq.png", tarfile.SYMTYPE, "/etc/passwd"), "link"),
    (special_member("k.lq.png", tarfile.LNKTYPE, "other"), "link"),
    (special_member("k.lq.png", tarfile.CHRTYPE), "special"),
    (special_member("k.lq.png", tarfile.FIFOTYPE), "special"),
    (regular_member("../k.lq.png", b"x"), "'..'"),
    (regular_member("/tmp/k.lq.png", b"x"), "absolute"),
])
def test_unsafe_members_are_refused_before_any_read(tmp_path, member, problem):
    shard = tmp_path / "bad.tar"
    shard.write_bytes(member + END)
    for read in (lambda: list(iter_members(shard)), lambda: list(iter_digests(shard)), lambda: member_index(shard)):
        with pytest.raises(UnsafeTarError, match=problem):
            read()
    errors = []
    assert list(TarSamples(handler=lambda e: errors.append(e) or True)([str(shard)])) == [] and len(errors) == 1


def test_oversized_member_is_refused_from_its_header(tmp_path):
    shard = _tar(tmp_path / "big.tar", {"k.lq.png": b"x" * 5000})
    with pytest.raises(UnsafeTarError, match="over the limit"):
        list(iter_members(shard, max_member_bytes=4096))
    with pytest.raises(UnsafeTarError):
        read_member(shard, 512, 5000, max_member_bytes=4096)
    assert len(list(iter_members(shard, max_member_bytes=5000))) == 1


def test_truncated_member_and_special_shard_files(tmp_path):
    shard = _tar(tmp_path / "cut.tar", {"k.lq.png": b"x" * 5000})
    shard.write_bytes(shard.read_bytes()[:2000])
    with pytest.raises(tarfile.TarError):
        list(iter_members(shard))
    fifo = tmp_path / "fifo.tar"
    os.mkfifo(fifo)
    with deadline(10):
        for read in (iter_members, member_index, iter_digests):
            with pytest.raises(NotRegularFileError, match="FIFO"):
                list(read(fifo))
        with pytest.raises(NotRegularFileError, match="character device"):
            list(iter_members("/dev/zero"))
