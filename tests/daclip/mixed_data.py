"""Small shards of mixed-degradation and LQ-only samples for the DA-CLIP tests (and the CPU bench).

Until ``make-dataset synthesize --task hazy+noisy`` exists on this branch, mixtures are made here:
each clean image is degraded by :func:`degradations.compose` (types applied in label order), stored
with the pipelines' own :class:`~pipelines.writers.TarShardWriter` and rows
(:func:`~pipelines.rows.base_row`), one shard per label, and listed in one manifest written by
:func:`~pipelines.manifest.write_manifest`. ``lq_only=True`` makes rows as ``ingest`` does for real
photos: ``origin="ingested"``, no HQ member, ``hq_sha256`` null.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

import degradations
from degradations.labels import split_label
from pipelines.common.images import encode_image
from pipelines.manifest import dumps_json, make_key, sha256_hex, write_manifest
from pipelines.rows import base_row
from pipelines.sources import Source
from pipelines.writers import Sample, TarShardWriter


def crops(photos: dict[str, np.ndarray], size: int = 64, per_photo: int = 2) -> list[np.ndarray]:
    """``per_photo`` evenly spaced ``size`` squares of each photo, after halving it (small, varied)."""
    import cv2

    out = []
    for name in sorted(photos):
        img = photos[name]
        small = cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2), interpolation=cv2.INTER_AREA)
        for k in range(per_photo):
            top = (small.shape[0] - size) * k // max(1, per_photo - 1)
            left = (small.shape[1] - size) * (per_photo - 1 - k) // max(1, per_photo - 1)
            out.append(np.ascontiguousarray(small[top : top + size, left : left + size]))
    return out


def _seed(seed: int, sha: str, variant: int, types: tuple[str, ...]) -> int:
    ids = [degradations.index_of(name) for name in types]
    return int(np.random.SeedSequence([seed, int(sha[:15], 16), variant, *ids]).generate_state(1, np.uint64)[0] >> 1)


def write_labelled_shards(
    images: Sequence[np.ndarray],
    labels: Sequence[str],
    folder: str | os.PathLike,
    manifest: str | os.PathLike,
    *,
    seed: int = 0,
    variants: int = 1,
    split: str = "train",
    lq_only: bool = False,
) -> Path:
    """Degrade every image by every label (``noisy``, ``hazy+noisy``, ``unknown``: kept as is) and
    write one shard per label under ``folder`` plus one manifest; returns the manifest path."""
    folder, manifest = Path(folder), Path(manifest)
    origin = "ingested" if lq_only else "synthesized"
    frames = []
    for label in labels:
        types = split_label(label)
        tag = "-".join(types) if types else "unknown"
        writer = TarShardWriter(folder / tag, f"{tag}-000000")
        for i, img in enumerate(images):
            hq_bytes = encode_image(img)
            hq_sha = sha256_hex(hq_bytes)
            for variant in range(variants):
                sample_seed = _seed(seed, hq_sha, variant, types)
                if types:
                    lq, params = degradations.compose(img, types, seed=sample_seed)
                else:
                    lq, params = img, {}
                lq_bytes = encode_image(lq)
                members = {"lq.png": lq_bytes}
                if not lq_only:
                    members["hq.png"] = hq_bytes
                key = make_key(tag, hq_sha if not lq_only else sha256_hex(lq_bytes), variant)
                meta = {"key": key, "degradation": label, "origin": origin, "params": params, "seed": sample_seed}
                members["json"] = dumps_json(meta).encode("utf-8")
                src = Source(source=f"image_{i:03d}.png", path="", sha256=hq_sha)
                row = base_row(label, origin, src, variant, split, status="ok", error_message=None,
                               hq_sha256=None if lq_only else hq_sha, lq_sha256=sha256_hex(lq_bytes),
                               width=int(img.shape[1]), height=int(img.shape[0]), seed=sample_seed,
                               params=dumps_json(params) if types else None)
                writer.write(Sample(key=key, members=members, row=row))
        writer.close()
        frame = pd.DataFrame(writer.rows)
        frame["shard"] = Path(os.path.relpath(writer.tar_path, manifest.parent)).as_posix()
        frames.append(frame)
    manifest.parent.mkdir(parents=True, exist_ok=True)
    write_manifest(pd.concat(frames, ignore_index=True), manifest)
    return manifest
