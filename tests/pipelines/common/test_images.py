"""pipelines.common.images: every odd input is normalised to HxWx3 uint8 RGB or refused with a clear message."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from pipelines.common.images import ImageError, bound_size, decode_rgb, encode_image, encode_map, load_image


def _save(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.fixture(scope="module")
def small(astronaut) -> np.ndarray:
    return np.ascontiguousarray(cv2.resize(astronaut, (48, 32), interpolation=cv2.INTER_AREA))


def test_rgb_png_roundtrip_exact(small):
    assert np.array_equal(load_image(_save(Image.fromarray(small), "PNG")), small)


def test_grayscale_becomes_three_equal_channels(small):
    gray = small[:, :, 1]
    out = load_image(_save(Image.fromarray(gray), "PNG"))
    assert out.shape == (32, 48, 3) and out.dtype == np.uint8
    assert np.array_equal(out[:, :, 0], gray) and np.array_equal(out[:, :, 2], gray)


def test_16bit_png_is_scaled_not_clipped(small):
    gray = small[:, :, 0]
    data = _save(Image.fromarray(gray.astype(np.uint16) * 257), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I;16")
    out = load_image(data)
    assert np.array_equal(out[:, :, 0], gray)


def test_rgba_composited_over_white(small):
    rgba = np.dstack([small, np.full(small.shape[:2], 255, np.uint8)])
    rgba[:, :10, 3] = 0
    out = load_image(_save(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert np.all(out[:, :10] == 255)
    assert np.array_equal(out[:, 10:], small[:, 10:])


def test_palette_png(small):
    pal = Image.fromarray(small).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    out = load_image(_save(pal, "PNG"))
    assert np.array_equal(out, np.asarray(pal.convert("RGB")))


def test_cmyk_jpeg(small):
    data = _save(Image.fromarray(small).convert("CMYK"), "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    out = load_image(data)
    assert out.shape == small.shape
    assert np.abs(out.astype(int) - small.astype(int)).mean() < 8


def test_exif_orientation_applied():
    img = np.zeros((20, 40, 3), np.uint8)  # 40 wide, 20 high; red left half, blue right half
    img[:, :20] = (255, 0, 0)
    img[:, 20:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    out = load_image(_save(Image.fromarray(img), "JPEG", quality=95, exif=exif.tobytes()))
    assert out.shape == (40, 20, 3)  # portrait after rotation
    expected = np.rot90(img, k=-1)
    assert np.abs(out.astype(int) - expected.astype(int)).mean() < 6
    assert out[5, 10, 0] > 200 and out[35, 10, 2] > 200  # red on top, blue at the bottom


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty file"),
        (b"hello, I am a text file\n" * 5, "not an image"),
    ],
)
def test_unusable_bytes_are_refused(data, message):
    with pytest.raises(ImageError, match=message):
        load_image(data)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_files_are_refused(small, fmt):
    data = _save(Image.fromarray(small), fmt)
    with pytest.raises(ImageError, match="truncated|corrupt"):
        load_image(data[: len(data) // 2])


def test_corrupt_png_is_refused(small):
    data = bytearray(_save(Image.fromarray(small), "PNG"))
    idat = data.index(b"IDAT")
    for i in range(idat + 10, idat + 40):
        data[i] ^= 0xFF
    with pytest.raises(ImageError):
        load_image(bytes(data))


def test_pixel_limit(small):
    data = _save(Image.fromarray(small), "PNG")
    with pytest.raises(ImageError, match="too many pixels: 48x32"):
        load_image(data, max_pixels=1000)
    assert load_image(data, max_pixels=48 * 32).shape == (32, 48, 3)


def test_missing_file_is_an_image_error(tmp_path):
    with pytest.raises(ImageError, match="cannot read"):
        load_image(tmp_path / "nope.png")


@pytest.mark.parametrize("fmt", ["png", "webp"])
def test_lossless_formats_roundtrip_and_are_deterministic(small, fmt):
    data = encode_image(small, fmt)
    assert data == encode_image(small.copy(), fmt)
    assert np.array_equal(decode_rgb(data), small)
    assert np.array_equal(load_image(data), small)


def test_jpg_is_deterministic_and_close(small):
    data = encode_image(small, "jpg")
    assert data == encode_image(small.copy(), "jpg")
    assert np.abs(decode_rgb(data).astype(int) - small.astype(int)).mean() < 4


def test_maps_encoding(small):
    ext, data = encode_map(np.full((32, 48), 7, np.uint8), small.shape)
    assert ext == "png" and np.all(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) == 7)
    trans = np.linspace(0, 1, 32 * 48, dtype=np.float32).reshape(32, 48)
    ext, data = encode_map(trans, small.shape)
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert ext == "png" and decoded.dtype == np.uint16
    assert np.abs(decoded / 65535.0 - trans).max() < 1e-4
    ext, data = encode_map(np.ones((5, 5), np.float32) / 25, small.shape)
    assert ext == "npy" and np.allclose(np.load(io.BytesIO(data)), 1 / 25)


def test_bound_size(astronaut):
    out = bound_size(astronaut[:, :400], max_side=100)
    assert out.shape == (100, 78, 3)
    out = bound_size(astronaut, max_side=100, crop=60)
    assert out.shape == (60, 60, 3)
    assert bound_size(astronaut[:10, :10], max_side=100).shape == (10, 10, 3)  # never upscales


def test_loaded_images_are_writable(tmp_path, astronaut):
    from pipelines.common.images import load_image, save_image

    path = save_image(astronaut[:16, :16], tmp_path / "a.png")
    img = load_image(path)
    assert img.flags.writeable and img.dtype == np.uint8 and img.shape == (16, 16, 3)
