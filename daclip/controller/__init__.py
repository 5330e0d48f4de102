"""The DA-CLIP controller: a trainable copy of a frozen open_clip CLIP's image encoder.

- ``model``: :class:`DaCLIP` (controller + frozen CLIP), its config, ``build`` and ``load``;
- ``factory``: the base CLIP (open_clip architecture + ``--pretrained`` weights), ``model_configs/*.json``;
- ``losses``: degradation CE/InfoNCE, caption contrastive and HQ-alignment terms;
- ``classify`` / ``evaluate``: the ``daclip classify`` and ``daclip evaluate`` commands;
- ``trainer``: the ``train-daclip`` console script.
"""
