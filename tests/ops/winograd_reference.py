"""Shared by the Winograd convolution tests: independent float64 references (explicit loops over
the kernel offsets), tolerances and small drivers. Not a test module."""

from __future__ import annotations


import numpy as np
import pytest

import cnnkit
import cnnkit.functional as F
from cnnkit.backend import winograd as W
from cnnkit.ops import conv_winograd

needs_kernels = pytest.mark.skipif(W._load() is None, reason="numba not installed (no compiled Winograd kernels)")
TOL = 2e-5  # of max|reference|: float32 Winograd rounding (see the module docstring)
ALL_TILES = [(m, r) for r, ms in W._TILES.items() for m in ms]


# --- independent float64 references ----------------------------------------------------------------

def _correlate2d_loops(d: np.ndarray, g: np.ndarray) -> np.ndarray:
    """2-D 'valid' cross-correlation with one scalar loop per output pixel and kernel tap."""
    out = np.zeros((d.shape[0] - g.shape[0] + 1, d.shape[1] - g.shape[1] + 1))
    for y in range(out.shape[0]):
        for x in range(out.shape[1]):
            for i in range(g.shape[0]):
                for j in range(g.shape[1]):
                    out[y, x] += d[y + i, x + j] * g[i, j]
    return out


def _ref_forward(x, w, b, pads):
    """y = b + Σ_{i,j} w[:, :, i, j] · x_padded[:, :, i:i+Ho, j:j+Wo], in float64.
    ``pads`` = ((top, bottom), (left, right))."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    xp = np.pad(x, ((0, 0), (0, 0)) + tuple(pads))
    kh, kw = w.shape[2:]
    ho, wo = xp.shape[2] - kh + 1, xp.shape[3] - kw + 1
    y = np.zeros((w.shape[0], x.shape[0], ho, wo))  # (K, N, Ho, Wo)
    for i in range(kh):
        for j in range(kw):
            y += np.tensordot(w[:, :, i, j], xp[:, :, i:i + ho, j:j + wo], axes=([1], [1]))
    if b is not None:
        y += np.asarray(b, np.float64)[:, None, None, None]
    return y.transpose(1, 0, 2, 3)


def _ref_backward(x, w, g, pads):
    """(dx, dw, db) of ``sum(y · g)`` for :func:`_ref_forward`, in float64, by the same offset loops."""
    x, w, g = (np.asarray(a, np.float64) for a in (x, w, g))
    (top, _), (left, _) = pads
    xp = np.pad(x, ((0, 0), (0, 0)) + tuple(pads))
    kh, kw = w.shape[2:]
    ho, wo = g.shape[2:]
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i:i + ho, j:j + wo]
            dw[:, :, i, j] = np.tensordot(g, patch, axes=([0, 2, 3], [0, 2, 3]))
            dxp[:, :, i:i + ho, j:j + wo] += np.tensordot(g, w[:, :, i, j], axes=([1], [0])).transpose(0, 3, 1, 2)
    dx = dxp[:, :, top:top + x.shape[2], left:left + x.shape[3]]
    return dx, dw, g.sum(axis=(0, 2, 3))


def _close(actual, reference, tol=TOL, what=""):
    reference = np.asarray(reference, np.float64)
    atol = tol * max(np.abs(reference).max(), 1e-30)
    np.testing.assert_allclose(np.asarray(actual, np.float64), reference, rtol=0, atol=atol, err_msg=what)


def _is_winograd(y) -> bool:
    return y.creator is not None and y.creator.saved[0] is conv_winograd


def _data(rng, n, c_in, c_out, k, hw, dtype=np.float32, bias=True):
    x = rng.standard_normal((n, c_in, *hw)).astype(dtype)
    w = (rng.standard_normal((c_out, c_in, k, k)) / np.sqrt(c_in * k * k)).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype) if bias else None
    return x, w, b


def _run(x, w, b, grad=None, conv=None, **kw):
    """Forward (and backward with upstream ``grad``) through cnnkit. Returns (y tensor, dx, dw, db,
    wino): ``wino`` is what the Winograd path kept, ``(plan, U, chunks)``, or None on im2col."""
    xt, wt = cnnkit.from_numpy(x).requires_grad_(), cnnkit.from_numpy(w).requires_grad_()
    bt = None if b is None else cnnkit.from_numpy(b).requires_grad_()
    y = conv(xt, wt, bt) if conv is not None else F.conv2d(xt, wt, bt, **kw)
    wino = y.creator.saved[1] if _is_winograd(y) else None  # read now: backward releases it
    if grad is not None:
        y.backward(grad)
    grads = [None if t is None or t.grad is None else t.grad.numpy() for t in (xt, wt, bt)]
    return y, *grads, wino


def _check_all(x, w, b, pads, y, dx, dw, db, grad, tol=TOL):
    _close(y.numpy(), _ref_forward(x, w, b, pads), tol, "forward")
    rdx, rdw, rdb = _ref_backward(x, w, grad, pads)
    _close(dx, rdx, tol, "dx")
    _close(dw, rdw, tol, "dw")
    if b is not None:
        _close(db, rdb, tol, "db")
    for a in (y.numpy(), dx, dw) + ((db,) if b is not None else ()):
        assert a.dtype == np.float32
