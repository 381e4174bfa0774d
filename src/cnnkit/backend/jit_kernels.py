"""Compiled 2-D max-pooling kernels (numba), with implicit padding and winner indices.

The fast path of :class:`cnnkit.ops.pool.MaxPoolNd` for 2-D float inputs; the NumPy code in
ops/pool.py stays the reference and the fallback. Why compiled: the NumPy fast path makes five
passes per window tap (compare, three to update the winner, maximum) plus a padded copy; a loop
nest does one pass per plane, skips the padding arithmetically, and releases the GIL, so the
planes are split over cnnkit's threads (:mod:`cnnkit.backend.parallel`). (im2col and col2im
were tried here too and lost to NumPy's block copies: 1.6–2.3× slower at VGG sizes.)

numba is optional: it is imported on the first call of :func:`available` (never by ``import
cnnkit``), kernels are compiled lazily with ``cache=True`` (the first call in a fresh install
compiles for a few seconds; later processes load the cache), and without numba, or with the
environment variable ``CNNKIT_JIT=0``, :func:`available` is False and the ops use NumPy.
"""

from __future__ import annotations

import math
import os
import threading
from typing import Any, Callable, Optional

import numpy as np

from cnnkit.backend import parallel

_compiled: Optional[dict] = None  # name -> compiled kernel; {} when numba is unavailable
_load_lock = threading.Lock()
_MIN_SPLIT = 1 << 16  # elements of work below which one thread is faster than handing out
_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def available(*arrays: np.ndarray) -> bool:
    """Whether the compiled kernels can run on these arrays (numba present, float32/64)."""
    if _load() is None:
        return False
    return all(a.dtype in _DTYPES for a in arrays)


def _load() -> Optional[dict]:
    return load_once(globals(), _compile)


def load_once(module: dict, build: Callable[[Any], dict]) -> Optional[dict]:
    """The kernel table ``module["_compiled"]`` of a kernel module (given its ``globals()``), built
    on first use by ``build(numba)`` under ``module["_load_lock"]`` so that other threads see the
    whole table or wait for it; ``{}`` (returned as None) without numba or with ``CNNKIT_JIT=0``."""
    if module["_compiled"] is None:
        with module["_load_lock"]:
            if module["_compiled"] is None:
                numba = None
                if os.environ.get("CNNKIT_JIT", "1") != "0":
                    try:
                        import numba
                    except ImportError:
                        numba = None
                module["_compiled"] = {} if numba is None else build(numba)
    return module["_compiled"] or None


def _compile(numba: Any) -> dict:
    # the helpers are compiled first and bound to their module names, where the kernels look them
    # up when they compile (inlined: _interior is called per window)
    for name, helper in (("_interior", _interior_py), ("_inside", _inside_py), ("_plane", _plane_py)):
        globals()[name] = numba.njit(cache=True, nogil=True, inline="always")(helper)
    jit = numba.njit(cache=True, nogil=True)
    compiled = {name: jit(fn) for name, fn in _KERNELS.items()}
    # a NumPy ufunc (any strides and layout, GIL released): one pass instead of NumPy's compare,
    # multiply and finiteness check
    compiled["relu_grad"] = numba.vectorize(["float32(float32, float32)", "float64(float64, float64)"],
                                            nopython=True, cache=True)(_relu_grad)
    # sums in float64 may be reordered ("reassoc") so that LLVM vectorises them
    sums = numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
    compiled.update(batch_norm=sums(_batch_norm), batch_norm_backward=sums(_batch_norm_backward))
    return compiled


def _relu_grad(grad, out):
    """ReLU's gradient given its output: the incoming gradient where the output is positive,
    else 0 (also where the gradient is inf or NaN: ``np.where`` semantics, as in PyTorch)."""
    return grad if out > 0 else 0


def relu_grad(grad_out: np.ndarray, out: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """:func:`_relu_grad` element-wise into ``dst`` (same shapes, float32 or float64)."""
    with np.errstate(invalid="ignore"):  # comparing a NaN output with 0 is expected, not an error
        return _load()["relu_grad"](grad_out, out, out=dst)


def _batch_norm(rows, weight, bias, eps, xhat, out, mean, var, inverse, c0, c1):
    """Per channel row of ``rows`` (C, M): mean and biased variance (two float64 passes, the row
    then in cache), then x̂ = (x − mean)/√(var + eps) and, with an affine, out = x̂·γ + β."""
    count = rows.shape[1]
    affine = weight.size > 0
    for c in range(c0, c1):
        r = rows[c]
        total = 0.0
        for j in range(count):
            total += r[j]
        mu = total / count
        squares = 0.0
        for j in range(count):
            d = r[j] - mu
            squares += d * d
        mean[c] = mu
        var[c] = squares / count
        inverse[c] = 1 / np.sqrt(var[c] + eps)
        m = mean[c]  # in the arrays' dtype from here on, as the NumPy path computes
        inv = inverse[c]
        xh = xhat[c]
        for j in range(count):
            xh[j] = (r[j] - m) * inv
        if affine:
            o = out[c]
            w = weight[c]
            b = bias[c]
            for j in range(count):
                o[j] = xh[j] * w + b


def _batch_norm_backward(g, xhat, inv, weight, count, gx, gb, gw, c0, c1):
    """Per channel row: Σg and Σg·x̂ (float64), then, when ``gx`` has rows, the input gradient
    inv·γ·(g − (x̂·Σg·x̂ + Σg)/M), one pass."""
    m = g.shape[1]
    for c in range(c0, c1):
        gr = g[c]
        xr = xhat[c]
        sg = 0.0
        sgx = 0.0
        for j in range(m):
            sg += gr[j]
            sgx += gr[j] * xr[j]
        gb[c] = sg
        gw[c] = sgx
        if gx.shape[0] > 0:
            scale = inv[c] * weight[c] if weight.size > 0 else inv[c]
            a = scale * gw[c] / count
            b = scale * gb[c] / count
            out = gx[c]
            for j in range(m):
                out[j] = gr[j] * scale - (xr[j] * a + b)


def batch_norm(rows: np.ndarray, weight: Optional[np.ndarray], bias: Optional[np.ndarray], eps: float,
               xhat: np.ndarray, out: np.ndarray, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
    """:func:`_batch_norm` over every row (C-contiguous, at least one column), blocks of rows on
    cnnkit's threads; returns 1/√(var + eps) per row."""
    t = rows.dtype.type
    empty = np.empty(0, rows.dtype)
    inverse = np.empty(rows.shape[0], rows.dtype)
    _run("batch_norm", rows.shape[0], rows.size, rows, empty if weight is None else weight,
         empty if bias is None else bias, t(eps), xhat, out, mean, var, inverse)
    return inverse


def batch_norm_backward(g: np.ndarray, xhat: np.ndarray, inv: np.ndarray, weight: Optional[np.ndarray],
                        gx: Optional[np.ndarray], gb: np.ndarray, gw: np.ndarray) -> None:
    """:func:`_batch_norm_backward` over every row (``gx`` None: only the two sums)."""
    t = g.dtype.type
    empty = np.empty(0, g.dtype)
    _run("batch_norm_backward", g.shape[0], g.size, g, xhat, inv, empty if weight is None else weight,
         t(g.shape[1]), np.empty((0, 0), g.dtype) if gx is None else gx, gb, gw)


def _run(name: str, total: int, work: int, *args, split: bool = True) -> None:
    """Call kernel ``name`` over ``range(total)``, in contiguous chunks on cnnkit's threads when
    ``split`` and there is enough ``work`` (elements) to pay for the hand-off."""
    kernel = _load()[name]
    if not split or work < _MIN_SPLIT:
        kernel(*args, 0, total)
        return
    parallel.split(lambda _, lo, hi: kernel(*args, lo, hi), parallel.chunks(total))


# --- pure-Python bodies (compiled by numba in _load) --------------------------------------------

def _interior(xs, bs, ws, h, w, ho, wo, kh, kw, dh, dw):
    """One window that lies wholly inside the plane ``xs``: no bounds checks."""
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
    if nan:  # NaN wins, as in PyTorch; of several, the first (PyTorch's CPU kernel: the last)
        for q in range(kh * kw - 1, -1, -1):
            v = xs[h + (q // kw) * dh, w + (q % kw) * dw]
            if v != v:
                value = v
                k = q
    bs[ho, wo] = value
    ws[ho, wo] = k


def _plane(p, n_, c_, channel_major):
    """(image, channel) of the p-th plane, counting in memory order: channel by channel for a
    channel-major (CNHW) buffer such as a conv output, else image by image."""
    if channel_major:
        return p % n_, p // n_
    return p // c_, p % c_


def _inside(n_out, stride, pad, kernel, dilation, size):
    """The outputs [a, b) along one axis whose window lies wholly inside the input."""
    a = 0
    while a < n_out and a * stride - pad < 0:
        a += 1
    b = n_out
    while b > a and (b - 1) * stride - pad + (kernel - 1) * dilation >= size:
        b -= 1
    return a, b


def _max_pool(x, best, winner, kh, kw, ph, pw, sh, sw, dh, dw, channel_major, p0, p1):
    n_, c_, h_, w_ = x.shape
    _, _, ho_, wo_ = best.shape
    # outputs whose whole window lies inside the image: [ha, hb) × [wa, wb), no bounds checks
    ha, hb = _inside(ho_, sh, ph, kh, dh, h_)
    wa, wb = _inside(wo_, sw, pw, kw, dw, w_)
    for p in range(p0, p1):
        n, c = _plane(p, n_, c_, channel_major)
        xs = x[n, c]
        bs = best[n, c]
        ws = winner[n, c]
        # LLVM unrolls and vectorises the window loops when their lengths are literals, so the
        # common 2×2 and 3×3 windows get their own copy of the loop (4× faster than runtime kh, kw).
        if kh == 2 and kw == 2:
            for ho in range(ha, hb):
                for wo in range(wa, wb):
                    _interior(xs, bs, ws, ho * sh - ph, wo * sw - pw, ho, wo, 2, 2, dh, dw)
        elif kh == 3 and kw == 3:
            for ho in range(ha, hb):
                for wo in range(wa, wb):
                    _interior(xs, bs, ws, ho * sh - ph, wo * sw - pw, ho, wo, 3, 3, dh, dw)
        else:
            for ho in range(ha, hb):
                for wo in range(wa, wb):
                    _interior(xs, bs, ws, ho * sh - ph, wo * sw - pw, ho, wo, kh, kw, dh, dw)
        for ho in range(ho_):
            border_row = ho < ha or ho >= hb
            for wo in range(wo_):
                if not border_row and wa <= wo < wb:
                    continue
                # a window that reaches into the padding: only taps inside the image compete
                found = False
                value = bs[ho, wo]  # only sets the type (never read unless found): xs may be empty
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


def _max_pool_backward(grad_out, winner, grad, kh, kw, ph, pw, sh, sw, dh, dw, channel_major, p0, p1):
    n_, c_, ho_, wo_ = grad_out.shape
    _, _, h_, w_ = grad.shape
    # input offsets of each tap, looked up per output (an integer division per output is slower)
    dy = np.empty(kh * kw, np.int64)
    dx = np.empty(kh * kw, np.int64)
    for q in range(kh * kw):
        dy[q] = (q // kw) * dh - ph
        dx[q] = (q % kw) * dw - pw
    for p in range(p0, p1):
        n, c = _plane(p, n_, c_, channel_major)
        gs = grad[n, c]
        go = grad_out[n, c]
        ws = winner[n, c]
        gs[:, :] = 0
        if ph == 0 and pw == 0:  # every window starts inside the image: its winner is there
            for ho in range(ho_):
                for wo in range(wo_):
                    k = ws[ho, wo]
                    gs[ho * sh + dy[k], wo * sw + dx[k]] += go[ho, wo]
            continue
        for ho in range(ho_):
            for wo in range(wo_):
                k = ws[ho, wo]
                h = ho * sh + dy[k]
                w = wo * sw + dx[k]
                # a window wholly in the padding (with dilation or ceil_mode, or an empty plane)
                # has no winner in the image: its gradient is dropped, as in PyTorch (numba does
                # not check bounds, and a negative index would wrap to the other edge)
                if 0 <= h < h_ and 0 <= w < w_:
                    gs[h, w] += go[ho, wo]


def _max_pool_2x2(x, best, winner, channel_major, p0, p1):
    """The common 2×2, stride-2, unpadded pooling: same results as :func:`_max_pool`, written
    per row of outputs with branch-free selects so that LLVM vectorises it (3× faster). Planes
    are visited in memory order (``channel_major`` for a conv output's CNHW buffer)."""
    n_, c_, _, _ = x.shape
    _, _, ho_, wo_ = best.shape
    for p in range(p0, p1):
        n, c = _plane(p, n_, c_, channel_major)
        xs = x[n, c]
        bs = best[n, c]
        ws = winner[n, c]
        for ho in range(ho_):
            r0 = xs[2 * ho]
            r1 = xs[2 * ho + 1]
            br = bs[ho]
            wr = ws[ho]
            nan = False
            for wo in range(wo_):
                a = r0[2 * wo]
                b = r0[2 * wo + 1]
                c = r1[2 * wo]
                d = r1[2 * wo + 1]
                value = a
                k = 0
                k = 1 if b > value else k  # strict: the first maximum wins
                value = b if b > value else value
                k = 2 if c > value else k
                value = c if c > value else value
                k = 3 if d > value else k
                value = d if d > value else value
                br[wo] = value
                wr[wo] = k
                nan |= (a != a) | (b != b) | (c != c) | (d != d)
            if nan:  # NaN wins, as in PyTorch; of several, the first (PyTorch's CPU kernel: the last)
                for wo in range(wo_):
                    for q in range(3, -1, -1):
                        v = xs[2 * ho + q // 2, 2 * wo + q % 2]
                        if v != v:
                            br[wo] = v
                            wr[wo] = q


_interior_py = _interior
_inside_py = _inside
_plane_py = _plane
_KERNELS: dict = {"max_pool": _max_pool, "max_pool_backward": _max_pool_backward,
                  "max_pool_2x2": _max_pool_2x2}


# --- array-level entry points -------------------------------------------------------------------

def max_pool2d(x: np.ndarray, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple,
               out_shape: tuple, like: Callable) -> tuple:
    """Window maxima and, per output, the index ``i·kw + j`` of the first maximal tap."""
    n, c = x.shape[:2]
    shape = (n, c, *out_shape)
    best = like(shape, x.dtype)
    winner = like(shape, np.uint8 if math.prod(kernel) <= 256 else np.uint16)
    if _is_2x2(x.shape, kernel, stride, padding, dilation, out_shape):
        _run("max_pool_2x2", n * c, x.size, x, best, winner, _channel_major(x))
    else:
        _run("max_pool", n * c, x.size, x, best, winner, *kernel, *padding, *stride, *dilation,
             _channel_major(x))
    return best, winner


def _channel_major(a: np.ndarray) -> bool:
    """Whether the planes of ``a`` lie channel by channel in memory (a conv output's CNHW buffer)."""
    return abs(a.strides[1]) > abs(a.strides[0])


def _is_2x2(in_shape: tuple, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple, out_shape: tuple) -> bool:
    """Whether the specialised 2×2 kernels apply: 2×2 windows, stride 2, every window inside."""
    return (tuple(kernel) == (2, 2) and tuple(stride) == (2, 2) and tuple(padding) == (0, 0)
            and tuple(dilation) == (1, 1) and tuple(out_shape) == (in_shape[2] // 2, in_shape[3] // 2))


def max_pool2d_backward(grad_out: np.ndarray, winner: np.ndarray, in_shape: tuple, kernel: tuple,
                        stride: tuple, padding: tuple, dilation: tuple, like: Callable) -> np.ndarray:
    """Route each output gradient to its window's winner (overlapping windows add up)."""
    grad = like(in_shape, grad_out.dtype)
    n, c = in_shape[:2]
    # (a 2×2 variant writing each pixel once with selects was measured 2.5× slower than this)
    _run("max_pool_backward", n * c, grad.size, grad_out, winner, grad, *kernel, *padding, *stride,
         *dilation, _channel_major(grad))
    return grad
