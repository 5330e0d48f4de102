"""``daclip app``: build the Gradio page and serve it (127.0.0.1 by default).

Gradio serves only the files it writes itself (its cache, here a private temporary folder):
``allowed_paths`` is empty, every image reaches the page as an in-memory array, and analytics
are off (nothing phones home).
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import click

from pipelines.common.cli import manifest_inputs
from pipelines.common.images import DEFAULT_MAX_PIXELS

from ..restoration.restore import SamplingConfig
from .data import Dataset, open_dataset
from .models import Models, load_models

__all__ = ["build_app", "command", "launch"]

SYSTEM_FONTS = ("ui-sans-serif", "system-ui", "sans-serif")  # no web fonts: the page loads offline


def _quiet_gradio() -> None:
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ.setdefault("GRADIO_TEMP_DIR", tempfile.mkdtemp(prefix="daclip-app-"))


def build_app(dataset: Dataset, models: Models) -> Any:
    """The ``gr.Blocks`` with the Dataset and Restore tabs."""
    _quiet_gradio()
    import gradio as gr

    from . import dataset_tab, restore_tab

    with gr.Blocks(title="daclip app", analytics_enabled=False) as demo:
        with gr.Tab("Dataset", elem_id="tab-dataset"):
            refresh, inputs, outputs = dataset_tab.build(dataset)
        with gr.Tab("Restore", elem_id="tab-restore"):
            restore_tab.build(models)
        demo.load(refresh, inputs, outputs)
    return demo


def launch(demo: Any, host: str = "127.0.0.1", port: int = 7860, block: bool = True) -> Any:
    """Serve ``demo``; ``block=False`` returns at once (tests), with ``demo.local_url`` set."""
    import gradio as gr

    theme = gr.themes.Default(font=list(SYSTEM_FONTS), font_mono=["ui-monospace", "monospace"])
    demo.queue(default_concurrency_limit=2)
    return demo.launch(server_name=host, server_port=port, share=False, inbrowser=False, allowed_paths=[],
                       prevent_thread_lock=not block, quiet=not block, theme=theme, show_error=True,
                       footer_links=[], max_file_size=64 * 2**20)


@click.command("app")
@manifest_inputs(click.Path(exists=True), old_spellings=("--manifests",),
                 help="Manifest file or folder of manifests (repeatable; also positional).")
@click.option("--ckpt", default=None, help="DA-CLIP run or checkpoint folder (degradation probabilities).")
@click.option("--restorer", default=None, help="Restoration run or checkpoint folder (train-restore, convert).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback by default).")
@click.option("--port", default=7860, show_default=True, type=click.IntRange(1, 65535))
@click.option("--steps", type=int, default=None, help="Restoration sampling steps (default: all T).")
@click.option("--tile", type=int, default=512, show_default=True, help="Tile size in pixels (0: no tiling).")
@click.option("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, show_default=True,
              help="Refuse images (members, uploads) with more pixels.")
@click.option("--device", default="auto", show_default=True)
def command(manifests, ckpt, restorer, host, port, steps, tile, max_pixels, device) -> None:
    """A local web app: browse datasets (Dataset tab) and restore photos (Restore tab)."""
    sampling = SamplingConfig(sampler=None, clip_x0=None, steps=steps, tile=tile or None)
    dataset = open_dataset(list(manifests), max_pixels=max_pixels)
    for line in dataset.errors:
        click.echo(f"warning: {line}", err=True)
    models = load_models(ckpt, restorer, sampling, device=device, max_pixels=max_pixels)
    launch(build_app(dataset, models), host=host, port=port)
