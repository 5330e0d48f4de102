import pytest

from degradations import NAMES
from degradations.labels import UNKNOWN, is_mixture, join_label, multi_hot, split_label


def test_split_and_join_round_trip_with_aliases():
    assert split_label("lowlight+haze+rain") == ("low-light", "hazy", "rainy")
    assert join_label(split_label("lowlight+haze+rain")) == "low-light+hazy+rainy"
    assert split_label("rainy") == ("rainy",)
    assert not is_mixture("rainy") and is_mixture("hazy+rainy")


def test_unknown_is_an_empty_label():
    assert split_label(UNKNOWN) == ()
    assert join_label([]) == UNKNOWN
    assert multi_hot(UNKNOWN) == [0.0] * len(NAMES)


def test_multi_hot_marks_each_part():
    hot = multi_hot("hazy+noisy")
    assert sum(hot) == 2 and hot[NAMES.index("hazy")] == 1.0 and hot[NAMES.index("noisy")] == 1.0


@pytest.mark.parametrize("bad", ["rainy+rainy", "rainy+fog", "", "+rainy"])
def test_bad_labels_raise(bad):
    with pytest.raises(ValueError):
        split_label(bad)
