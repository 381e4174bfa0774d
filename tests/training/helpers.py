"""Helpers shared by the training tests."""

from __future__ import annotations

import numpy as np

import cnnkit


def weights(model: cnnkit.Model) -> dict:
    """A copy of every state-dict array of ``model``'s module."""
    return {k: v.numpy().copy() for k, v in model.module.state_dict().items()}


def assert_same_weights(a: dict, b: dict) -> None:
    """Bit-identical state dicts."""
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
