"""``make-dataset caption``: BLIP captions for the clean images behind every manifest.

DA-CLIP captions the *clean* image and pairs the caption with each degraded copy. Here each
unique clean image (by ``hq_sha256``) is captioned once, in batches, from the shards' ``hq``
members; results go to ``manifests/captions.parquet`` and are joined into the ``caption``
column of every manifest. The flow is a visible list of steps:

1. :func:`plan_images`: unique clean images of the manifests, with their tar member offsets;
2. :func:`load_captions`: captions already made (a rerun only does what is missing);
3. :class:`Captioner`: batched ``generate`` with BLIP (torch/transformers imported lazily);
4. :func:`write_captions`: the store, written atomically (also every ``flush_seconds``);
5. :func:`join_captions`: fill each manifest's ``caption`` column, written atomically.

``--part i/N`` runs write ``captions.part-i-of-N.parquet`` and leave the manifests alone; a
run without ``--part`` folds the part files into ``captions.parquet`` and joins.
"""

from __future__ import annotations

import io
import json
import logging
import os
import tarfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import click
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .manifest import HQ, read_manifest, write_parquet_atomic
from .models import ModelUnavailableError, load_or_explain, resolve_source

__all__ = [
    "CAPTIONS_FILE",
    "CAPTIONS_SCHEMA",
    "DEFAULT_MODEL",
    "CaptionConfig",
    "CaptionReport",
    "Captioner",
    "GenerationSettings",
    "ImageRef",
    "Plan",
    "caption_manifests",
    "clean_caption",
    "command",
    "import_captions",
    "join_captions",
    "list_manifests",
    "load_captions",
    "plan_images",
]

log = logging.getLogger(__name__)

DEFAULT_MODEL = "Salesforce/blip-image-captioning-large"
CAPTIONS_FILE = "captions.parquet"
PART_PREFIX = "captions.part-"
MODEL_WHAT = "the BLIP captioner"
MODEL_EXAMPLE = "/path/to/local/blip"

CAPTIONS_SCHEMA = pa.schema(
    [
        ("hq_sha256", pa.string()),
        ("caption", pa.string()),  # cleaned; null when captioning failed
        ("error", pa.string()),  # why there is no caption (decode failure, empty output)
        ("model", pa.string()),  # hub id or local path, or "captions-file:<name>" when imported
        ("model_revision", pa.string()),  # hub commit when known
        ("settings", pa.string()),  # JSON: generation settings and dtype
    ]
)
STORE_COLUMNS = tuple(CAPTIONS_SCHEMA.names)

DTYPES = ("auto", "fp32", "fp16", "bf16")


# ---------------------------------------------------------------------------------------------
# Configuration and results
# ---------------------------------------------------------------------------------------------


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
class CaptionConfig:
    """Everything ``caption_manifests`` needs, built once at the CLI edge."""

    model: str = DEFAULT_MODEL
    batch_size: int = 16
    device: str = "auto"  # auto | cpu | cuda (or cuda:N)
    dtype: str = "auto"  # auto (fp16 on CUDA, fp32 on CPU) | fp32 | fp16 | bf16
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    workers: int = 2  # DataLoader processes decoding and preprocessing images
    part: tuple[int, int] = (0, 1)  # (i, N): only hashes whose first 15 hex digits % N == i
    overwrite: bool = False  # re-caption images that already have a caption
    flush_seconds: float = 60.0  # checkpoint the store this often

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {self.dtype!r}")
        index, count = self.part
        if count < 1 or not 0 <= index < count:
            raise ValueError(f"part must be i/N with 0 <= i < N, got {index}/{count}")

    @property
    def partitioned(self) -> bool:
        return self.part[1] > 1


@dataclass(frozen=True)
class ImageRef:
    """One unique clean image: where its ``hq`` member's bytes sit in a shard."""

    hq_sha256: str
    shard_path: str
    member: str
    offset: int = -1  # byte offset of the member's data in the tar; -1 when not found
    size: int = 0


@dataclass(frozen=True)
class CaptionReport:
    manifests: int  # manifests read
    rows: int  # ok rows in them
    unique_images: int  # distinct hq_sha256 (in this part)
    already_captioned: int  # skipped because a caption exists
    captioned: int  # new captions made (or imported)
    errors: int  # images that got no caption this run
    unmatched: int  # --captions-file rows that matched no image
    rows_with_caption: int  # ok manifest rows with a caption after the join
    manifests_updated: int
    seconds: float
    store: str  # path of the captions file written


# ---------------------------------------------------------------------------------------------
# Planning: which images, and where their bytes are
# ---------------------------------------------------------------------------------------------


def list_manifests(manifests_dir: str | os.PathLike) -> list[Path]:
    """Every manifest in the folder except the captions store (and its part files)."""
    folder = Path(manifests_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"manifest folder not found: {folder}")
    return sorted(
        p
        for p in folder.glob("*.parquet")
        if not p.name.startswith(".") and p.name != CAPTIONS_FILE and not p.name.startswith(PART_PREFIX)
    )


def _hq_member(key: str, members: Any) -> str | None:
    try:
        suffixes = json.loads(members) if isinstance(members, str) else list(members or [])
    except (TypeError, ValueError):
        suffixes = []
    for suffix in suffixes:
        if isinstance(suffix, str) and suffix.startswith(f"{HQ}."):
            return f"{key}.{suffix}"
    return None


def _in_part(hq_sha256: str, part: tuple[int, int]) -> bool:
    index, count = part
    return count == 1 or int(hq_sha256[:15], 16) % count == index


def member_offsets(shard_path: str, wanted: Iterable[str]) -> dict[str, tuple[int, int]]:
    """Byte offset and size of the data of the wanted members of an uncompressed tar.

    Reads tar headers only (the data is skipped), so workers can later read each image with
    one seek instead of re-scanning the tar.
    """
    wanted = set(wanted)
    found: dict[str, tuple[int, int]] = {}
    with tarfile.open(shard_path, "r:") as tar:
        for info in tar:
            if info.isfile() and info.name in wanted:
                found[info.name] = (info.offset_data, info.size)
    return found


@dataclass(frozen=True)
class Plan:
    refs: tuple[ImageRef, ...]  # the images to caption, in shard order
    unique_images: int  # distinct clean images of the manifests (in this part), skipped ones included
    rows: int  # ok rows of the manifests


def plan_images(manifests: Sequence[Path], part: tuple[int, int] = (0, 1), skip: Iterable[str] = ()) -> Plan:
    """Unique clean images (by ``hq_sha256``) of the manifests' ok rows, less the ``skip`` hashes.

    When several rows share a clean image, the first by (shard, key) is read. Only the shards
    holding images to caption have their headers read. Images come back ordered by shard and
    offset, so shards are read front to back.
    """
    frames = [
        read_manifest(path, status="ok")[["key", "hq_sha256", "shard_path", "members"]] for path in manifests
    ]
    if not frames:
        return Plan((), 0, 0)
    rows = pd.concat(frames, ignore_index=True)
    total_rows = len(rows)
    rows = rows[rows["hq_sha256"].notna() & rows["shard_path"].notna()]
    rows = rows[[_in_part(h, part) for h in rows["hq_sha256"]]]
    rows = rows.sort_values(["hq_sha256", "shard_path", "key"], kind="mergesort")
    rows = rows.drop_duplicates("hq_sha256", keep="first")
    unique = len(rows)
    rows = rows[~rows["hq_sha256"].isin(set(skip))]

    refs: list[ImageRef] = []
    for shard_path, group in rows.groupby("shard_path", sort=True):
        names = {h: _hq_member(k, m) for h, k, m in zip(group["hq_sha256"], group["key"], group["members"])}
        offsets = (
            member_offsets(shard_path, (n for n in names.values() if n)) if Path(shard_path).exists() else {}
        )
        for hq_sha256, name in names.items():
            offset, size = offsets.get(name, (-1, 0)) if name else (-1, 0)
            refs.append(ImageRef(hq_sha256, shard_path, name or "", offset, size))
    refs.sort(key=lambda r: (r.shard_path, r.offset, r.hq_sha256))
    return Plan(tuple(refs), unique, total_rows)


# ---------------------------------------------------------------------------------------------
# The captions store
# ---------------------------------------------------------------------------------------------


def _empty_store() -> pd.DataFrame:
    return CAPTIONS_SCHEMA.empty_table().to_pandas()


def _read_store(path: Path) -> pd.DataFrame:
    frame = pq.read_table(path).to_pandas()
    for name in STORE_COLUMNS:
        if name not in frame.columns:
            frame[name] = None
    return frame[list(STORE_COLUMNS)]


def part_files(manifests_dir: Path) -> list[Path]:
    return sorted(p for p in manifests_dir.glob(f"{PART_PREFIX}*.parquet") if not p.name.startswith("."))


def part_path(manifests_dir: Path, part: tuple[int, int]) -> Path:
    index, count = part
    return manifests_dir / f"{PART_PREFIX}{index:05d}-of-{count:05d}.parquet"


def load_captions(manifests_dir: str | os.PathLike) -> pd.DataFrame:
    """The store plus any part files (later files win), one row per ``hq_sha256``."""
    folder = Path(manifests_dir)
    paths = [folder / CAPTIONS_FILE] if (folder / CAPTIONS_FILE).exists() else []
    paths += part_files(folder)
    if not paths:
        return _empty_store()
    frame = pd.concat([_read_store(p) for p in paths], ignore_index=True)
    return _dedupe(frame)


def _dedupe(frame: pd.DataFrame) -> pd.DataFrame:
    """Keep the last row per image, but never let a later error hide an earlier caption."""
    frame = frame.assign(_ok=frame["caption"].notna())
    frame = frame.reset_index(drop=True).reset_index(names="_order")
    frame = frame.sort_values(["hq_sha256", "_ok", "_order"], kind="mergesort")
    frame = frame.drop_duplicates("hq_sha256", keep="last")
    return (
        frame.drop(columns=["_ok", "_order"])
        .sort_values("hq_sha256", kind="mergesort")
        .reset_index(drop=True)
    )


def write_captions(frame: pd.DataFrame, path: Path) -> Path:
    """Write a captions store atomically, sorted by ``hq_sha256`` (same content, same bytes)."""
    frame = frame[list(STORE_COLUMNS)].sort_values("hq_sha256", kind="mergesort").reset_index(drop=True)
    table = pa.Table.from_pandas(frame, schema=CAPTIONS_SCHEMA, preserve_index=False)
    return write_parquet_atomic(table, path)


def _merge_rows(store: pd.DataFrame, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """New rows win over stored ones, except that a new error never hides a stored caption."""
    if not rows:
        return store
    return _dedupe(pd.concat([store, pd.DataFrame(rows, columns=list(STORE_COLUMNS))], ignore_index=True))


def clean_caption(text: str | None) -> str:
    """Collapse whitespace (newlines, tabs, runs of spaces); tabs would also break DA-CLIP's TSV."""
    return " ".join(str(text or "").split())


# ---------------------------------------------------------------------------------------------
# BLIP
# ---------------------------------------------------------------------------------------------


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelUnavailableError("--device cuda was asked for but torch sees no CUDA device")
    return device


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

        Raises :class:`~pipelines.models.ModelUnavailableError` (short message, names
        ``--model /path/to/local/blip`` and ``HF_HUB_OFFLINE``) when they cannot be had.
        """
        source = resolve_source(model, what=MODEL_WHAT, example=MODEL_EXAMPLE)
        device = resolve_device(device)
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

    Reads one member's bytes with a single seek (offsets come from :func:`plan_images`),
    decodes with PIL and runs the image processor, so workers do all the CPU work.
    """

    refs: tuple[ImageRef, ...]
    image_processor: Any

    def __len__(self) -> int:
        return len(self.refs)

    def __getitem__(self, index: int) -> tuple[int, Any, str | None]:
        from PIL import Image

        ref = self.refs[index]
        if ref.offset < 0:
            return index, None, f"hq member not found in {ref.shard_path}"
        try:
            with open(ref.shard_path, "rb") as handle:
                handle.seek(ref.offset)
                data = handle.read(ref.size)
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
) -> list[dict[str, Any]]:
    """Caption images read from shards; one store row per image (caption or error), in ``refs`` order."""
    dataset = ShardImages(tuple(refs), captioner.image_processor)
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


# ---------------------------------------------------------------------------------------------
# Join and import
# ---------------------------------------------------------------------------------------------


def join_captions(manifests: Sequence[Path], captions: dict[str, str]) -> tuple[int, int]:
    """Fill each manifest's ``caption`` column from ``captions`` (by ``hq_sha256``).

    Rows whose image has no caption keep what they had. Row order, columns and schema are
    kept; a manifest is rewritten (atomically) only when a value changes. Returns
    ``(manifests_updated, ok_rows_with_caption)``.
    """
    updated = with_caption = 0
    for path in manifests:
        table = pq.read_table(path)
        frame = table.select(
            [c for c in ("hq_sha256", "caption", "status") if c in table.column_names]
        ).to_pandas()
        if "caption" not in frame.columns:
            frame["caption"] = None
        new = [
            captions.get(h, old) if isinstance(h, str) else old
            for h, old in zip(frame["hq_sha256"], frame["caption"])
        ]
        new = [v if isinstance(v, str) else None for v in new]
        old = [v if isinstance(v, str) else None for v in frame["caption"]]
        with_caption += sum(1 for v, s in zip(new, frame["status"]) if v is not None and s == "ok")
        if new == old:
            continue
        index = table.schema.get_field_index("caption")
        if index < 0:  # a manifest from before captions existed: add the column
            table = table.append_column(pa.field("caption", pa.string()), pa.array(new, type=pa.string()))
        else:
            column = pa.array(new, type=table.schema.field(index).type)
            table = table.set_column(index, table.schema.field(index), column)
        write_parquet_atomic(table, path)
        updated += 1
    return updated, with_caption


KEY_COLUMNS = ("hq_sha256", "source", "filepath", "path", "file", "image")


def read_captions_file(path: str | os.PathLike) -> pd.DataFrame:
    """A user's captions: CSV/TSV (tab when the header has one) or Parquet; needs ``caption`` and a key."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"captions file not found: {path}")
    if path.suffix.lower() == ".parquet":
        frame = pq.read_table(path).to_pandas()
    else:
        with open(path, encoding="utf-8") as handle:
            header = handle.readline()
        sep = "\t" if "\t" in header else ","
        frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    if "caption" not in frame.columns:
        raise ValueError(f"{path}: needs a 'caption' column (has {list(frame.columns)})")
    keys = [c for c in KEY_COLUMNS if c in frame.columns]
    if not keys:
        raise ValueError(f"{path}: needs one of the columns {list(KEY_COLUMNS)} to match images")
    return frame


def _norm_path(value: str) -> str:
    return os.path.normpath(os.path.abspath(os.path.expanduser(value)))


def import_captions(
    captions_file: str | os.PathLike, manifests: Sequence[Path]
) -> tuple[list[dict[str, Any]], int, int]:
    """Match a user's captions to clean images, by ``hq_sha256`` or by source path.

    Returns ``(store rows, unmatched rows, empty captions)``; the first match per image wins.
    """
    frame = read_captions_file(captions_file)
    by_source: dict[str, str] = {}
    known: set[str] = set()
    for path in manifests:
        rows = read_manifest(path, status="ok")
        for source, hq in zip(rows["source"], rows["hq_sha256"]):
            if not isinstance(hq, str):
                continue
            known.add(hq)
            if isinstance(source, str) and source:
                by_source.setdefault(source, hq)
                by_source.setdefault(_norm_path(source), hq)
    keys = [c for c in KEY_COLUMNS if c in frame.columns]
    name = Path(captions_file).name
    settings = json.dumps({"imported_from": str(captions_file)}, sort_keys=True)
    out: dict[str, dict[str, Any]] = {}
    unmatched = empty = 0
    for record in frame.to_dict("records"):
        hq = None
        for column in keys:
            value = record.get(column)
            if not isinstance(value, str) or not value:
                continue
            value = value.strip()
            if column == "hq_sha256":
                hq = value.lower() if value.lower() in known else None
            else:
                hq = by_source.get(value) or by_source.get(_norm_path(value))
            if hq:
                break
        if hq is None:
            unmatched += 1
            continue
        text = clean_caption(record.get("caption"))
        if not text:
            empty += 1
            continue
        out.setdefault(
            hq,
            {
                "hq_sha256": hq,
                "caption": text,
                "error": None,
                "model": f"captions-file:{name}",
                "model_revision": None,
                "settings": settings,
            },
        )
    return list(out.values()), unmatched, empty


# ---------------------------------------------------------------------------------------------
# The whole command as one function
# ---------------------------------------------------------------------------------------------


def caption_manifests(
    manifests_dir: str | os.PathLike = "manifests",
    config: CaptionConfig | None = None,
    manifests: Sequence[str | os.PathLike] | None = None,
    captions_file: str | os.PathLike | None = None,
    captioner: Captioner | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> CaptionReport:
    """Caption every unique clean image of the manifests once and join captions into them.

    ``manifests`` defaults to every manifest in ``manifests_dir`` (the captions store lives
    there too). ``captions_file`` imports captions instead of running BLIP. ``captioner``
    lets callers pass an already loaded model. ``progress(n, total)`` is called after each
    batch with the images just done and the number to do.
    """
    config = config or CaptionConfig()
    if captions_file is not None and config.partitioned:
        raise ValueError("--captions-file imports everything at once; drop --part")
    start = time.perf_counter()
    folder = Path(manifests_dir)
    paths = [Path(p) for p in manifests] if manifests else list_manifests(folder)
    if not paths:
        raise FileNotFoundError(f"no manifests in {folder}")
    store = load_captions(folder)
    target = part_path(folder, config.part) if config.partitioned else folder / CAPTIONS_FILE

    have = () if config.overwrite else set(store.loc[store["caption"].notna(), "hq_sha256"])
    plan = plan_images(paths, config.part, skip=have)
    todo = plan.refs
    already = plan.unique_images - len(todo)
    captioned = errors = unmatched = 0
    new_rows: list[dict[str, Any]] = []

    if captions_file is not None:
        imported, unmatched, empty = import_captions(captions_file, paths)
        wanted = {r.hq_sha256 for r in todo}
        imported = [row for row in imported if row["hq_sha256"] in wanted]
        new_rows.extend(imported)
        captioned, errors = len(imported), empty
        if unmatched or empty:
            log.warning(
                "%s: %d rows matched no image, %d had an empty caption", captions_file, unmatched, empty
            )
    elif todo:
        captioner = captioner or Captioner.load(config.model, config.device, config.dtype, config.generation)
        new_rows = _caption_missing(captioner, todo, config, _own_rows(store, target), target, progress)
        captioned = sum(1 for r in new_rows if r["caption"] is not None)
        errors = len(new_rows) - captioned

    merged = _merge_rows(store, new_rows)
    if config.partitioned:
        updated = with_caption = 0
        log.info(
            "part %d/%d done; run without --part to merge the parts and fill the manifests", *config.part
        )
    else:
        if new_rows or part_files(folder) or not (folder / CAPTIONS_FILE).exists():
            write_captions(merged, target)
            for stale in part_files(folder):  # folded into captions.parquet above
                stale.unlink()
        ok = merged[merged["caption"].notna()]
        updated, with_caption = join_captions(paths, dict(zip(ok["hq_sha256"], ok["caption"])))
    return CaptionReport(
        manifests=len(paths),
        rows=plan.rows,
        unique_images=plan.unique_images,
        already_captioned=already,
        captioned=captioned,
        errors=errors,
        unmatched=unmatched,
        rows_with_caption=with_caption,
        manifests_updated=updated,
        seconds=time.perf_counter() - start,
        store=str(target),
    )


def _own_rows(store: pd.DataFrame, target: Path) -> pd.DataFrame:
    """What the target file keeps besides this run's rows: everything for the main store,
    only its own earlier rows for a part file."""
    if target.name == CAPTIONS_FILE:
        return store
    return _read_store(target) if target.exists() else _empty_store()


def _caption_missing(
    captioner: Captioner,
    todo: Sequence[ImageRef],
    config: CaptionConfig,
    keep: pd.DataFrame,
    target: Path,
    progress: Callable[[int, int], None] | None,
) -> list[dict[str, Any]]:
    """Run BLIP over ``todo``; checkpoint ``keep`` + new rows to ``target`` every ``flush_seconds``
    and on the way out (also when killed), so a rerun only does what is still missing."""
    new_rows: list[dict[str, Any]] = []
    last_flush = time.monotonic()
    if progress is not None:
        progress(0, len(todo))

    def on_batch(rows: list[dict[str, Any]]) -> None:
        nonlocal last_flush
        new_rows.extend(rows)
        if progress is not None:
            progress(len(rows), len(todo))
        if time.monotonic() - last_flush >= config.flush_seconds:
            write_captions(_merge_rows(keep, new_rows), target)
            last_flush = time.monotonic()

    try:
        caption_refs(captioner, todo, config.batch_size, config.workers, on_batch)
    finally:
        if new_rows:
            write_captions(_merge_rows(keep, new_rows), target)
    for row in new_rows:
        if row["error"]:
            log.warning("no caption for %s: %s", row["hq_sha256"], row["error"])
    return new_rows


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------


def parse_part(ctx: click.Context | None, param: click.Parameter | None, value: str) -> tuple[int, int]:
    """``i/N`` with 0 <= i < N."""
    try:
        index, count = (int(v) for v in str(value).split("/"))
    except ValueError:
        raise click.BadParameter(f"expected i/N (e.g. 0/4), got {value!r}") from None
    if count < 1 or not 0 <= index < count:
        raise click.BadParameter(f"expected i/N with 0 <= i < N, got {value!r}")
    return index, count


@click.command("caption")
@click.option(
    "--manifests",
    "manifests_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("manifests"),
    show_default=True,
    help="Manifest folder; captions.parquet is written here.",
)
@click.option(
    "--manifest",
    "manifest_files",
    multiple=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Only these manifests (repeatable; default: every manifest in --manifests).",
)
@click.option(
    "--model", default=DEFAULT_MODEL, show_default=True, help="Hub id or local folder of a BLIP captioner."
)
@click.option("--batch-size", type=click.IntRange(min=1), default=16, show_default=True)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option(
    "--dtype",
    type=click.Choice(DTYPES),
    default="auto",
    show_default=True,
    help="auto: fp16 on CUDA, fp32 on CPU.",
)
@click.option("--max-new-tokens", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--num-beams", type=click.IntRange(min=1), default=1, show_default=True, help="1 = greedy.")
@click.option("--prompt", default=None, help='Conditional captioning prefix, e.g. "a photography of".')
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=2,
    show_default=True,
    help="Image-decoding DataLoader workers.",
)
@click.option(
    "--part",
    default="0/1",
    show_default=True,
    callback=parse_part,
    help="Caption only part i of N (0-based).",
)
@click.option("--overwrite", is_flag=True, help="Re-caption images that already have a caption.")
@click.option(
    "--captions-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Import captions (CSV/TSV/Parquet: caption + hq_sha256 or source) instead of running BLIP.",
)
def command(
    manifests_dir: Path,
    manifest_files: tuple[Path, ...],
    model: str,
    batch_size: int,
    device: str,
    dtype: str,
    max_new_tokens: int,
    num_beams: int,
    prompt: str | None,
    workers: int,
    part: tuple[int, int],
    overwrite: bool,
    captions_file: Path | None,
) -> None:
    """Caption each unique clean image once with BLIP and fill the manifests' caption column."""
    from tqdm import tqdm

    config = CaptionConfig(
        model=model,
        batch_size=batch_size,
        device=device,
        dtype=dtype,
        generation=GenerationSettings(
            max_new_tokens=max_new_tokens, num_beams=num_beams, prompt=prompt or None
        ),
        workers=workers,
        part=part,
        overwrite=overwrite,
    )
    bar = tqdm(total=0, unit="img", desc="caption", dynamic_ncols=True, disable=None)

    def progress(done: int, total: int) -> None:
        if bar.total != total:
            bar.total = total
            bar.refresh()
        bar.update(done)

    try:
        report = caption_manifests(
            manifests_dir,
            config,
            manifests=manifest_files or None,
            captions_file=captions_file,
            progress=progress,
        )
    except ModelUnavailableError as error:
        raise click.ClickException(str(error)) from None
    except (FileNotFoundError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    finally:
        bar.close()
    click.echo(
        f"{report.unique_images} unique clean images in {report.rows} rows of {report.manifests} manifests: "
        f"{report.captioned} captioned, {report.already_captioned} already had one, {report.errors} errors"
        + (f", {report.unmatched} captions-file rows unmatched" if captions_file else "")
        + f"; {report.rows_with_caption}/{report.rows} rows now have a caption "
        f"({report.manifests_updated} manifests updated, store {report.store}, {report.seconds:.1f}s)"
    )
    if report.errors:
        click.echo(f"{report.errors} images got no caption (see the log); a rerun retries them", err=True)
