"""metrics.confusion_matrix against counts made by a plain loop."""

from __future__ import annotations

import numpy as np
import pytest

from cnnkit.training.metrics import confusion_matrix


def loop_counts(y_true, y_pred, k):
    counts = np.zeros((k, k), np.int64)
    for t, p in zip(y_true, y_pred):
        counts[t, p] += 1
    return counts


def test_counts_match_a_loop_for_labels_and_for_scores():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 5, 300)
    scores = rng.normal(size=(300, 5))
    expected = loop_counts(y_true, scores.argmax(1), 5)
    np.testing.assert_array_equal(confusion_matrix(y_true, scores), expected)
    np.testing.assert_array_equal(confusion_matrix(y_true, scores.argmax(1), num_classes=5), expected)
    assert confusion_matrix(y_true, scores).sum() == 300


def test_size_defaults_and_empty_inputs():
    assert confusion_matrix([0, 2], [2, 2]).shape == (3, 3)  # one more than the largest class seen
    assert confusion_matrix([], np.zeros((0, 4))).shape == (4, 4)  # scores give the class count even when empty
    assert confusion_matrix([], []).shape == (0, 0)
    assert confusion_matrix([1], [1], num_classes=10)[1, 1] == 1


@pytest.mark.parametrize("y_true, y_pred, kwargs, message", [
    ([0, 1], [0], {}, "2 labels but 1 predictions"),
    ([0, -1], [0, 1], {}, "y_true must hold non-negative integer classes"),
    ([0, 1.5], [0, 1], {}, "y_true must hold non-negative integer classes"),
    ([0, 1], [0, np.nan], {}, "y_pred must hold non-negative integer classes"),
    ([0, 3], [0, 1], {"num_classes": 3}, "class 3 does not fit num_classes=3"),
])
def test_bad_inputs_are_named(y_true, y_pred, kwargs, message):
    with pytest.raises(ValueError, match=message):
        confusion_matrix(y_true, y_pred, **kwargs)
