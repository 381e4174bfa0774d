"""Winograd minimal-filtering convolution F(m×m, r×r): transforms, tile choice and compiled kernels.

Why: the im2col path copies every input pixel r² times and multiplies r²·m² times per output tile;
Winograd's F(m×m, r×r) transforms each overlapping (m+r-1)² input tile once and multiplies only
α² = (m+r-1)² times per tile, so a 5×5 layer does 4.6× fewer multiply-adds at F(3×3) and a 3×3
layer 4× fewer at F(4×4). The element-wise product over the α² transform points becomes α² small
GEMMs (``np.matmul`` over a stack), which BLAS runs fast; the transforms are the compiled loop
nests below, each one pass over its arrays.

The transform matrices are built exactly (Toom-Cook, Lavin & Gray 2016) from the interpolation
points 0, ±1, ±2, ±½ and ∞: Aᵀ and G as Vandermonde rows, Bᵀ solved from the bilinear identity in
float64. In float32 the results differ from a direct correlation by about 1e-6 (F(4×4, 3×3)) to
5e-6 (F(3×3, 5×5)) of the output's scale, about 10× more than im2col's rounding, so the op uses this
path for float32 only; float64 (gradcheck, reference tests) always takes im2col.

Layout. The kernels work on batch-last arrays, the batch chunk's images being the innermost,
contiguous axis that LLVM vectorises: input ``xt`` (C, H, W, n), transformed tiles
``v`` (α², C, T) with ``t = (ty·tiles_x + tx)·n + image``, products ``mm`` (α², K, T), output
``yt`` (K, Ho, Wo, n). Padding is implicit (reads outside the image are skipped, as zeros).

Forward:  v = Bᵀ d B per tile;  mm[p] = U[p] @ v[p] with U = G w Gᵀ;  y = Aᵀ mm A + bias.
Backward (the exact adjoints):  dmm = A dy Aᵀ;  dU[p] = dmm[p] @ v[p]ᵀ, dw = Gᵀ dU G;
dv[p] = U[p]ᵀ @ dmm[p];  dx += B dv Bᵀ, overlapping tiles adding up.

numba is loaded as for :mod:`cnnkit.backend.jit_kernels` (lazily, ``cache=True``; without it, or
with ``CNNKIT_JIT=0``, :func:`plan` returns None and convolutions use im2col).
"""

from __future__ import annotations

import functools
import math
import threading
from typing import Any, NamedTuple, Optional

import numpy as np

from cnnkit.backend.jit_kernels import load_once

_compiled: Optional[dict] = None
_load_lock = threading.Lock()
# finite interpolation points by tile size α (α - 1 of them; the last point is ∞)
_POINTS = {4: (0, 1, -1), 5: (0, 1, -1, 2), 6: (0, 1, -1, 2, -2), 7: (0, 1, -1, 2, -2, 0.5)}
# output tile sizes tried per kernel size (α = m + r - 1 ≤ 7 keeps float32 error near 5e-6)
_TILES = {3: (2, 3, 4), 5: (2, 3)}
MIN_CHANNELS = 8  # fewer input channels: the transforms cost more than the GEMMs save (LeNet conv1)


class Plan(NamedTuple):
    """How one convolution runs on Winograd: tile size and the float32 transform matrices."""

    m: int  # output tile side
    r: int  # kernel side
    tiles: tuple  # (tiles_y, tiles_x) over the output
    padded: tuple  # (rows, columns) of the zero-padded input that the tiles read
    at: np.ndarray  # Aᵀ (m, α)
    bt: np.ndarray  # Bᵀ (α, α)
    a: np.ndarray  # A (α, m), for the output transform's adjoint
    b: np.ndarray  # B (α, α), for the input transform's adjoint
    gg: np.ndarray  # kron(G, G) (α², r²), float64


@functools.lru_cache(maxsize=None)
def matrices(m: int, r: int) -> tuple:
    """Aᵀ (m×α), G (α×r), Bᵀ (α×α) of F(m, r) in float64, α = m + r - 1.

    Example:
        >>> at, g, bt = matrices(2, 3)
        >>> d, k = np.arange(4.0), np.array([1.0, 2.0, 3.0])
        >>> np.allclose(at @ ((g @ k) * (bt @ d)), np.correlate(d, k, "valid"))
        True
    """
    n = m + r - 1
    points = np.array(_POINTS[n], dtype=np.float64)
    at = np.zeros((m, n))
    g = np.zeros((n, r))
    for k, p in enumerate(points):
        at[:, k] = p ** np.arange(m)
        g[k] = p ** np.arange(r) / np.prod([p - q for q in points if q != p])
    at[m - 1, n - 1] = 1.0  # the point at infinity: leading coefficients
    g[n - 1, r - 1] = 1.0
    # Bᵀ from Σ_k Aᵀ[i,k] G[k,j] Bᵀ[k,l] = [i + j == l] for all i < m, j < r, l < α
    products = np.einsum("ik,kj->ijk", at, g).reshape(m * r, n)
    target = np.array([[1.0 if i + j == l else 0.0 for l in range(n)] for i in range(m) for j in range(r)])
    bt = np.linalg.solve(products.T @ products, products.T @ target)
    if np.abs(products @ bt - target).max() > 1e-9:  # pragma: no cover - fixed point sets
        raise ArithmeticError(f"Winograd F({m}, {r}) transform is inconsistent")
    return at, g, bt


def plan(x: np.ndarray, w: np.ndarray, out_shape: tuple, stride: tuple, dilation: tuple, groups: int) -> Optional[Plan]:
    """The Winograd plan for this float32 2-D convolution, or None where im2col is the better
    (or the only exact) choice: other dtypes, strides, dilations, groups, kernel sizes, few input
    channels, or numba missing."""
    if (x.dtype != np.float32 or w.dtype != np.float32 or x.ndim != 4 or groups != 1
            or stride != (1, 1) or dilation != (1, 1)):
        return None
    r = w.shape[2]
    if w.shape[3] != r or r not in _TILES or w.shape[1] < MIN_CHANNELS or min(out_shape) < 2:
        return None
    if _load() is None:
        return None
    ho, wo = out_shape
    # the tile that needs the fewest transform points for this output (ties: the smaller tile)
    m = min(_TILES[r], key=lambda m: (math.ceil(ho / m) * math.ceil(wo / m) * (m + r - 1) ** 2, m))
    at, g, bt = matrices(m, r)
    tiles = (math.ceil(ho / m), math.ceil(wo / m))
    at, bt = at.astype(np.float32), bt.astype(np.float32)
    return Plan(m, r, tiles, (tiles[0] * m + r - 1, tiles[1] * m + r - 1), at, bt, np.ascontiguousarray(at.T),
                np.ascontiguousarray(bt.T), np.kron(g, g))


_SAFE = 1e30  # bound on ‖a‖·‖b‖·(terms per output): the transforms' intermediates stay far below float32's max


def in_range(a: np.ndarray, others: tuple, terms: int) -> bool:
    """Whether Winograd may multiply ``a`` with each array of ``others`` (an input with the kernel;
    a gradient with the transformed kernel and with the input): every value finite, and
    ‖a‖₂·‖o‖₂·terms ≤ 1e30 for each (max|·| ≤ ‖·‖₂), so that the transforms, which scale values by
    up to ~10⁶, cannot overflow.

    Why: the transforms mix each tile's values with coefficients of both signs, so one ``inf``
    becomes NaN over whole tiles (im2col and PyTorch give ``inf`` over its receptive field only),
    and values near 1e37 overflow where the exact result does not. Such calls take im2col instead,
    which is exact. The check is a BLAS dot product per array (about 0.1 ms per million values).
    """
    norms = []
    for arr in (a, *others):
        flat = np.ravel(arr, order="K")  # a view for the usual (permuted-)contiguous layouts
        square = float(np.dot(flat, flat))  # inf or NaN if any value is, or if it overflows
        if not math.isfinite(square):
            return False
        norms.append(math.sqrt(square))
    return all(norms[0] * other * terms <= _SAFE for other in norms[1:])


def transform_weight(plan_: Plan, w: np.ndarray) -> np.ndarray:
    """U = G w Gᵀ for every (out, in) channel pair: (α², C_out, C_in), float32."""
    c_out, c_in = w.shape[:2]
    u = plan_.gg @ w.reshape(c_out * c_in, -1).T.astype(np.float64)
    return u.astype(np.float32).reshape(-1, c_out, c_in)


def weight_grad(plan_: Plan, du: np.ndarray) -> np.ndarray:
    """dw = Gᵀ dU G from dU (α², C_out, C_in): (C_out, C_in, r, r), float32."""
    _, c_out, c_in = du.shape
    dw = plan_.gg.T @ du.reshape(du.shape[0], -1).astype(np.float64)
    return np.ascontiguousarray(dw.T.astype(np.float32)).reshape(c_out, c_in, plan_.r, plan_.r)


def kernel(name: str):
    """The compiled kernel ``name`` (after :func:`plan` returned a plan, numba is loaded)."""
    return _load()[name]


def _load() -> Optional[dict]:
    return load_once(globals(), _compile)


def _compile(numba: Any) -> dict:
    # the bodies are compiled first and bound to their module names, where the kernels look them
    # up when they compile: inlined once per tile size with literal loop lengths (see below).
    # "contract" lets LLVM fuse a*b+c into one FMA (NaN-safe).
    options = dict(cache=True, nogil=True, fastmath={"contract"})
    for name, body in _BODIES.items():
        globals()[name] = numba.njit(inline="always", **options)(body)
    return {name: numba.njit(**options)(fn) for name, fn in _KERNELS.items()}


# --- pure-Python bodies (compiled by numba in _load) ----------------------------------------------
# The chunk's n images are the innermost axis of every array, and each ``for s in range(n)`` loop
# is vectorised by LLVM: its body sums a few terms into a register, which needs the inner loop
# lengths to be compile-time constants. So each kernel calls its body once per supported
# (α, tile side) with literal sizes; the body is inlined there and LLVM unrolls the inner sums (4-5×
# faster than runtime lengths, where every term is a load and a store of the partial sum). Planes
# are zero-padded so that every tile reads and writes in bounds: no checks in the loops. Each kernel
# does the channels [c0, c1) (input channels, or output channels for the output side), so that one
# chunk of images can also be shared out over threads by channel.
#
# Two kernels serve the four transforms, as each transform's adjoint is the same loop nest with
# the transposed matrix:  to_points — the input transform (L = Bᵀ, α×α tiles) and the adjoint of
# the output transform (L = A, m×m tiles);  from_points — the output transform (R = Aᵀ, m×m tiles,
# written, plus the bias) and the adjoint of the input transform (R = B, α×α tiles, added up where
# they overlap).

def _to_points(plane, lt, step, tiles_y, tiles_x, points, c0, c1):
    """points[a·α+b, c, t] = Σ_ij L[a,i]·L[b,j]·plane[c, ty·step+i, tx·step+j, :] for each tile t."""
    al, size = lt.shape
    if al == 7 and size == 7:  # F(3×3, 5×5)
        _to_points_body(plane, lt, step, tiles_y, tiles_x, points, c0, c1, 7, 7)
    elif al == 7 and size == 3:
        _to_points_body(plane, lt, step, tiles_y, tiles_x, points, c0, c1, 7, 3)
    elif al == 6 and size == 6:  # F(4×4, 3×3)
        _to_points_body(plane, lt, step, tiles_y, tiles_x, points, c0, c1, 6, 6)
    elif al == 6 and size == 4:
        _to_points_body(plane, lt, step, tiles_y, tiles_x, points, c0, c1, 6, 4)
    else:
        _to_points_body(plane, lt, step, tiles_y, tiles_x, points, c0, c1, al, size)


def _to_points_body(plane, lt, step, tiles_y, tiles_x, points, c0, c1, al, size):
    n = plane.shape[3]
    rows = np.empty((al, size, n), np.float32)  # L·tile: rows transformed, columns not yet
    for c in range(c0, c1):
        for ty in range(tiles_y):
            for tx in range(tiles_x):
                y0 = ty * step
                x0 = tx * step
                for j in range(size):
                    for a in range(al):
                        for s in range(n):
                            acc = np.float32(0)
                            for i in range(size):
                                acc += lt[a, i] * plane[c, y0 + i, x0 + j, s]
                            rows[a, j, s] = acc
                t0 = (ty * tiles_x + tx) * n
                for a in range(al):
                    for b in range(al):
                        out = points[a * al + b, c]
                        for s in range(n):
                            acc = np.float32(0)
                            for j in range(size):
                                acc += lt[b, j] * rows[a, j, s]
                            out[t0 + s] = acc


def _from_points(points, rt, step, tiles_y, tiles_x, plane, bias, add, c0, c1):
    """plane[c, ty·step+i, tx·step+j, :] = bias[c] + Σ_ab R[i,a]·R[j,b]·points[a·α+b, c, t] for
    each tile t, or ``add`` it to what is there (overlapping tiles then sum up)."""
    size, al = rt.shape
    if al == 7 and size == 3:  # F(3×3, 5×5)
        _from_points_body(points, rt, step, tiles_y, tiles_x, plane, bias, add, c0, c1, 7, 3)
    elif al == 7 and size == 7:
        _from_points_body(points, rt, step, tiles_y, tiles_x, plane, bias, add, c0, c1, 7, 7)
    elif al == 6 and size == 4:  # F(4×4, 3×3)
        _from_points_body(points, rt, step, tiles_y, tiles_x, plane, bias, add, c0, c1, 6, 4)
    elif al == 6 and size == 6:
        _from_points_body(points, rt, step, tiles_y, tiles_x, plane, bias, add, c0, c1, 6, 6)
    else:
        _from_points_body(points, rt, step, tiles_y, tiles_x, plane, bias, add, c0, c1, al, size)


def _from_points_body(points, rt, step, tiles_y, tiles_x, plane, bias, add, c0, c1, al, size):
    n = plane.shape[3]
    cols = np.empty((size, al, n), np.float32)  # R·points: rows transformed
    for c in range(c0, c1):
        if add:
            plane[c] = 0
        for ty in range(tiles_y):
            for tx in range(tiles_x):
                t0 = (ty * tiles_x + tx) * n
                for i in range(size):
                    for b in range(al):
                        for s in range(n):
                            acc = np.float32(0)
                            for a in range(al):
                                acc += rt[i, a] * points[a * al + b, c, t0 + s]
                            cols[i, b, s] = acc
                for i in range(size):
                    for j in range(size):
                        dst = plane[c, ty * step + i, tx * step + j]
                        for s in range(n):
                            acc = bias[c]
                            for b in range(al):
                                acc += rt[j, b] * cols[i, b, s]
                            if add:
                                dst[s] += acc
                            else:
                                dst[s] = acc


_BODIES: dict = {"_to_points_body": _to_points_body, "_from_points_body": _from_points_body}
_KERNELS: dict = {"to_points": _to_points, "from_points": _from_points}
