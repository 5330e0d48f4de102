"""``--png-level``: the zlib level changes PNG bytes and sizes, never the HQ pixels; a level is
deterministic, recorded when it is not the default, and the default leaves datasets as before.
(Keys and seeds come from the HQ member's hash, as with ``--image-format``: each level is its own recipe.)"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from pipelines.build.plan import BuildOptions
from pipelines.cli import cli
from pipelines.common.images import DEFAULT_PNG_LEVEL, decode_rgb, encode_image
from pipelines.synthesize.command import synthesize
from pipelines.synthesize.worker import SynthConfig
from tests.pipelines.synthesize.test_command import make_photos


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory, photos) -> Path:
    folder = tmp_path_factory.mktemp("png-level") / "photos"
    make_photos(folder, photos, per_photo=1)
    return folder


def build(root: Path, photo_dir: Path, level: int) -> Path:
    config = SynthConfig(tasks=("noisy", "hazy"), seed=3, max_side=64, png_level=level)
    synthesize(config, BuildOptions(out=root / "data", manifests=root / "manifests", workers=1), input=photo_dir)
    return root


def members(root: Path) -> dict[str, bytes]:
    out = {}
    for tar in sorted((root / "data").rglob("*.tar")):
        with tarfile.open(tar) as archive:
            for m in archive.getmembers():
                out[m.name] = archive.extractfile(m).read()
    return out


def test_levels_change_bytes_not_pixels(tmp_path, photo_dir):
    stored, default, again = (members(build(tmp_path / name, photo_dir, level))
                              for name, level in (("zero", 0), ("one", DEFAULT_PNG_LEVEL), ("again", DEFAULT_PNG_LEVEL)))
    assert default == again  # a level is deterministic
    def hq_pixels(found: dict[str, bytes]) -> list[bytes]:
        return sorted(decode_rgb(data).tobytes() for name, data in found.items() if name.endswith(".hq.png"))

    assert len(stored) == len(default) and hq_pixels(stored) == hq_pixels(default) and hq_pixels(default)
    hq_size = [sum(len(d) for n, d in found.items() if n.endswith(".hq.png")) for found in (stored, default)]
    assert hq_size[0] > hq_size[1]
    record = json.loads((tmp_path / "zero" / "manifests" / "noisy.json").read_text())
    assert '"png_level": 0' in json.dumps(record)
    assert "png_level" not in (tmp_path / "one" / "manifests" / "noisy.json").read_text()


def test_encode_image_levels(astronaut):
    img = np.ascontiguousarray(astronaut[:64, :64])
    sizes = [len(encode_image(img, "png", level)) for level in (0, 1, 9)]
    assert sizes[0] > sizes[1] >= sizes[2]  # with the RLE strategy levels 1-9 differ little
    assert encode_image(img, "png") == encode_image(img, "png", DEFAULT_PNG_LEVEL)
    with pytest.raises(ValueError, match="0-9"):
        encode_image(img, "png", 10)
    with pytest.raises(ValueError, match="png-level"):
        SynthConfig(tasks=("noisy",), png_level=-1)


def test_cli_flag(tmp_path, photo_dir):
    result = CliRunner().invoke(cli, ["synthesize", "--task", "noise", "--input", str(photo_dir), "--max-side", "32",
                                      "--png-level", "0", "--out", str(tmp_path / "data"),
                                      "--manifest-dir", str(tmp_path / "manifests")])
    assert result.exit_code == 0, result.output
    with tarfile.open(next((tmp_path / "data").rglob("*.tar"))) as archive:
        name = next(m for m in archive.getmembers() if m.name.endswith("lq.png"))
        assert decode_rgb(io.BytesIO(archive.extractfile(name).read()).getvalue()).shape == (32, 32, 3)
    bad = CliRunner().invoke(cli, ["synthesize", "--task", "noise", "--png-level", "12", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "png-level" in bad.output
