"""Reader role: list the clean input photos, hash them, drop exact duplicates and number the work.

Ids come before work: the plan (which source goes into which shard, under which shard id) is a
pure function of the inputs' *contents* and the settings, never of listing order, worker count
or finishing order. Unique sources are sorted by their sha256 and cut into groups; group ``i``
becomes shard ``i`` of every task, so each source is decoded once for all tasks and variants.
"""

from __future__ import annotations

import glob
import hashlib
import logging
import os
import posixpath
import stat
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from ..common import remote
from ..common.files import file_sha256, open_input, read_regular

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".ppm", ".pgm", ".pbm",
     ".pnm"}
)
HIDDEN, SYMLINK, SPECIAL, NO_EXTENSION = "hidden", "symlink", "special", "extension"
SKIP_REASONS = {
    HIDDEN: "hidden file(s)/folder(s)",
    SYMLINK: "symlink(s) leaving the input folder (--follow-symlinks follows them)",
    SPECIAL: "special file(s) (FIFO, device, socket or broken link)",
    NO_EXTENSION: "file(s) without an image extension",
}
LIST_EXTENSIONS = frozenset({".txt", ".lst", ".list"})
# colour photographs shipped inside scikit-image (no download needed)
BUNDLED_PHOTOS = (
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "hubble_deep_field.jpg",
    "motorcycle_left.png",
    "motorcycle_right.png",
)
DEFAULT_INPUT_NOTE = "no --input given: using the colour photos bundled with scikit-image ({names})"


@dataclass(frozen=True)
class Source:
    """One input file. ``source`` is the path as the user gave it (recorded in manifests);
    ``path`` is where to read it. ``sha256`` is None when the file could not be read."""

    source: str
    path: str
    sha256: str | None = None
    error: str | None = None


def bundled_photos() -> list[Source]:
    """The scikit-image sample photos that ship with the package."""
    import skimage.data

    folder = Path(skimage.data.__file__).parent
    out = []
    for name in BUNDLED_PHOTOS:
        path = folder / name
        if path.is_file():
            out.append(Source(source=f"skimage:{name}", path=str(path)))
    if not out:
        raise FileNotFoundError(f"no bundled scikit-image photos found in {folder}")
    return out


def list_sources(spec: str | os.PathLike | None, follow_symlinks: bool = False,
                 skipped: Counter | None = None) -> list[Source]:
    """List inputs: a folder (recursive, image extensions; see :func:`walk_images` for what is
    skipped and counted in ``skipped``), a glob, a text file of paths (one per line, relative to
    the list file), a Parquet file with a ``path`` column, or one image file; each of them also
    on object storage (``s3://bucket/prefix/``: see :func:`list_remote_sources`).
    ``None`` gives the bundled scikit-image photos."""
    if spec is None:
        sources = bundled_photos()
        log.info(DEFAULT_INPUT_NOTE.format(names=", ".join(s.source for s in sources)))
        return sources
    text = str(spec)
    if remote.is_url(text):
        return list_remote_sources(text, Counter() if skipped is None else skipped)
    path = Path(text)
    if path.is_dir():
        return _list_folder(path, text, follow_symlinks, Counter() if skipped is None else skipped)
    if any(ch in text for ch in "*?[") and not path.exists():
        matches = sorted(p for p in glob.glob(text, recursive=True) if os.path.isfile(p))
        if not matches:
            raise FileNotFoundError(f"--input glob matched no files: {text}")
        return [Source(source=m, path=m) for m in matches]
    if not path.exists():
        raise FileNotFoundError(f"--input not found: {text}")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return _list_parquet(path)
    if suffix in LIST_EXTENSIONS:
        return _list_text(path)
    return [Source(source=text, path=text)]


def list_remote_sources(url: str, skipped: Counter) -> list[Source]:
    """``--input`` on object storage: a prefix (listed recursively, the rules of :func:`walk_images`:
    image extensions only, hidden names skipped), a glob, a list file or Parquet of paths (relative
    entries are relative to the list's folder on the store), or one object."""
    if any(ch in url for ch in "*?[") and not remote.exists(url):
        matches = remote.glob(url)
        if not matches:
            raise FileNotFoundError(f"--input glob matched no objects: {url}")
        return [Source(source=m, path=m) for m in matches]
    if remote.is_folder(url):
        out = [Source(source=posixpath.join(url, rel), path=full)
               for rel, full in remote_images(url, skipped).items()]
        if skipped[NO_EXTENSION]:
            log.info("skipped %d object(s) without an image extension under %s", skipped[NO_EXTENSION], url)
        if not out:
            raise FileNotFoundError(f"no image objects under --input {url}")
        return out
    if not remote.exists(url):
        raise FileNotFoundError(f"--input not found: {url}")
    suffix = posixpath.splitext(url)[1].lower()
    if suffix == ".parquet":
        return _list_parquet(url)
    if suffix in LIST_EXTENSIONS:
        return _list_text(url)
    return [Source(source=url, path=url)]


def remote_images(url: str, skipped: Counter | None = None) -> dict[str, str]:
    """``{path relative to url: object url}`` of the image objects under the prefix ``url``, sorted;
    hidden names (any part starting with a dot) and names without an image extension are skipped
    and counted in ``skipped`` (an object store has no symlinks or special files)."""
    skipped = Counter() if skipped is None else skipped
    out = {}
    for rel, full in remote.find_files(url):
        if any(part.startswith(".") for part in rel.split("/")):
            skipped[HIDDEN] += 1
        elif posixpath.splitext(rel)[1].lower() not in IMAGE_EXTENSIONS:
            skipped[NO_EXTENSION] += 1
        else:
            out[rel] = full
    return out


def image_files(folder: str | os.PathLike, boundary: str | os.PathLike | None = None, follow_symlinks: bool = False,
                skipped: Counter | None = None) -> dict[str, Path | str]:
    """Relative posix path -> file (a Path) or object (a URL) of the images under a local folder
    (:func:`walk_images`) or a prefix on object storage (:func:`remote_images`)."""
    if remote.is_url(folder):
        return dict(remote_images(str(folder), skipped))
    return {Path(rel).as_posix(): Path(full)
            for rel, full in walk_images(folder, boundary, follow_symlinks=follow_symlinks, skipped=skipped)}


def is_folder(path: str | os.PathLike) -> bool:
    """A local folder, or a prefix holding objects."""
    return remote.is_folder(str(path)) if remote.is_url(path) else Path(path).is_dir()


def subfolders(path: str | os.PathLike) -> list[str]:
    """Sorted names of the visible (no leading dot) folders directly in a local folder or under a prefix."""
    names = remote.subfolders(str(path)) if remote.is_url(path) else [p.name for p in Path(path).iterdir()
                                                                       if p.is_dir()]
    return sorted(n for n in names if not n.startswith("."))


def _list_folder(folder: Path, given: str, follow_symlinks: bool, skipped: Counter) -> list[Source]:
    out = [Source(source=os.path.join(given, rel), path=full)
           for rel, full in walk_images(folder, follow_symlinks=follow_symlinks, skipped=skipped)]
    if skipped[NO_EXTENSION]:
        log.info("skipped %d file(s) without an image extension under %s", skipped[NO_EXTENSION], given)
    if not out:
        raise FileNotFoundError(f"no image files under --input folder {given}")
    return out


def _inside(path: str, boundary: str) -> bool:
    return path == boundary or path.startswith(boundary.rstrip(os.sep) + os.sep)


def walk_images(folder: str | os.PathLike, boundary: str | os.PathLike | None = None, follow_symlinks: bool = False,
                skipped: Counter | None = None) -> Iterator[tuple[str, str]]:
    """``(path relative to folder, path)`` of the image files under ``folder``, in sorted order.

    Only regular files are listed (FIFOs, devices and sockets are skipped without being opened);
    hidden files and folders are skipped; symlinks that resolve outside ``boundary`` (default:
    ``folder``) are skipped unless ``follow_symlinks``, which also walks symlinked folders (each
    real folder once). What is skipped is counted in ``skipped`` under :data:`SKIP_REASONS`.
    """
    skipped = Counter() if skipped is None else skipped
    limit = os.path.realpath(boundary if boundary is not None else folder)
    seen: set[str] = set()
    for root, dirs, files in os.walk(folder, followlinks=follow_symlinks):
        real_root = os.path.realpath(root)
        if real_root in seen:
            dirs[:] = []
            continue
        seen.add(real_root)
        skipped[HIDDEN] += sum(1 for name in dirs + files if name.startswith("."))
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        if not follow_symlinks:
            skipped[SYMLINK] += sum(1 for d in dirs if os.path.islink(os.path.join(root, d))
                                    and not _inside(os.path.realpath(os.path.join(root, d)), limit))
        for name in sorted(files):
            if name.startswith("."):
                continue
            full = os.path.join(root, name)
            if Path(name).suffix.lower() not in IMAGE_EXTENSIONS:
                skipped[NO_EXTENSION] += 1
                continue
            real = os.path.realpath(full) if os.path.islink(full) else os.path.join(real_root, name)
            if not follow_symlinks and not _inside(real, limit):
                skipped[SYMLINK] += 1
                continue
            try:
                regular = stat.S_ISREG(os.stat(full).st_mode)
            except OSError:
                regular = False
            if not regular:
                skipped[SPECIAL] += 1
                continue
            yield os.path.relpath(full, folder), full


def skipped_note(skipped: Counter, where: str) -> str | None:
    """One summary line for what :func:`walk_images` skipped (hidden files included), or None."""
    parts = [f"{skipped[reason]} {text}" for reason, text in SKIP_REASONS.items() if skipped[reason]]
    return f"skipped under {where}: " + ", ".join(parts) if parts else None


def _resolve(entry: str, listing: Path | str) -> str:
    """A list entry as a path to read: a URL or an absolute path as it is, else relative to the
    folder of the list file (a local folder, or a prefix when the list is on object storage)."""
    if remote.is_url(entry):
        return entry
    if remote.is_url(listing):
        if entry.startswith("/"):
            raise ValueError(f"{listing}: entry {entry!r} is a local absolute path in a list on object storage")
        return remote.join(posixpath.dirname(str(listing)), entry)
    return entry if os.path.isabs(entry) else str(Path(listing).parent / entry)


def _list_text(path: Path | str) -> list[Source]:
    out = []
    for line in read_regular(path).decode("utf-8").splitlines():
        entry = line.strip()
        if entry and not entry.startswith("#"):
            out.append(Source(source=entry, path=_resolve(entry, path)))
    if not out:
        raise ValueError(f"--input list file has no paths: {path}")
    return out


def _list_parquet(path: Path | str) -> list[Source]:
    with open_input(path) as handle:
        table = pq.read_table(handle)
    if "path" not in table.column_names:
        raise ValueError(f"--input Parquet needs a 'path' column; {path} has {table.column_names}")
    entries = [str(p) for p in table.column("path").to_pylist() if p]
    if not entries:
        raise ValueError(f"--input Parquet has no paths: {path}")
    return [Source(source=e, path=_resolve(e, path)) for e in entries]


def hash_source(src: Source) -> Source:
    """Fill in ``sha256``; an unreadable file keeps ``sha256=None`` and an ``error`` message."""
    try:
        return Source(src.source, src.path, sha256=file_sha256(src.path))
    except OSError as exc:
        return Source(src.source, src.path, sha256=None, error=f"cannot read file: {exc.strerror or exc}")


def hash_sources(
    sources: Iterable[Source], on_progress: Callable[[int], None] | None = None
) -> list[Source]:
    out = []
    for src in sources:
        out.append(hash_source(src))
        if on_progress:
            on_progress(1)
    return out


def source_id(src: Source) -> str:
    """Content id used for ordering and keys: the sha256, or (unreadable files) a hash of the
    path prefixed so it never equals a content hash of real bytes by accident."""
    if src.sha256 is not None:
        return src.sha256
    return hashlib.sha256(b"unreadable:" + src.source.encode("utf-8")).hexdigest()
