"""Review of the Winograd convolution path: non-finite and near-overflow inputs.

The im2col path (and PyTorch's CPU convolution) turn an ``inf`` input pixel into ``inf`` outputs
exactly over its receptive field and keep every other output finite. The Winograd transforms
multiply every input of a tile by coefficients that include 0 and both signs, so an ``inf`` becomes
``inf - inf`` / ``0 * inf`` = NaN, and it spreads to every output of every tile that reads the pixel
(the whole plane for an 8x8 output). Its intermediate values are also up to ~100x the input, so
inputs near 1e37 overflow although the true outputs are far below float32's max (3.4e38).

Fixed by ``winograd.in_range``: such inputs take the exact im2col path. These tests check that an
otherwise eligible layer falls back and gives the exact results. Expected values are computed here
in float64 with explicit loops, never by cnnkit.
"""

from __future__ import annotations

import numpy as np
import pytest

import cnnkit
import cnnkit.functional as F
from cnnkit.backend import winograd as W
from cnnkit.ops import conv_winograd

needs_kernels = pytest.mark.skipif(W._load() is None, reason="numba not installed (no Winograd kernels)")


def _reference(x: np.ndarray, w: np.ndarray, pad: int) -> np.ndarray:
    """float64 cross-correlation, one slice-product per kernel tap."""
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    k = w.shape[2]
    ho, wo = xp.shape[2] - k + 1, xp.shape[3] - k + 1
    out = np.zeros((x.shape[0], w.shape[0], ho, wo))
    for i in range(k):
        for j in range(k):
            out += np.einsum("nchw,oc->nohw", xp[:, :, i:i + ho, j:j + wo], w[:, :, i, j].astype(np.float64))
    return out


def _conv(x: np.ndarray, w: np.ndarray, pad: int) -> np.ndarray:
    ones = F.conv2d(cnnkit.ones(*x.shape), cnnkit.from_numpy(w).requires_grad_(), padding=pad)
    assert ones.creator.saved[0] is conv_winograd  # the layer is eligible for Winograd ...
    y = F.conv2d(cnnkit.from_numpy(x), cnnkit.from_numpy(w).requires_grad_(), padding=pad)
    assert y.creator.saved[0] is not conv_winograd  # ... and this input took im2col
    return y.numpy()


@needs_kernels
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_inf_input_gives_inf_over_its_receptive_field_only():
    x = np.ones((1, 8, 8, 8), np.float32)
    x[0, 2, 4, 4] = np.inf
    w = np.full((2, 8, 3, 3), 0.1, np.float32)  # positive weights: no inf - inf in the exact result
    ref = _reference(x, w, 1)
    assert np.isinf(ref).sum() == 18 and not np.isnan(ref).any()
    y = _conv(x, w, 1)
    assert not np.isnan(y).any()
    np.testing.assert_array_equal(np.isinf(y), np.isinf(ref))
    finite = np.isfinite(ref)
    np.testing.assert_allclose(y[finite], ref[finite], rtol=1e-5)


@needs_kernels
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_large_finite_inputs_do_not_overflow():
    rng = np.random.default_rng(0)
    x = (rng.choice([-1.0, 1.0], (2, 8, 8, 8)) * 1e37).astype(np.float32)
    w = (rng.choice([-1.0, 1.0], (2, 8, 5, 5)) / 200).astype(np.float32)
    ref = _reference(x, w, 0)
    assert np.abs(ref).max() < 1e37  # the exact outputs are 100x below float32's max
    y = _conv(x, w, 0)
    assert np.isfinite(y).all()
    np.testing.assert_allclose(y, ref, atol=2e-5 * np.abs(ref).max())


@needs_kernels
def test_nan_in_the_upstream_gradient_lands_where_im2col_puts_it():
    """Backward checks the upstream gradient too: a NaN there takes the exact im2col products, so
    dx is NaN exactly over the receptive field of that output (Winograd would fill whole tiles)."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 8, 9, 9)).astype(np.float32)
    w = rng.standard_normal((3, 8, 3, 3)).astype(np.float32)
    xt, wt = cnnkit.from_numpy(x).requires_grad_(), cnnkit.from_numpy(w).requires_grad_()
    y = F.conv2d(xt, wt, padding=1)
    assert y.creator.saved[0] is conv_winograd
    grad = rng.standard_normal(y.shape).astype(np.float32)
    grad[0, 1, 4, 4] = np.nan
    y.backward(grad)
    dx = xt.grad.numpy()
    expected = np.zeros(x.shape, bool)
    expected[0, :, 3:6, 3:6] = True  # the 3×3 window of output (4, 4), every input channel
    np.testing.assert_array_equal(np.isnan(dx), expected)
    clean = grad.copy()
    clean[0, 1, 4, 4] = 0
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
    want = np.zeros(xp.shape)
    for i in range(3):
        for j in range(3):
            want[:, :, i:i + 9, j:j + 9] += np.einsum("nohw,oc->nchw", clean.astype(np.float64), w[:, :, i, j])
    want = want[:, :, 1:-1, 1:-1]
    np.testing.assert_allclose(dx[~expected], want[~expected], rtol=1e-4, atol=1e-4)
    dw = wt.grad.numpy()
    assert np.isnan(dw[1]).all() and np.isfinite(dw[[0, 2]]).all()  # only output channel 1 saw the NaN
