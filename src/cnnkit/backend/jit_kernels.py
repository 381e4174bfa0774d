"""Compiled 2-D kernels (numba) for im2col, col2im and max pooling, with implicit padding.

These are the fast paths of :mod:`cnnkit.ops.conv` and :mod:`cnnkit.ops.pool` for 2-D inputs;
the NumPy kernels in :mod:`cnnkit.backend.conv_kernels` stay the reference and the fallback.
Why compiled: the NumPy versions make one strided pass per kernel tap (25 for a 5×5 kernel) over
arrays of tens of MB, plus a padded copy of the input; a loop nest does each in one pass that
stays in cache per channel, skips the padding arithmetically, and releases the GIL, so a batch
is split over a few Python threads (NumPy's copies and ufuncs are single-threaded).

numba is optional: it is imported on the first call of :func:`available` (never by ``import
cnnkit``), kernels are compiled lazily with ``cache=True`` (the first call in a fresh install
compiles for a few seconds; later processes load the cache), and without numba, or with the
environment variable ``CNNKIT_JIT=0``, :func:`available` is False and the ops use NumPy.
"""

from __future__ import annotations

import math
import os
from typing import Callable, Optional

import numpy as np

from cnnkit.backend import parallel

_compiled: Optional[dict] = None  # name -> compiled kernel; {} when numba is unavailable
_MIN_SPLIT = 1 << 16  # elements of work below which one thread is faster than handing out
_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def available(*arrays: np.ndarray) -> bool:
    """Whether the compiled kernels can run on these arrays (numba present, float32/64)."""
    if _load() is None:
        return False
    return all(a.dtype in _DTYPES for a in arrays)


def _load() -> Optional[dict]:
    global _compiled
    if _compiled is None:
        if os.environ.get("CNNKIT_JIT", "1") == "0":
            _compiled = {}
        else:
            try:
                import numba
            except ImportError:
                _compiled = {}
            else:
                jit = numba.njit(cache=True, nogil=True, fastmath=False)
                _compiled = {name: jit(fn) for name, fn in _KERNELS.items()}
    return _compiled or None


def _run(name: str, total: int, work: int, *args, split: bool = True) -> None:
    """Call kernel ``name`` over ``range(total)``, in contiguous chunks on cnnkit's threads when
    ``split`` and there is enough ``work`` (elements) to pay for the hand-off."""
    kernel = _load()[name]
    if not split or work < _MIN_SPLIT:
        kernel(*args, 0, total)
        return
    parallel.split(lambda _, lo, hi: kernel(*args, lo, hi), parallel.chunks(total))


# --- pure-Python bodies (compiled by numba in _load) --------------------------------------------

def _im2col(x, cols, ph, pw, sh, sw, dh, dw, r0, r1):
    n_, _, h_, w_ = x.shape
    _, kh, kw, _, ho_, wo_ = cols.shape
    for r in range(r0, r1):
        c = r // (kh * kw)
        i = (r // kw) % kh
        j = r % kw
        # output columns whose input column lies inside the image (the rest read padding)
        lo = 0
        while lo < wo_ and lo * sw + j * dw - pw < 0:
            lo += 1
        hi = wo_
        while hi > lo and (hi - 1) * sw + j * dw - pw >= w_:
            hi -= 1
        for n in range(n_):
            for ho in range(ho_):
                h = ho * sh + i * dh - ph
                row = cols[c, i, j, n, ho]
                if h < 0 or h >= h_:
                    row[:] = 0
                    continue
                src = x[n, c, h]
                for wo in range(lo):
                    row[wo] = 0
                for wo in range(lo, hi):
                    row[wo] = src[wo * sw + j * dw - pw]
                for wo in range(hi, wo_):
                    row[wo] = 0


def _col2im(cols, grad, ph, pw, sh, sw, dh, dw, c0, c1):
    _, kh, kw, n_, ho_, wo_ = cols.shape
    _, _, h_, w_ = grad.shape
    for c in range(c0, c1):
        grad[c] = 0
        for i in range(kh):
            for j in range(kw):
                lo = 0
                while lo < wo_ and lo * sw + j * dw - pw < 0:
                    lo += 1
                hi = wo_
                while hi > lo and (hi - 1) * sw + j * dw - pw >= w_:
                    hi -= 1
                for n in range(n_):
                    for ho in range(ho_):
                        h = ho * sh + i * dh - ph
                        if h < 0 or h >= h_:
                            continue
                        src = cols[c, i, j, n, ho]
                        dst = grad[c, n, h]
                        for wo in range(lo, hi):
                            dst[wo * sw + j * dw - pw] += src[wo]


def _max_pool(x, best, winner, kh, kw, ph, pw, sh, sw, dh, dw, p0, p1):
    _, c_, h_, w_ = x.shape
    _, _, ho_, wo_ = best.shape
    # outputs whose whole window lies inside the image: [ha, hb) × [wa, wb), no bounds checks
    ha = 0
    while ha < ho_ and ha * sh - ph < 0:
        ha += 1
    hb = ho_
    while hb > ha and (hb - 1) * sh - ph + (kh - 1) * dh >= h_:
        hb -= 1
    wa = 0
    while wa < wo_ and wa * sw - pw < 0:
        wa += 1
    wb = wo_
    while wb > wa and (wb - 1) * sw - pw + (kw - 1) * dw >= w_:
        wb -= 1
    for p in range(p0, p1):
        n = p // c_
        c = p % c_
        xs = x[n, c]
        bs = best[n, c]
        ws = winner[n, c]
        for ho in range(ha, hb):
            h = ho * sh - ph
            for wo in range(wa, wb):
                w = wo * sw - pw
                value = xs[h, w]
                k = 0
                nan = False
                for i in range(kh):
                    for j in range(kw):
                        v = xs[h + i * dh, w + j * dw]
                        take = v > value  # strict: the first maximum wins (branch-free select)
                        value = v if take else value
                        k = i * kw + j if take else k
                        nan |= v != v
                if nan:  # NaN wins as in PyTorch: the first NaN of the window (rare, second pass)
                    for q in range(kh * kw - 1, -1, -1):
                        v = xs[h + (q // kw) * dh, w + (q % kw) * dw]
                        if v != v:
                            value = v
                            k = q
                bs[ho, wo] = value
                ws[ho, wo] = k
        for ho in range(ho_):
            border_row = ho < ha or ho >= hb
            for wo in range(wo_):
                if not border_row and wa <= wo < wb:
                    continue
                # a window that reaches into the padding: only taps inside the image compete
                found = False
                value = xs[0, 0]
                k = 0
                for i in range(kh):
                    h = ho * sh - ph + i * dh
                    if h < 0 or h >= h_:
                        continue
                    for j in range(kw):
                        w = wo * sw - pw + j * dw
                        if w < 0 or w >= w_:
                            continue
                        v = xs[h, w]
                        if not found or v > value or (v != v and value == value):
                            value = v
                            k = i * kw + j
                            found = True
                bs[ho, wo] = value if found else -np.inf
                ws[ho, wo] = k


def _max_pool_backward(grad_out, winner, grad, kw, ph, pw, sh, sw, dh, dw, p0, p1):
    _, c_, ho_, wo_ = grad_out.shape
    for p in range(p0, p1):
        n = p // c_
        c = p % c_
        grad[n, c] = 0
        for ho in range(ho_):
            for wo in range(wo_):
                k = winner[n, c, ho, wo]
                h = ho * sh - ph + (k // kw) * dh
                w = wo * sw - pw + (k % kw) * dw
                grad[n, c, h, w] += grad_out[n, c, ho, wo]


_KERNELS: dict = {"im2col": _im2col, "col2im": _col2im, "max_pool": _max_pool,
                  "max_pool_backward": _max_pool_backward}


# --- array-level entry points -------------------------------------------------------------------

def im2col2d(x: np.ndarray, kernel: tuple, stride: tuple, dilation: tuple, padding: tuple,
             out_shape: tuple, out: Optional[np.ndarray] = None, split: bool = True) -> np.ndarray:
    """:func:`conv_kernels.im2col` of the zero-padded ``x`` without padding it: ``(C·kh·kw, N·L)``.

    ``padding`` holds the leading pad of each axis (the trailing one only shows in ``out_shape``);
    ``split=False`` runs on this thread only (the caller already split the batch).
    """
    n, c = x.shape[:2]
    shape = (c, *kernel, n, *out_shape)
    cols = np.empty(shape, dtype=x.dtype) if out is None else out.reshape(shape)
    rows = c * kernel[0] * kernel[1]
    _run("im2col", rows, cols.size, x, cols, padding[0], padding[1], *stride, *dilation, split=split)
    return cols.reshape(rows, n * out_shape[0] * out_shape[1])


def col2im2d(dcols: np.ndarray, in_shape: tuple, kernel: tuple, stride: tuple, dilation: tuple,
             padding: tuple, out_shape: tuple, out: Optional[np.ndarray] = None,
             split: bool = True) -> np.ndarray:
    """Adjoint of :func:`im2col2d`: the ``(N, C, H, W)`` input gradient, padding cells dropped.

    Written channel-major into ``out`` (a ``(C, N, H, W)`` array or view) or a new buffer; the
    result is its NCHW view.
    """
    n, c = in_shape[:2]
    cols = dcols.reshape((c, *kernel, n, *out_shape))
    grad = np.empty((c, n, *in_shape[2:]), dtype=dcols.dtype) if out is None else out
    _run("col2im", c, cols.size, cols, grad, padding[0], padding[1], *stride, *dilation, split=split)
    return grad.swapaxes(0, 1)


def max_pool2d(x: np.ndarray, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple,
               out_shape: tuple, like: Callable) -> tuple:
    """Window maxima and, per output, the index ``i·kw + j`` of the first maximal tap."""
    n, c = x.shape[:2]
    shape = (n, c, *out_shape)
    best = like(shape, x.dtype)
    winner = like(shape, np.uint8 if math.prod(kernel) <= 256 else np.uint16)
    _run("max_pool", n * c, x.size, x, best, winner, *kernel, *padding, *stride, *dilation)
    return best, winner


def max_pool2d_backward(grad_out: np.ndarray, winner: np.ndarray, in_shape: tuple, kernel: tuple,
                        stride: tuple, padding: tuple, dilation: tuple, like: Callable) -> np.ndarray:
    """Route each output gradient to its window's winner (overlapping windows add up)."""
    grad = like(in_shape, grad_out.dtype)
    n, c = in_shape[:2]
    _run("max_pool_backward", n * c, grad.size, grad_out, winner, grad, kernel[1], *padding, *stride,
         *dilation)
    return grad
