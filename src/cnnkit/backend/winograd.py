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
import os
from typing import NamedTuple, Optional

import numpy as np

_compiled: Optional[dict] = None
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
    at: np.ndarray  # Aᵀ (m, α)
    bt: np.ndarray  # Bᵀ (α, α)
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
    return Plan(m, r, (math.ceil(ho / m), math.ceil(wo / m)), at.astype(np.float32), bt.astype(np.float32),
                np.kron(g, g))


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
    global _compiled
    if _compiled is None:
        _compiled = {}
        if os.environ.get("CNNKIT_JIT", "1") != "0":
            try:
                import numba
            except ImportError:
                pass
            else:
                jit = numba.njit(cache=True, nogil=True, fastmath=False)
                _compiled = {name: jit(fn) for name, fn in _KERNELS.items()}
    return _compiled or None


# --- pure-Python bodies (compiled by numba in _load) ----------------------------------------------
# The chunk's n images are the innermost axis of every array and every ``for s in range(n)`` loop
# is vectorised by LLVM. n is a runtime length on purpose: with a compile-time length LLVM unrolls
# the loop into scalar code (it cannot prove that the arrays do not overlap), while a runtime
# length gets a vector loop behind one overlap check. (A block axis for several blocks of images
# per call was tried and measured 2-3× slower: keep these loop nests as they are.)


def _input_transform(xt, bt, m, pad_top, pad_left, tiles_y, tiles_x, v):
    """v[a·α+b, c, t] = (Bᵀ d B)[a, b] for tile t of channel c, d read from xt with zero padding."""
    c_, h_, w_, n = xt.shape
    al = bt.shape[0]
    rows = np.empty((al, al, n), np.float32)  # Bᵀ d: rows transformed, columns not yet
    acc = np.empty(n, np.float32)
    for c in range(c_):
        for ty in range(tiles_y):
            for tx in range(tiles_x):
                rows[:, :, :] = 0
                for i in range(al):
                    y = ty * m + i - pad_top
                    if y < 0 or y >= h_:
                        continue
                    for j in range(al):
                        x = tx * m + j - pad_left
                        if x < 0 or x >= w_:
                            continue
                        for a in range(al):
                            f = bt[a, i]
                            if f != 0:
                                for s in range(n):
                                    rows[a, j, s] += f * xt[c, y, x, s]
                t0 = (ty * tiles_x + tx) * n
                for a in range(al):
                    for b in range(al):
                        acc[:] = 0
                        for j in range(al):
                            f = bt[b, j]
                            if f != 0:
                                for s in range(n):
                                    acc[s] += f * rows[a, j, s]
                        out = v[a * al + b, c]
                        for s in range(n):
                            out[t0 + s] = acc[s]


def _output_transform(mm, at, bias, tiles_y, tiles_x, yt):
    """yt[k, y, x, :] = (Aᵀ M A)[u, v] + bias[k] for the output pixels each tile covers."""
    k_, h_, w_, n = yt.shape
    m, al = at.shape
    cols = np.empty((m, al, n), np.float32)  # Aᵀ M: rows transformed
    acc = np.empty(n, np.float32)
    for k in range(k_):
        for ty in range(tiles_y):
            for tx in range(tiles_x):
                t0 = (ty * tiles_x + tx) * n
                cols[:, :, :] = 0
                for a in range(al):
                    for b in range(al):
                        src = mm[a * al + b, k]
                        for u in range(m):
                            f = at[u, a]
                            if f != 0:
                                for s in range(n):
                                    cols[u, b, s] += f * src[t0 + s]
                for u in range(m):
                    y = ty * m + u
                    if y >= h_:
                        break
                    for vv in range(m):
                        x = tx * m + vv
                        if x >= w_:
                            break
                        acc[:] = bias[k]
                        for b in range(al):
                            f = at[vv, b]
                            if f != 0:
                                for s in range(n):
                                    acc[s] += f * cols[u, b, s]
                        for s in range(n):
                            yt[k, y, x, s] = acc[s]


def _output_adjoint(gt, at, tiles_y, tiles_x, dmm):
    """dmm[a·α+b, k, t] = (A dy Aᵀ)[a, b] for tile t, dy read from gt (zero past the edge)."""
    k_, h_, w_, n = gt.shape
    m, al = at.shape
    rows = np.empty((m, al, n), np.float32)  # dy Aᵀ: columns transformed
    acc = np.empty(n, np.float32)
    for k in range(k_):
        for ty in range(tiles_y):
            for tx in range(tiles_x):
                t0 = (ty * tiles_x + tx) * n
                rows[:, :, :] = 0
                for u in range(m):
                    y = ty * m + u
                    if y >= h_:
                        break
                    for vv in range(m):
                        x = tx * m + vv
                        if x >= w_:
                            break
                        for b in range(al):
                            f = at[vv, b]
                            if f != 0:
                                for s in range(n):
                                    rows[u, b, s] += f * gt[k, y, x, s]
                for a in range(al):
                    for b in range(al):
                        acc[:] = 0
                        for u in range(m):
                            f = at[u, a]
                            if f != 0:
                                for s in range(n):
                                    acc[s] += f * rows[u, b, s]
                        out = dmm[a * al + b, k]
                        for s in range(n):
                            out[t0 + s] = acc[s]


def _input_adjoint(dv, bt, m, pad_top, pad_left, tiles_y, tiles_x, dxt):
    """dxt[c, y, x, :] = Σ (B dv Bᵀ)[i, j] over the tiles covering (y, x); dxt is written whole
    (a pixel no tile covers gets 0)."""
    c_, h_, w_, n = dxt.shape
    al = bt.shape[0]
    cols = np.empty((al, al, n), np.float32)  # dv Bᵀ: columns transformed
    acc = np.empty(n, np.float32)
    dxt[:, :, :, :] = 0
    for c in range(c_):
        for ty in range(tiles_y):
            for tx in range(tiles_x):
                t0 = (ty * tiles_x + tx) * n
                cols[:, :, :] = 0
                for a in range(al):
                    for b in range(al):
                        src = dv[a * al + b, c]
                        for j in range(al):
                            f = bt[b, j]
                            if f != 0:
                                for s in range(n):
                                    cols[a, j, s] += f * src[t0 + s]
                for i in range(al):
                    y = ty * m + i - pad_top
                    if y < 0 or y >= h_:
                        continue
                    for j in range(al):
                        x = tx * m + j - pad_left
                        if x < 0 or x >= w_:
                            continue
                        acc[:] = 0
                        for a in range(al):
                            f = bt[a, i]
                            if f != 0:
                                for s in range(n):
                                    acc[s] += f * cols[a, j, s]
                        for s in range(n):
                            dxt[c, y, x, s] += acc[s]


_KERNELS: dict = {"input_transform": _input_transform, "output_transform": _output_transform,
                  "output_adjoint": _output_adjoint, "input_adjoint": _input_adjoint}
