"""The Dataset tab: filters, a page of rows, one row's images and text, replay.

Every handler takes the row number (never a path) and goes through :class:`daclip.app.data.Dataset`.
Images go to the page as in-memory arrays, encoded as PNG (lossless: what the page shows is the
member's pixels).
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass
class _Controls:
    """The tab's components, as the handlers read and write them."""

    inputs: list[Any]  # the facets, the caption and parameter filters, the page number
    filters: tuple[Any, Any]  # caption and parameter-range text boxes (committed on Enter too)
    table: Any
    summary: Any
    row: Any
    show: Any
    replay: Any
    row_outputs: list[Any]
    replay_outputs: list[Any]


def _layout(dataset: Dataset) -> _Controls:
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
    return _Controls(inputs=[*facets, caption, param_range, page], filters=(caption, param_range), table=table,
                     summary=summary, row=row, show=show, replay=replay,
                     row_outputs=[row_note, lq, hq, compare, maps, caption_box, params, hashes, error_box],
                     replay_outputs=[replay_note, replayed])


def _refresher(dataset: Dataset):
    def refresh(*values: Any) -> tuple[Any, ...]:
        *spec, page_no = values
        try:
            rows = dataset.select(_filter(tuple(spec)))
        except ValueError as exc:  # a condition that does not parse: say how to write it
            return dataset.page(np.array([], dtype=int), 0, PAGE_SIZE), f"**{exc}**"
        pages = max(1, -(-len(rows) // PAGE_SIZE))
        page_no = min(max(int(page_no or 0), 0), pages - 1)
        return dataset.page(rows, page_no, PAGE_SIZE), _summary_text(dataset, rows) + f"  \npage {page_no} of {pages}"

    return refresh


def _row_shower(dataset: Dataset):
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

    return show_row


def pick(table_value: Any, evt: gr.SelectData) -> Any:  # gradio passes ``evt`` by this annotation
    try:
        return int(table_value.iloc[evt.index[0]]["row"])
    except (AttributeError, IndexError, KeyError, TypeError, ValueError):
        return None


def _replayer(dataset: Dataset):
    def run_replay(row_no: float | None) -> tuple[str, Any]:
        if row_no is None:
            return "pick a row first", None
        try:
            result = dataset.replay(int(row_no))
        except Exception as exc:  # a corrupt member or bad params: shown, the app keeps serving
            return f"**replay failed:** {type(exc).__name__}: {exc}", None
        return ("✅ " if result.matches else "❌ ") + result.message, result.lq

    return run_replay


def build(dataset: Dataset) -> tuple[Any, list[Any], list[Any]]:
    """Lay out the tab inside the current ``gr.Blocks``; returns ``(refresh, inputs, outputs)`` for
    the page's load event."""
    c = _layout(dataset)
    refresh, show_row, run_replay = _refresher(dataset), _row_shower(dataset), _replayer(dataset)
    page_outputs = [c.table, c.summary]
    for control in c.inputs:
        control.change(refresh, c.inputs, page_outputs)
    for box in c.filters:  # typing may only commit on Enter, depending on the browser
        box.submit(refresh, c.inputs, page_outputs)
    c.show.click(show_row, c.row, c.row_outputs)
    c.row.submit(show_row, c.row, c.row_outputs)
    c.table.select(pick, c.table, c.row).then(show_row, c.row, c.row_outputs)
    c.replay.click(run_replay, c.row, c.replay_outputs)
    return refresh, c.inputs, page_outputs
