"""``make-dataset caption --distributor ray``: BLIP in the distributor's actor pool
(:data:`pipelines.distribute.registry.ACTOR_POOLS`), each actor loading it once.

The images to do (already deduplicated by ``plan_images``) are cut into chunks of whole batches,
so every image meets the same batch as in a local run; the chunks go to the actors as each one
becomes free, and every finished chunk's rows come back to the driver, which commits them
(checkpoint, store, join) exactly as the local path does, so resume and ``--part`` are
unchanged. Actors ask for ``gpus_per_actor`` GPUs (default: 1 when the cluster has GPUs, else 0)
and are restarted, their chunk retried, when their process dies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from ..distribute.actors import PoolOptions
from ..distribute.registry import get_actor_pool
from .blip import Captioner, GenerationSettings, ImageRef, caption_refs
from .config import CaptionConfig, CaptionRuntime

BATCHES_PER_CHUNK = 4


class CaptionActor:
    """One loaded BLIP; ``caption(refs)`` returns the store rows of ``refs``."""

    def __init__(self, model: str, device: str, dtype: str, generation: GenerationSettings, batch_size: int,
                 workers: int, max_pixels: int | None):
        self.captioner = Captioner.load(model, device, dtype, generation)
        self.batch_size, self.workers, self.max_pixels = batch_size, workers, max_pixels

    def caption(self, refs: Sequence[ImageRef]) -> list[dict[str, Any]]:
        return caption_refs(self.captioner, refs, self.batch_size, self.workers, None, self.max_pixels)

    def process(self, chunk: Sequence[ImageRef]) -> list[dict[str, Any]]:
        return self.caption(chunk)


def caption_refs_pooled(config: CaptionConfig, runtime: CaptionRuntime, refs: Sequence[ImageRef],
                        on_batch: Callable[[list[dict[str, Any]]], None]) -> None:
    """Caption ``refs`` with the ``--distributor``'s actor pool; ``on_batch(rows)`` per chunk."""
    step = runtime.batch_size * BATCHES_PER_CHUNK
    chunks = [tuple(refs[i : i + step]) for i in range(0, len(refs), step)]
    make_worker = partial(CaptionActor, config.model, runtime.device, runtime.dtype, config.generation,
                          runtime.batch_size, runtime.workers, config.max_pixels)
    options = PoolOptions(address=runtime.ray_address, actors=runtime.actors, gpus_per_actor=runtime.gpus_per_actor)
    for rows in get_actor_pool(runtime.distributor)(make_worker, chunks, options):
        on_batch(rows)
