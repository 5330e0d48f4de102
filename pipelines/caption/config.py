"""What ``make-dataset caption`` captions (:class:`CaptionConfig`), how it runs
(:class:`CaptionRuntime`), and what it did (:class:`CaptionReport`); built once at the CLI edge."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..common.images import DEFAULT_MAX_PIXELS
from .blip import DEFAULT_MODEL, DTYPES, GenerationSettings
from .plan import ON


@dataclass(frozen=True)
class CaptionConfig:
    """What to caption and with what: decides which images get a caption, and its text."""

    model: str = DEFAULT_MODEL
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    on: str = "hq"  # hq: rows without HQ are skipped; lq: they get their LQ image's caption
    part: tuple[int, int] = (0, 1)  # (i, N): only hashes whose first 15 hex digits % N == i
    overwrite: bool = False  # re-caption images that already have a caption
    max_pixels: int | None = DEFAULT_MAX_PIXELS  # larger images get an error row, never decoded

    def __post_init__(self) -> None:
        if self.on not in ON:
            raise ValueError(f"on must be one of {ON}, got {self.on!r}")
        index, count = self.part
        if count < 1 or not 0 <= index < count:
            raise ValueError(f"part must be i/N with 0 <= i < N, got {index}/{count}")

    @property
    def partitioned(self) -> bool:
        return self.part[1] > 1


@dataclass(frozen=True)
class CaptionRuntime:
    """How to run it: devices, batching, processes, checkpoints, the distributor."""

    batch_size: int = 16
    device: str = "auto"  # auto | cpu | cuda (or cuda:N)
    dtype: str = "auto"  # auto (fp16 on CUDA, fp32 on CPU) | fp32 | fp16 | bf16
    workers: int = 2  # DataLoader processes decoding and preprocessing images
    flush_seconds: float = 60.0  # checkpoint the store this often
    distributor: str = "local"  # local | ray (pipelines.caption.ray: a pool of BLIP actors)
    ray_address: str | None = None  # default: RAY_ADDRESS, else a local cluster
    gpus_per_actor: float | None = None  # default: 1 when the cluster has GPUs, else 0
    actors: int | None = None  # default: GPUs / gpus_per_actor, or the cluster's CPUs

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {self.dtype!r}")


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
    without_hq: int = 0  # ok rows skipped for lacking an HQ image (--on hq)
