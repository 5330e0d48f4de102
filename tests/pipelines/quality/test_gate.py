import numpy as np
import pandas as pd
import pytest

from pipelines.quality.gate import DEFAULT_RULE, RuleError, parse_rule, reject_reasons
from pipelines.quality.score import score_image
from tests.pipelines.quality.photos import DEGRADATIONS, NAMES, degraded, photo


def frame(**columns):
    return pd.DataFrame(columns)


def test_reasons_are_the_top_level_terms():
    rule = parse_rule("q_blur>0.4 or (q_sigma >= 3 and q_luma < .2) or q_niqe != 1e1")
    assert rule.reasons == ["q_blur > 0.4", "q_sigma >= 3 and q_luma < 0.2", "q_niqe != 10"]
    rows = frame(q_blur=[0.5, 0.1, 0.1, np.nan], q_sigma=[4, 4, 4, 1], q_luma=[0.1, 0.1, 0.5, 0.5],
                 q_niqe=[10, 10, 10, np.nan])
    assert reject_reasons(rule, rows).tolist() == ["q_blur > 0.4; q_sigma >= 3 and q_luma < 0.2",
                                                   "q_sigma >= 3 and q_luma < 0.2", None, None]


def test_and_binds_tighter_than_or():
    rule = parse_rule("q_blur > 1 and q_sigma > 1 or q_luma > 1")
    assert rule.reasons == ["q_blur > 1 and q_sigma > 1", "q_luma > 1"]
    assert reject_reasons(rule, frame(q_blur=[2.0], q_sigma=[0.0], q_luma=[0.0])).tolist() == [None]


@pytest.mark.parametrize("text, message", [
    ("q_blur > 0.4 or", "ends where"), ("q_blur >> 1", "expected a number"), ("q_blurry > 1", "unknown score"),
    ("__import__('os') > 1", "cannot read|expected"), ("q_blur > 1 q_sigma > 2", "'and', 'or'"),
    ("(q_blur > 1", r"'\)'"), ("q_phash > 1", "unknown score"), ("q_blur > 1; rm", "cannot read"), ("", "ends where"),
    ("1 < q_blur", "a score name"),
])
def test_bad_rules_say_why(text, message):
    with pytest.raises(RuleError, match=message):
        parse_rule(text)


@pytest.mark.parametrize("side", [256, 512])
def test_default_rule_rejects_every_degraded_copy_and_keeps_every_photo(side):
    rule = parse_rule(DEFAULT_RULE)
    rows, expected = [], []
    for name in NAMES:
        rows.append(score_image(photo(name, side)))
        expected.append(None)
        for how in DEGRADATIONS:
            rows.append(score_image(degraded(photo(name, side), how)))
            expected.append({"blur2": "q_blur > 0.5", "noise15": "q_sigma > 5", "jpeg10": "q_blockiness > 1.5"}[how])
    reasons = reject_reasons(rule, pd.DataFrame(rows)).tolist()
    assert reasons == expected  # each copy for its own reason only, each photo kept
