"""The simulator's fast column builders give exactly what the Arrow kernels and scikit-learn give.

The landing files must stay byte-identical for a seed, so each shortcut is checked against the slow path it
replaced, on awkward inputs (ties, wide numbers, empty arrays).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.metrics import roc_auc_score

from pintel.simulate.dynamics import sigmoid
from pintel.simulate.ranking import roc_auc
from pintel.simulate.strings import padded_numbers, repeat_string


def test_roc_auc_is_scikit_learns_float() -> None:
    rng = np.random.default_rng(3)
    for i in range(200):
        n = int(rng.integers(10, 3000))
        y = (rng.random(n) < rng.uniform(0.05, 0.5)).astype(float)
        y[:2] = (0.0, 1.0)
        score = rng.random(n) if i % 2 else np.round(rng.random(n), 1)  # every other case full of ties
        assert roc_auc(y, score) == roc_auc_score(y, score)
    assert roc_auc(np.array([0.0, 1.0, 0.0, 1.0]), np.array([0.1, 0.9, 0.2, 0.8])) == 1.0


def test_padded_numbers_match_the_pad_kernel() -> None:
    numbers = np.array([0, 7, 123_456_789_012, 999_999_999_999, 10**12, 10**14 + 3])
    kernel = pc.binary_join_element_wise("7-", pc.utf8_lpad(pc.cast(pa.array(numbers), pa.string()), 12, "0"), "")
    assert padded_numbers("7-", numbers, 12).equals(kernel)
    assert padded_numbers("7-", numbers[:4], 12).equals(kernel[:4])
    assert padded_numbers("ab-", np.zeros(0, np.int64), 12).to_pylist() == []


def test_repeat_string() -> None:
    assert repeat_string("track", 3).equals(pa.array(["track"] * 3, pa.string()))
    assert len(repeat_string("{}", 0)) == 0


def test_in_place_sigmoid_is_the_same_float() -> None:
    x = np.random.default_rng(1).normal(0, 4, 10_001)
    for values in (x, x.astype(np.float32)):
        expected = 1.0 / (1.0 + np.exp(-values))
        got = sigmoid(values.copy())
        assert got.dtype == expected.dtype
        assert np.array_equal(got, expected)
    assert sigmoid(0.0) == 0.5
