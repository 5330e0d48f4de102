"""Weight-free image quality: know your data without downloading a model.

Each measure is a small pure function of an HxWx3 uint8 RGB array: ``sharpness`` (blur effect,
Laplacian variance), ``noise`` (sigma), ``blockiness`` (JPEG grid), ``exposure`` (clipping, mean
luma), ``niqe`` and ``piqe`` (no-reference scores, from their papers), ``phash``; ``score`` runs
them all under the manifest column names (``q_*``). ``gate`` parses ``--reject-if`` rules,
``sources`` finds each manifest's distinct clean images, ``run`` scores and writes manifests,
``command`` is ``make-dataset score``.
"""

from .score import COLUMNS, score_image

__all__ = ["COLUMNS", "score_image"]
