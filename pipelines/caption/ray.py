"""``make-dataset caption --distributor ray``: BLIP in a pool of Ray actors, each loading it once.

The images to do (already deduplicated by ``plan_images``) are cut into chunks of whole batches,
so every image meets the same batch as in a local run; the chunks go to the actors as each one
becomes free, and every finished chunk's rows come back to the driver, which commits them
(checkpoint, store, join) exactly as the local path does, so resume and ``--part`` are
unchanged. Actors ask for ``gpus_per_actor`` GPUs (default: 1 when the cluster has GPUs, else 0)
and are restarted, their chunk retried, when their process dies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..distribute.ray import ray_session
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


def caption_refs_ray(config: CaptionConfig, runtime: CaptionRuntime, refs: Sequence[ImageRef],
                     on_batch: Callable[[list[dict[str, Any]]], None]) -> None:
    """Caption ``refs`` on the cluster; ``on_batch(rows)`` per chunk."""
    step = runtime.batch_size * BATCHES_PER_CHUNK
    chunks = [tuple(refs[i : i + step]) for i in range(0, len(refs), step)]
    if not chunks:
        return
    with ray_session(runtime.ray_address, max(1, runtime.actors or 1)) as ray:
        from ray.util import ActorPool

        resources = ray.cluster_resources()
        gpus = runtime.gpus_per_actor
        if gpus is None:
            gpus = 1 if resources.get("GPU", 0) >= 1 else 0
        if runtime.actors:
            count = runtime.actors
        elif gpus:
            count = int(resources.get("GPU", 0) // gpus)
        else:
            count = int(resources.get("CPU", 1))
        count = max(1, min(count, len(chunks)))
        actor = ray.remote(num_cpus=1, num_gpus=gpus, max_restarts=2, max_task_retries=2)(CaptionActor)
        args = (config.model, runtime.device, runtime.dtype, config.generation, runtime.batch_size, runtime.workers,
                config.max_pixels)
        pool = ActorPool([actor.remote(*args) for _ in range(count)])
        for rows in pool.map_unordered(lambda a, chunk: a.caption.remote(chunk), chunks):
            on_batch(rows)
