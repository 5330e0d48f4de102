"""The Restore tab: an upload (or a bundled photo) -> DA-CLIP probabilities and the restored image.

Uploads arrive as bytes and go through the guarded decoder; an unreadable one becomes a message in
the page. Without a model the tab says how to get one.
"""

from __future__ import annotations

from typing import Any

from .models import Models, missing_help


def build(models: Models) -> None:
    """Lay out the tab inside the current ``gr.Blocks``."""
    import gradio as gr

    missing = [missing_help(what) for what, have in (("daclip", models.daclip), ("restorer", models.restorer))
               if have is None]
    gr.Markdown("\n\n".join(missing) or "DA-CLIP and restorer loaded.", elem_id="models-status")
    with gr.Row():
        upload = gr.File(label="upload an image", type="binary", elem_id="upload")
        photo = gr.Dropdown(sorted(models.photos), value=None, label="or a bundled photo", elem_id="photo")
    run = gr.Button("Analyse and restore", variant="primary", elem_id="run-restore")
    status = gr.Markdown(elem_id="restore-status")
    probs = gr.Label(num_top_classes=10, label="degradation probabilities (DA-CLIP)", elem_id="probs")
    with gr.Row():
        before = gr.Image(label="input", format="png", interactive=False, elem_id="restore-input")
        after = gr.Image(label="restored (download: the button on the image)", format="png", interactive=False,
                         elem_id="restore-output")
    compare = gr.ImageSlider(label="before | after", format="png", interactive=False, elem_id="restore-compare")

    def analyse(data: bytes | None, name: str | None, progress: Any = gr.Progress()) -> tuple[Any, ...]:
        try:
            img = models.read(data, name)
        except ValueError as exc:  # ImageError is a ValueError: the upload is unreadable
            return f"**cannot use this image:** {exc}", None, None, None, None
        notes = [f"input {img.shape[1]}x{img.shape[0]}"]
        label = models.probabilities(img) if models.daclip is not None else None
        if label is None:
            notes.append(missing_help("daclip"))
        restored = None
        if models.restorer is not None:
            total = max(1, models.network_calls(img))
            done = [0]

            def tick(n: int) -> None:
                done[0] += n
                progress(done[0] / total, desc=f"restoring: {done[0]}/{total} network calls")

            restored = models.restore(img, tick)
            notes.append(f"restored {restored.shape[1]}x{restored.shape[0]}")
        else:
            notes.append(missing_help("restorer"))
        pair = (img, restored) if restored is not None else None
        return "  \n".join(notes), label, img, restored, pair

    run.click(analyse, [upload, photo], [status, probs, before, after, compare], concurrency_limit=1)
