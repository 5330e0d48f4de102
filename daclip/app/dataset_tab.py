"""The Dataset tab: filters, a page of rows, one row's images and text, replay.

Every handler takes the row number (never a path) and goes through :class:`daclip.app.data.Dataset`.
Images go to the page as in-memory arrays, encoded as PNG (lossless: what the page shows is the
member's pixels).
"""

from __future__ import annotations

from typing import Any

import gradio as gr
import numpy as np

from .data import FACETS, Dataset, Filter

PAGE_SIZE = 20


def _summary_text(dataset: Dataset, rows: np.ndarray) -> str:
    counts = dataset.summary(rows)
    lines = [f"**{len(rows)} of {len(dataset.frame)} rows**"]
    for column, values in counts.items():
        lines.append(f"- {column}: " + ", ".join(f"{k} {v}" for k, v in values.items()))
    lines += [f"- {name}: {bars}" for name, bars in dataset.histograms(rows).items()]
    return "\n".join(lines)


def _filter(values: tuple[Any, ...]) -> Filter:
    *facets, caption, params = values
    return Filter(**{name: tuple(v or ()) for name, v in zip(FACETS, facets)}, caption=caption or "",
                  params=params or "")


def _blank_row(message: str) -> tuple[Any, ...]:
    return (message, None, None, None, [], "", None, "", "")


def build(dataset: Dataset) -> tuple[Any, list[Any], list[Any]]:
    """Lay out the tab inside the current ``gr.Blocks``; returns ``(refresh, inputs, outputs)`` for
    the page's load event."""
    notes = "\n".join(f"- **could not open** {line}" for line in dataset.errors)
    gr.Markdown(notes or f"{len(dataset.frame)} rows from {dataset.frame['manifest'].nunique()} manifest(s).",
                elem_id="dataset-status")
    with gr.Row():
        facets = [gr.CheckboxGroup(dataset.choices(name), label=name, elem_id=f"filter-{name}")
                  for name in FACETS]
    with gr.Row():
        caption = gr.Textbox(label="caption contains", elem_id="filter-caption", scale=2)
        param_range = gr.Textbox(label="parameter range, e.g. quality < 20, t_far < 0.3",
                                 elem_id="filter-params", scale=2)
        page = gr.Number(0, label="page (from 0)", precision=0, minimum=0, elem_id="page", scale=1)
    summary = gr.Markdown(elem_id="summary")
    table = gr.Dataframe(interactive=False, elem_id="rows-table", wrap=False, max_height=420)
    with gr.Row():
        row = gr.Number(label="row", precision=0, minimum=0, elem_id="row-number")
        show = gr.Button("Show row", elem_id="show-row")
        replay = gr.Button("Replay params on HQ", elem_id="replay")
    row_note = gr.Markdown(elem_id="row-note")
    with gr.Row():
        lq = gr.Image(label="LQ", format="png", interactive=False, elem_id="row-lq", height=256)
        hq = gr.Image(label="HQ", format="png", interactive=False, elem_id="row-hq", height=256)
    compare = gr.ImageSlider(label="LQ | HQ (drag to compare)", format="png", interactive=False,
                             elem_id="row-compare", height=320)
    maps = gr.Gallery(label="side maps", format="png", columns=4, height=220, elem_id="row-maps")
    with gr.Row():
        caption_box = gr.Textbox(label="caption", interactive=False, elem_id="row-caption")
        error_box = gr.Textbox(label="error message", interactive=False, elem_id="row-error")
    params = gr.JSON(label="params", elem_id="row-params")
    hashes = gr.Textbox(label="hashes", interactive=False, lines=3, elem_id="row-hashes")
    replay_note = gr.Markdown(elem_id="replay-note")
    replayed = gr.Image(label="replayed LQ", format="png", interactive=False, elem_id="replay-lq")

    def refresh(*values: Any) -> tuple[Any, ...]:
        *spec, page_no = values
        try:
            rows = dataset.select(_filter(tuple(spec)))
        except ValueError as exc:  # a condition that does not parse: say how to write it
            return dataset.page(np.array([], dtype=int), 0, PAGE_SIZE), f"**{exc}**"
        pages = max(1, -(-len(rows) // PAGE_SIZE))
        page_no = min(max(int(page_no or 0), 0), pages - 1)
        return dataset.page(rows, page_no, PAGE_SIZE), _summary_text(dataset, rows) + f"  \npage {page_no} of {pages}"

    def show_row(row_no: float | None) -> tuple[Any, ...]:
        if row_no is None:
            return _blank_row("pick a row: type its number or click it in the table")
        try:
            view = dataset.view(int(row_no))
        except (IndexError, ValueError) as exc:
            return _blank_row(f"**{exc}**")
        images = view.images
        side = [(arr, name) for name, arr in images.items() if name not in ("lq", "hq")]
        pair = (images["lq"], images["hq"]) if "lq" in images and "hq" in images else None
        note = f"row {view.row}: `{view.key}`" + "".join(f"  \n**unreadable member** {p}" for p in view.problems)
        hashes_text = "\n".join(f"{k}: {v or '-'}" for k, v in view.hashes.items())
        return (note, images.get("lq"), images.get("hq"), pair, side, view.caption or "", view.params,
                hashes_text, view.error or "")

    def pick(table_value: Any, evt: gr.SelectData) -> Any:  # gradio passes ``evt`` by this annotation
        try:
            return int(table_value.iloc[evt.index[0]]["row"])
        except (AttributeError, IndexError, KeyError, TypeError, ValueError):
            return None

    def run_replay(row_no: float | None) -> tuple[str, Any]:
        if row_no is None:
            return "pick a row first", None
        try:
            result = dataset.replay(int(row_no))
        except Exception as exc:  # a corrupt member or bad params: shown, the app keeps serving
            return f"**replay failed:** {type(exc).__name__}: {exc}", None
        return ("✅ " if result.matches else "❌ ") + result.message, result.lq

    inputs = [*facets, caption, param_range, page]
    row_outputs = [row_note, lq, hq, compare, maps, caption_box, params, hashes, error_box]
    for control in inputs:
        control.change(refresh, inputs, [table, summary])
    for box in (caption, param_range):  # typing may only commit on Enter, depending on the browser
        box.submit(refresh, inputs, [table, summary])
    show.click(show_row, row, row_outputs)
    row.submit(show_row, row, row_outputs)
    table.select(pick, table, row).then(show_row, row, row_outputs)
    replay.click(run_replay, row, [replay_note, replayed])
    return refresh, inputs, [table, summary]
