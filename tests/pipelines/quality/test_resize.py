import numpy as np
import pytest

from pipelines.quality.resize import imresize, resize_weights


def test_rows_sum_to_one_and_constants_stay():
    for n in (7, 96, 97, 480):
        w = resize_weights(n, -(-n // 2), 0.5)
        assert np.allclose(w.sum(axis=1), 1)
    assert np.allclose(imresize(np.full((10, 14), 3.5), 0.5), 3.5)
    assert imresize(np.zeros((9, 11)), 0.5).shape == (5, 6)


# BasicSR 1.4.2's basicsr.utils.matlab_functions.imresize(x, 0.5) (its MATLAB port, float32
# torch), run outside the repository on this 7x9 array; printed to 8 decimals.
BASICSR_7x9 = [[0.31592548, 0.3121818, 0.51701087, 0.51333082, 0.28325653],
               [0.55377442, 0.45289186, 0.39429322, 0.51455396, 0.44437331],
               [0.5657872, 0.59040463, 0.53270125, 0.30352691, 0.40635359],
               [0.63829625, 0.6172905, 0.70470375, 0.2640675, 0.61352384]]


def test_matches_basicsr_imresize():
    x = (np.arange(7 * 9).reshape(7, 9) ** 1.5 % 17).astype(np.float64) / 17
    assert imresize(x, 0.5) == pytest.approx(np.array(BASICSR_7x9), abs=1e-6)


def test_a_ramp_stays_a_ramp_away_from_the_ends():
    ramp = np.arange(1, 65, dtype=np.float64)[:, None].repeat(2, axis=1)
    out = imresize(ramp, 0.5)[:, 0]
    assert out[3:-3] == pytest.approx(np.arange(1, 65).reshape(-1, 2).mean(axis=1)[3:-3])


def test_rejects_bad_input():
    with pytest.raises(ValueError):
        imresize(np.zeros((2, 2, 3)), 0.5)
    with pytest.raises(ValueError):
        imresize(np.zeros((4, 4)), 0)
