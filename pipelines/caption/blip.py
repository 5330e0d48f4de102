"""The BLIP side of ``make-dataset caption``: load a captioner, read clean images out of shards, caption them.

:class:`Captioner` wraps ``BlipForConditionalGeneration`` and its processor (loaded through
:mod:`pipelines.common.models`: hub id or local folder, short offline error). :class:`ShardImages`
is the DataLoader dataset that reads each ``hq`` member with one seek and preprocesses it in
the workers; :func:`caption_refs` batches it through ``generate`` and returns one captions-store
row per image. torch and transformers are imported only inside functions, so importing this
module (and the ``caption`` command) stays cheap.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..common.devices import resolve_device
from ..common.images import DEFAULT_MAX_PIXELS, check_pixels
from ..common.models import load_or_explain, resolve_source
from ..common.tars import read_member
from .store import clean_caption

__all__ = [
    "DEFAULT_MODEL",
    "DTYPES",
    "Captioner",
    "GenerationSettings",
    "ImageRef",
    "ShardImages",
    "caption_refs",
    "resolve_dtype",
]

DEFAULT_MODEL = "Salesforce/blip-image-captioning-large"
MODEL_WHAT = "the BLIP captioner"
MODEL_EXAMPLE = "/path/to/local/blip"

DTYPES = ("auto", "fp32", "fp16", "bf16")


@dataclass(frozen=True)
class GenerationSettings:
    """What ``generate`` is asked to do; recorded as JSON next to every caption."""

    max_new_tokens: int = 32
    num_beams: int = 1
    prompt: str | None = None  # conditional captioning prefix, e.g. "a photography of"
    min_new_tokens: int | None = None  # benchmarks only: fixes the decoded length

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.num_beams < 1:
            raise ValueError(f"num_beams must be >= 1, got {self.num_beams}")

    def generate_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"max_new_tokens": self.max_new_tokens, "num_beams": self.num_beams}
        if self.min_new_tokens is not None:
            kwargs["min_new_tokens"] = self.min_new_tokens
        return kwargs


@dataclass(frozen=True)
class ImageRef:
    """One unique image to caption: where its member's bytes sit in a shard. ``hq_sha256`` is the
    store key, the image's sha256: the ``hq`` member's, or the ``lq`` member's when ``image`` is
    ``"lq"`` (``caption --on lq``, a row without HQ)."""

    hq_sha256: str
    shard_path: str
    member: str
    offset: int = -1  # byte offset of the member's data in the tar; -1 when not found
    size: int = 0
    image: str = "hq"  # which member is captioned: "hq" or "lq"


# ---------------------------------------------------------------------------------------------
# BLIP
# ---------------------------------------------------------------------------------------------


def resolve_dtype(dtype: str, device: str):
    import torch

    if dtype == "auto":
        dtype = "fp16" if device.startswith("cuda") else "fp32"
    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[dtype]


def _hub_revision(repo_id: str) -> str | None:
    """The cached snapshot's commit for a hub id (offline-safe), if any."""
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(repo_id, "config.json")
    except Exception:  # noqa: BLE001 - the revision is informative only
        return None
    return Path(cached).parent.name if isinstance(cached, str) else None


class Captioner:
    """A loaded BLIP captioner: ``caption(images)`` for a batch of PIL images.

    Construct with :meth:`load` (the ``--model`` path: hub id or local folder) or directly
    from a model and processor (benchmarks with random weights).
    """

    def __init__(
        self,
        model: Any,
        processor: Any,
        device: str = "cpu",
        generation: GenerationSettings | None = None,
        model_id: str = "",
        model_revision: str | None = None,
    ) -> None:
        import torch

        self.model = model.eval()
        self.processor = processor
        self.device = device
        self.dtype = next(model.parameters()).dtype
        self.generation = generation or GenerationSettings()
        self.model_id = model_id
        self.model_revision = model_revision
        self._prompt_ids = None
        if self.generation.prompt:
            encoded = processor.tokenizer(self.generation.prompt, return_tensors="pt")
            self._prompt_ids = encoded["input_ids"].to(device)
            self._prompt_mask = encoded["attention_mask"].to(device)
        self._torch = torch

    @classmethod
    def load(
        cls,
        model: str = DEFAULT_MODEL,
        device: str = "auto",
        dtype: str = "auto",
        generation: GenerationSettings | None = None,
    ) -> Captioner:
        """Load ``BlipProcessor`` + ``BlipForConditionalGeneration`` from a hub id or a local folder.

        Raises :class:`~pipelines.common.models.ModelUnavailableError` (short message, names
        ``--model /path/to/local/blip`` and ``HF_HUB_OFFLINE``) when they cannot be had.
        """
        source = resolve_source(model, what=MODEL_WHAT, example=MODEL_EXAMPLE)
        device = str(resolve_device(device))
        torch_dtype = resolve_dtype(dtype, device)
        from transformers import BlipForConditionalGeneration, BlipProcessor
        from transformers.utils import logging as hf_logging

        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            processor = load_or_explain(
                source, BlipProcessor.from_pretrained, MODEL_WHAT, example=MODEL_EXAMPLE
            )
            net = load_or_explain(
                source,
                lambda ref: BlipForConditionalGeneration.from_pretrained(ref, dtype=torch_dtype),
                MODEL_WHAT,
                example=MODEL_EXAMPLE,
            )
        finally:
            if bars:
                hf_logging.enable_progress_bar()
        revision = source.revision or (None if source.is_local else _hub_revision(source.ref))
        return cls(net.to(device), processor, device, generation, source.ref, revision)

    @property
    def image_processor(self) -> Any:
        return self.processor.image_processor

    def settings_json(self) -> str:
        settings = {k: v for k, v in asdict(self.generation).items() if v is not None}
        settings["dtype"] = str(self.dtype).replace("torch.", "")
        return json.dumps(settings, sort_keys=True)

    def preprocess(self, images: Sequence[Any]):
        """PIL images -> float32 ``pixel_values`` (what the DataLoader workers do per image)."""
        return self.image_processor(images=list(images), return_tensors="pt")["pixel_values"]

    def generate(self, pixel_values) -> list[str]:
        """Captions (cleaned; ``""`` for empty output) for a batch of preprocessed images."""
        torch = self._torch
        pixel_values = pixel_values.to(self.device, dtype=self.dtype, non_blocking=True)
        kwargs = self.generation.generate_kwargs()
        if self._prompt_ids is not None:
            batch = pixel_values.shape[0]
            kwargs["input_ids"] = self._prompt_ids.repeat(batch, 1)
            kwargs["attention_mask"] = self._prompt_mask.repeat(batch, 1)
        with torch.inference_mode():
            tokens = self.model.generate(pixel_values=pixel_values, **kwargs)
        return [clean_caption(t) for t in self.processor.batch_decode(tokens, skip_special_tokens=True)]

    def caption(self, images: Sequence[Any]) -> list[str]:
        return self.generate(self.preprocess(images))


# ---------------------------------------------------------------------------------------------
# Decoding (runs in DataLoader workers)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShardImages:
    """Map-style dataset: item ``i`` is ``(i, pixel_values or None, error or None)``.

    Reads one member's bytes with a single seek (offsets come from :func:`plan_images`), checks
    its pixel count against ``max_pixels`` from the header, decodes with PIL and runs the image processor, so workers do all the CPU work.
    """

    refs: tuple[ImageRef, ...]
    image_processor: Any
    max_pixels: int | None = DEFAULT_MAX_PIXELS

    def __len__(self) -> int:
        return len(self.refs)

    def __getitem__(self, index: int) -> tuple[int, Any, str | None]:
        from PIL import Image

        ref = self.refs[index]
        if ref.offset < 0:
            return index, None, f"hq member not found in {ref.shard_path}"
        try:
            data = read_member(ref.shard_path, ref.offset, ref.size)
            check_pixels(data, self.max_pixels)  # from the header, before anything is decoded
            with Image.open(io.BytesIO(data)) as image:
                rgb = image.convert("RGB")
            pixels = self.image_processor(images=[rgb], return_tensors="pt")["pixel_values"][0]
        except Exception as error:  # noqa: BLE001 - one bad image becomes one error row
            return index, None, f"cannot decode {ref.member}: {error}"
        return index, pixels, None


def _collate(items: list[tuple[int, Any, str | None]]) -> tuple[list[int], list[int], Any, list[str | None]]:
    """``(indices, indices decoded, stacked pixel_values of those or None, error per index)``.

    Stacking happens in the worker, so with ``pin_memory`` the whole batch is pinned."""
    import torch

    good = [(i, pixels) for i, pixels, _ in items if pixels is not None]
    stacked = torch.stack([pixels for _, pixels in good]) if good else None
    return [i for i, _, _ in items], [i for i, _ in good], stacked, [error for _, _, error in items]


def _batches(dataset: ShardImages, batch_size: int, workers: int, pin_memory: bool):
    from torch.utils.data import DataLoader

    loader_kwargs: dict[str, Any] = {"num_workers": workers, "pin_memory": pin_memory}
    if workers > 0:
        loader_kwargs.update(prefetch_factor=4, persistent_workers=False)
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=_collate, **loader_kwargs)


def caption_refs(
    captioner: Captioner,
    refs: Sequence[ImageRef],
    batch_size: int,
    workers: int = 0,
    on_batch: Callable[[list[dict[str, Any]]], None] | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> list[dict[str, Any]]:
    """Caption images read from shards; one store row per image (caption or error), in ``refs`` order."""
    dataset = ShardImages(tuple(refs), captioner.image_processor, max_pixels)
    pin = captioner.device.startswith("cuda")
    settings = captioner.settings_json()
    rows: list[dict[str, Any]] = []
    for indices, decoded, pixels, errors in _batches(dataset, batch_size, workers, pin):
        texts = [clean_caption(t) for t in captioner.generate(pixels)] if decoded else []
        results = {i: (text or None, None if text else "empty caption") for i, text in zip(decoded, texts)}
        out = []
        for i, error in zip(indices, errors):
            caption, error = results.get(i, (None, error))
            out.append(
                {
                    "hq_sha256": refs[i].hq_sha256,
                    "image": refs[i].image,
                    "caption": caption,
                    "error": error,
                    "model": captioner.model_id,
                    "model_revision": captioner.model_revision,
                    "settings": settings,
                }
            )
        rows.extend(out)
        if on_batch is not None:
            on_batch(out)
    return rows
