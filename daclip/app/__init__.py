"""``daclip app``: a local web app (Gradio, the ``app`` extra) to browse datasets and restore photos.

- ``data``: manifests through the one validator, rows by number, members by offset from the shards;
- ``models``: the optional DA-CLIP and restorer, uploads through the guarded decoder;
- ``dataset_tab`` / ``restore_tab``: the two tabs;
- ``server``: the page, ``launch`` and the click command.
"""

__all__ = ["data", "models", "server"]
