"""The one image loader and encoder of the pipeline.

``load_image`` turns a file (path or bytes) into an HxWx3 uint8 RGB array through PIL: EXIF
orientation is applied, palette / CMYK / 16-bit / grayscale / alpha images are normalised
(``degradations.to_rgb8`` does the last step), and anything that is not a decodable image,
or has more pixels than ``max_pixels``, raises :class:`ImageError` with a clear message.

``encode_image`` writes arrays with fixed settings (OpenCV), so the same array always gives
the same bytes (for the same OpenCV/zlib build): PNG (zlib level 1, RLE strategy, Paeth filter:
about 2x faster than OpenCV's defaults and no larger on photos), lossless WebP, or JPEG at quality
95 with 4:4:4 chroma.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from degradations import to_rgb8

from .files import read_regular

DEFAULT_MAX_PIXELS = 50_000_000  # ~7000x7000; larger inputs are recorded as errors, never decoded
FORMATS = ("png", "webp", "jpg")
LOSSY_FORMATS = frozenset({"jpg"})

# zlib level of PNG members. Measured on a 512x512 photo (astronaut): level 0 (stored) encodes in 5.4 ms to
# 788 kB; level 1 in 12.8 ms to 424 kB; with the RLE strategy levels 2-9 give the same bytes as 1.
DEFAULT_PNG_LEVEL = 1
PNG_LEVELS = range(10)


def _png_flags(level: int) -> list[int]:
    flags = [int(cv2.IMWRITE_PNG_COMPRESSION), level, int(cv2.IMWRITE_PNG_STRATEGY), int(cv2.IMWRITE_PNG_STRATEGY_RLE)]
    if hasattr(cv2, "IMWRITE_PNG_FILTER"):  # OpenCV >= 4.11: one fixed filter instead of trying all five per row
        flags += [int(cv2.IMWRITE_PNG_FILTER), int(cv2.IMWRITE_PNG_FILTER_PAETH)]
    return flags


_ENCODE_FLAGS: dict[str, tuple[str, list[int]]] = {
    "png": (".png", _png_flags(DEFAULT_PNG_LEVEL)),
    "webp": (".webp", [int(cv2.IMWRITE_WEBP_QUALITY), 101]),  # > 100 means lossless
    "jpg": (
        ".jpg",
        [int(cv2.IMWRITE_JPEG_QUALITY), 95, int(cv2.IMWRITE_JPEG_SAMPLING_FACTOR),
         int(cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444)],
    ),
}


class ImageError(ValueError):
    """An input that cannot be used as an image; the message says why (recorded, never fatal)."""


def load_image(source: str | os.PathLike | bytes, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode ``source`` (a path or the file's bytes) into an HxWx3 uint8 RGB array."""
    data = _read(source)
    if len(data) == 0:
        raise ImageError("empty file (0 bytes)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data))
        except UnidentifiedImageError:
            kind = _signature(data)
            if kind:
                raise ImageError(f"truncated or corrupt {kind} file: the header cannot be read") from None
            raise ImageError("not an image: no decoder recognises the file's contents") from None
        except Image.DecompressionBombError as exc:
            raise ImageError(f"too many pixels (decompression bomb): {exc}") from None
        except Exception as exc:
            raise ImageError(f"corrupt image header: {type(exc).__name__}: {exc}") from None
        width, height = img.size
        if max_pixels is not None and width * height > max_pixels:
            raise ImageError(
                f"too many pixels: {width}x{height} = {width * height} > --max-pixels {max_pixels} "
                "(possible decompression bomb)"
            )
        if width == 0 or height == 0:
            raise ImageError(f"image has no pixels ({width}x{height})")
        try:
            img.load()
        except Exception as exc:  # PIL raises OSError/SyntaxError/ValueError for broken streams
            raise ImageError(f"truncated or corrupt image data ({img.format}): {type(exc).__name__}: {exc}") from None
        try:
            img = ImageOps.exif_transpose(img)
        except Exception as exc:
            raise ImageError(f"unreadable EXIF orientation: {type(exc).__name__}: {exc}") from None
        arr = to_rgb8(_to_array(img))
        return arr if arr.flags.writeable else arr.copy()  # PIL views are read-only; callers may write


_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF8", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)


def _signature(data: bytes) -> str | None:
    """The format a file claims by its magic bytes (to tell 'truncated' from 'not an image')."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    return next((name for magic, name in _SIGNATURES if data.startswith(magic)), None)


def _read(source: str | os.PathLike | bytes) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    try:
        return read_regular(source)
    except OSError as exc:
        raise ImageError(f"cannot read file: {exc.strerror or exc}") from None


def _to_array(img: Image.Image) -> np.ndarray:
    """PIL image -> array in a mode ``to_rgb8`` understands (uint8/uint16, 1-4 channels)."""
    mode = img.mode
    if mode in ("RGB", "L", "RGBA", "LA"):
        return np.asarray(img)
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in img.info
        return np.asarray(img.convert("RGBA" if has_alpha else "RGB"))
    if mode.startswith("I;16") or mode == "I":  # 16-bit (or 32-bit int) grayscale
        arr = np.asarray(img).astype(np.int64)
        return np.clip(arr, 0, 65535).astype(np.uint16)
    if mode == "F":  # float grayscale: assume [0, 1] if it fits, else 16-bit range
        arr = np.asarray(img, dtype=np.float32)
        if not np.all(np.isfinite(arr)):
            raise ImageError("float image contains NaN or infinite values")
        top = 1.0 if arr.max(initial=0.0) <= 1.0 else 65535.0
        return np.clip(arr / top, 0.0, 1.0)
    if mode == "1":
        return np.asarray(img.convert("L"))
    if mode == "RGBa":
        return np.asarray(img.convert("RGBA"))
    if mode == "La":
        return np.asarray(img.convert("LA"))
    # CMYK, YCbCr, LAB, HSV, RGBX ...: PIL's converters (CMYK JPEGs are un-inverted on decode)
    return np.asarray(img.convert("RGB"))


def encode_image(arr: np.ndarray, fmt: str = "png", png_level: int = DEFAULT_PNG_LEVEL) -> bytes:
    """Encode an HxWx3 uint8 RGB (or HxW uint8/uint16 gray) array with fixed settings (for PNG:
    zlib level ``png_level``; the same array and level always give the same bytes)."""
    if fmt not in _ENCODE_FLAGS:
        raise ValueError(f"unknown image format {fmt!r}; valid: {', '.join(FORMATS)}")
    if png_level not in PNG_LEVELS:
        raise ValueError(f"png level must be 0-9, got {png_level!r}")
    ext, flags = _ENCODE_FLAGS[fmt]
    if fmt == "png" and png_level != DEFAULT_PNG_LEVEL:
        flags = _png_flags(png_level)
    arr = np.ascontiguousarray(arr)
    if arr.ndim == 3 and arr.shape[2] == 3:
        arr = cv2.cvtColor(arr, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(ext, arr, flags)
    if not ok:
        raise RuntimeError(f"OpenCV failed to encode {fmt}")
    return buf.tobytes()


def save_image(arr: np.ndarray, path: str | os.PathLike) -> Path:
    """Write an RGB image atomically; the format comes from the suffix (.png, .jpg/.jpeg, .webp)."""
    from .files import write_bytes_atomic

    path = Path(path)
    fmt = {".png": "png", ".jpg": "jpg", ".jpeg": "jpg", ".webp": "webp"}.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"cannot write {path.name!r}: use a .png, .jpg or .webp file name")
    return write_bytes_atomic(encode_image(arr, fmt), path)


def image_size(data: bytes) -> tuple[int, int]:
    """``(width, height)`` from the image header alone (PIL reads no pixel data for it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as img:
                return img.size
        except Image.DecompressionBombError as exc:
            raise ImageError(f"too many pixels (decompression bomb): {exc}") from None
        except Exception as exc:  # PIL raises many types for unreadable headers
            raise ImageError(f"cannot decode image: unreadable header ({type(exc).__name__}: {exc})") from None


def check_pixels(data: bytes, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> tuple[int, int]:
    """``(width, height)`` from the header; :class:`ImageError` when over ``max_pixels`` (never decoded)."""
    width, height = image_size(data)
    if max_pixels is not None and width * height > max_pixels:
        raise ImageError(f"too many pixels: {width}x{height} = {width * height} > --max-pixels {max_pixels} "
                         "(possible decompression bomb)")
    return width, height


def decode_rgb(data: bytes, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode bytes written by :func:`encode_image` (fast path, no EXIF handling) to RGB uint8.

    The guarded decoder for shard members: the pixel count is read from the header and checked
    against ``max_pixels`` before anything is decoded."""
    check_pixels(data, max_pixels)
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if arr is None:
        raise ImageError("cannot decode image bytes")
    return cv2.cvtColor(arr, cv2.COLOR_BGR2RGB)


def encode_map(arr: np.ndarray, image_shape: tuple[int, ...], png_level: int = DEFAULT_PNG_LEVEL) -> tuple[str, bytes]:
    """Encode a side map: returns ``(extension, bytes)``.

    Image-sized uint8 maps -> 8-bit PNG; image-sized float maps in [0, 1] (``transmission``) ->
    16-bit PNG (value * 65535); anything else (``kernel``) -> ``.npy``.
    """
    arr = np.asarray(arr)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    image_sized = arr.ndim in (2, 3) and tuple(arr.shape[:2]) == tuple(image_shape[:2])
    if image_sized and arr.dtype == np.uint8 and (arr.ndim == 2 or arr.shape[2] == 3):
        return "png", encode_image(arr, "png", png_level)
    if image_sized and arr.ndim == 2 and np.issubdtype(arr.dtype, np.floating):
        scaled = np.rint(np.clip(arr.astype(np.float64), 0.0, 1.0) * 65535.0).astype(np.uint16)
        return "png", encode_image(scaled, "png", png_level)
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(arr), allow_pickle=False)
    return "npy", buf.getvalue()


def bound_size(arr: np.ndarray, max_side: int | None = None, crop: int | None = None) -> np.ndarray:
    """Downscale so the longest side is at most ``max_side`` (area filter), then centre-crop to
    at most ``crop`` x ``crop``. Deterministic; no randomness."""
    if max_side is not None:
        h, w = arr.shape[:2]
        if max(h, w) > max_side:
            scale = max_side / max(h, w)
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            arr = cv2.resize(arr, size, interpolation=cv2.INTER_AREA)
    if crop is not None:
        h, w = arr.shape[:2]
        ch, cw = min(h, crop), min(w, crop)
        top, left = (h - ch) // 2, (w - cw) // 2
        arr = arr[top : top + ch, left : left + cw]
    return np.ascontiguousarray(arr)
