"""Export a trained checkpoint into ``demo_weights/`` (the weights ``make demo`` uses) with a record.

The benches that train the demo models call :func:`export` at their end when given ``--export DIR``:

- ``model.safetensors`` holds the checkpoint's weights, floating tensors in ``dtype`` (the DA-CLIP is
  stored in float16 to fit the size budget; loading casts back to float32), only the ``prefixes`` kept
  (the restorer keeps its raw ``net.*`` weights, which the bench evaluates, and drops the EMA copy);
- ``config.json`` is the checkpoint's config, with ``config_updates`` applied (the restorer's DA-CLIP
  reference becomes ``../daclip``, resolved against the checkpoint folder, so the folder can move);
- ``demo_weights/RECORD.json`` gets one entry per exported model: the exact command, torch and
  numpy versions, the files' sizes and sha256, and what the bench measured.

Re-running the recorded command with the same torch build re-creates the files bit for bit: every
random draw of both trainers derives from ``--seed``, the step count is fixed (``--steps``), and
the time budget is set wide enough not to cut the run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import platform
import shlex
import sys
from pathlib import Path
from typing import Any

RECORD = "RECORD.json"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def command_line() -> str:
    """The command that is running, as one would type it from the repository root."""
    script = Path(sys.argv[0])
    with contextlib.suppress(ValueError):
        script = script.resolve().relative_to(Path(__file__).resolve().parents[1])
    return shlex.join(["python", str(script), *sys.argv[1:]])


def export(checkpoint: str | Path, out: str | Path, *, dtype: str = "float32", prefixes: tuple[str, ...] = (),
           config_updates: dict[str, Any] | None = None, measured: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write ``out/model.safetensors`` + ``out/config.json`` from a checkpoint and record them."""
    import numpy as np
    import torch
    from safetensors.torch import save_file

    from daclip.runtime.checkpoint import load_checkpoint

    weights, config, _ = load_checkpoint(checkpoint)
    cast = getattr(torch, dtype)
    kept = {k: (v.to(cast) if v.is_floating_point() else v).contiguous()
            for k, v in sorted(weights.items()) if not prefixes or k.startswith(prefixes)}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    save_file(kept, out / "model.safetensors", metadata={"dtype": dtype})
    config = {**config, **(config_updates or {})}
    (out / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    files = {f"{out.name}/{name}": {"bytes": (out / name).stat().st_size, "sha256": sha256(out / name)}
             for name in ("model.safetensors", "config.json")}
    entry = {"command": command_line(), "torch": torch.__version__, "numpy": np.__version__,
             "python": platform.python_version(), "machine": platform.machine(), "stored_dtype": dtype,
             "parameters": int(sum(v.numel() for v in kept.values())), "files": files, "measured": measured or {}}
    record_path = out.parent / RECORD
    record = json.loads(record_path.read_text()) if record_path.exists() else {}
    record[out.name] = entry
    record_path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return entry
