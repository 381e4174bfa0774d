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


def tiny_images(n: int = 64, seed: int = 0) -> tuple:
    """1×8×8 images: class 0 bright on the left half, class 1 bright on the right half."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n).astype(np.int64)
    x = 0.1 * rng.normal(size=(n, 1, 8, 8))
    x[y == 0, :, :, :4] += 1.0
    x[y == 1, :, :, 4:] += 1.0
    return x.astype(np.float32), y
