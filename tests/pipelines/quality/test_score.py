import math
import re

import numpy as np

from pipelines.quality import COLUMNS, score_image
from pipelines.quality.score import FLOAT_COLUMNS
from tests.pipelines.quality.photos import photo

EXPECTED = ("q_blur", "q_laplacian_var", "q_sigma", "q_blockiness", "q_clip_low", "q_clip_high", "q_luma",
            "q_niqe", "q_piqe", "q_phash")


def test_columns_are_stable_and_typed():
    assert COLUMNS == EXPECTED
    scores = score_image(photo("astronaut"))
    assert tuple(scores) == EXPECTED
    assert all(isinstance(scores[c], float) and math.isfinite(scores[c]) for c in FLOAT_COLUMNS)
    assert re.fullmatch(r"[0-9a-f]{16}", scores["q_phash"])
    assert score_image(np.array(photo("astronaut"))) == scores  # deterministic, input untouched


def test_a_tiny_image_gets_nan_where_a_measure_needs_more_pixels():
    scores = score_image(np.asarray(photo("chelsea", side=40)))
    assert math.isnan(scores["q_niqe"]) and math.isfinite(scores["q_blur"])
