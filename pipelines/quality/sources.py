"""The clean images of manifests, each distinct one once, and the worker that scores them.

A clean (HQ) image is identified by ``hq_sha256``: all variants and tasks of one photo share it,
so it is scored once however many rows point to it. It is read from the first row (by key) that
stores it, as the ``KEY.hq.*`` member of that row's shard. Rows without an HQ member (failed
inputs, ingested photos without ground truth) have nothing to score. Work is cut into specs of
at most ``chunk`` images of one shard, numbered in hash order before any work starts, so results
never depend on the worker count.
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from ..common.images import DEFAULT_MAX_PIXELS, ImageError, decode_rgb
from ..common.tars import member_index, read_member
from ..distribute.progress import Progress
from .score import score_image

__all__ = ["CleanImage", "ImageScore", "ScoreSpec", "clean_images", "score_spec", "specs_for"]

CHUNK = 64


@dataclass(frozen=True)
class CleanImage:
    hq_sha256: str
    shard_path: str  # absolute path or URL of the tar
    member: str  # e.g. "noisy_0a1b..._0.hq.png"


@dataclass(frozen=True)
class ScoreSpec:
    """One unit of work: images of one shard (picklable, for pool workers)."""

    shard_path: str
    images: tuple[CleanImage, ...]
    max_pixels: int | None = DEFAULT_MAX_PIXELS


@dataclass(frozen=True)
class ImageScore:
    hq_sha256: str
    scores: dict[str, float | str] | None
    error: str | None = None
    where: str = ""  # "shard.tar:member", for the error line


def _hq_suffix(members: str | None) -> str | None:
    if not isinstance(members, str):
        return None
    return next((m for m in json.loads(members) if m.startswith("hq.")), None)


def clean_images(frames: Sequence[pd.DataFrame]) -> list[CleanImage]:
    """Each distinct ``hq_sha256`` of the frames' ok rows once, from its first row by key, in hash order."""
    rows = pd.concat([f[["key", "hq_sha256", "shard_path", "members", "status"]] for f in frames], ignore_index=True)
    rows = rows[(rows["status"] == "ok") & rows["hq_sha256"].notna() & rows["shard_path"].notna()]
    rows = rows.assign(suffix=rows["members"].map(_hq_suffix)).dropna(subset=["suffix"])
    rows = rows.sort_values(["hq_sha256", "key"], kind="mergesort").drop_duplicates("hq_sha256")
    return [CleanImage(r.hq_sha256, r.shard_path, f"{r.key}.{r.suffix}") for r in rows.itertuples(index=False)]


def specs_for(images: Sequence[CleanImage], chunk: int = CHUNK,
              max_pixels: int | None = DEFAULT_MAX_PIXELS) -> list[ScoreSpec]:
    """Images grouped by shard (shards in path order), at most ``chunk`` per spec."""
    by_shard: dict[str, list[CleanImage]] = {}
    for image in images:
        by_shard.setdefault(image.shard_path, []).append(image)
    return [ScoreSpec(shard, tuple(items[i:i + chunk]), max_pixels)
            for shard, items in sorted(by_shard.items()) for i in range(0, len(items), chunk)]


def _name(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def score_spec(spec: ScoreSpec, progress: Progress) -> list[ImageScore]:
    """Score every image of a spec; a missing shard, member or undecodable image is a result
    with ``error`` set, never an exception."""
    names = {image.member for image in spec.images}
    try:
        index = member_index(spec.shard_path, names)
    except (OSError, EOFError, tarfile.TarError) as exc:
        index, shard_error = {}, f"cannot read the shard ({type(exc).__name__}: {exc})"
    else:
        shard_error = None
    out = []
    for image in spec.images:
        where = f"{_name(spec.shard_path)}:{image.member}"
        try:
            if shard_error:
                raise ImageError(shard_error)
            if image.member not in index:
                raise ImageError("member not in the shard")
            rgb = decode_rgb(read_member(spec.shard_path, *index[image.member]), spec.max_pixels)
            out.append(ImageScore(image.hq_sha256, score_image(rgb), where=where))
        except (ImageError, OSError, EOFError, tarfile.TarError, ValueError) as exc:
            out.append(ImageScore(image.hq_sha256, None, f"{type(exc).__name__}: {exc}", where))
        progress(1)
    return out
