"""Prototype convolutions without the 25x im2col matrix, for LeNet-5's two layers (research, not library code).

Candidates, each forward + input gradient + weight gradient (+ bias), float32, NCHW in/out:

* ``im2col``   plain NumPy reference (whole batch, one GEMM per product), also run in float64 as the truth;
* ``shifted``  "shifted GEMM": the padded input is laid out channel-major with images stacked and
               the zero gap between rows/images shared (width W+p, height H+p per image), flattened;
               output position q gets sum over the 25 taps t of W_t @ X[:, q + s_t] (s_t = i*(W+p) + j),
               i.e. 25 GEMMs over strided *views* (no column matrix), blocked over q to stay in L2;
               the dW and dX products are the same 25-tap sums with the roles exchanged;
* ``winograd`` Winograd F(m×m, 5×5) (m = 2 or 3): tile transforms as one GEMM with kron(Bᵀ, Bᵀ),
               the multiply stage as a batched matmul over the (m+4)² transform points, output
               transform with kron(Aᵀ, Aᵀ); backward is the exact adjoint of the same pipeline
               (dX through Uᵀ and the adjoint transforms, dW = Gᵀ (Σ dM Vᵀ) G).

Every candidate splits the batch over cnnkit's threads (cnnkit.backend.parallel, OpenBLAS pinned
to one thread), as cnnkit's own conv does. Timing: cnnkit's F.conv2d forward+backward and
torch.nn.functional.conv2d forward+backward are interleaved with the candidates in one process,
round by round (order rotates), median per-call time over rounds.

Run:  python benchmarks/proto_conv.py --threads 2 [--rounds 7] [--batch 128] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time


def _parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--min-time", type=float, default=0.25, help="seconds per timed repeat")
    p.add_argument("--only", default="", help="comma list of method names to time")
    p.add_argument("--json")
    return p.parse_args()


ARGS = _parse()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "CNNKIT_THREADS"):
    os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402

import cnnkit  # noqa: E402
from cnnkit.backend import parallel  # noqa: E402
from cnnkit.nn import functional as F  # noqa: E402

import torch  # noqa: E402

torch.set_num_threads(ARGS.threads)


# --- reference: plain im2col ------------------------------------------------------------------

def im2col_ref(x, w, b, gy, pad, need_dx=True):
    """Forward, dX, dW, db by plain NumPy im2col (whole batch); any float dtype."""
    n, c, h, wd = x.shape
    k, _, r, _ = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    ho, wo = h + 2 * pad - r + 1, wd + 2 * pad - r + 1
    win = np.lib.stride_tricks.sliding_window_view(xp, (r, r), axis=(2, 3))  # n c ho wo r r
    cols = np.ascontiguousarray(win.transpose(1, 4, 5, 0, 2, 3)).reshape(c * r * r, n * ho * wo)
    wm = w.reshape(k, -1)
    y = (wm @ cols).reshape(k, n, ho, wo).transpose(1, 0, 2, 3) + b.reshape(1, k, 1, 1)
    g = gy.transpose(1, 0, 2, 3).reshape(k, -1)
    dw = (g @ cols.T).reshape(w.shape)
    dcols = (wm.T @ g).reshape(c, r, r, n, ho, wo)
    dxp = np.zeros((c, n) + xp.shape[2:], x.dtype)
    for i in range(r):
        for j in range(r):
            dxp[:, :, i:i + ho, j:j + wo] += dcols[:, i, j]
    dx = dxp[:, :, pad:pad + h, pad:pad + wd].transpose(1, 0, 2, 3)
    return y, dx, dw, g.sum(1)


# --- shifted GEMM ---------------------------------------------------------------------------------

class Shifted:
    """Stride-1 'same' convolution (odd r, pad = (r-1)/2) as 25 GEMMs over shifted views."""

    name = "shifted"

    def __init__(self, block: int = 4096):
        self.block = block

    def __call__(self, x, w, b, gy, pad, need_dx=True):
        n, c, h, wd = x.shape
        k, _, r, _ = w.shape
        g = pad  # shared zero gap between rows and between images
        hh, ww = h + g, wd + g
        per = hh * ww
        shifts = [i * ww + j for i in range(r) for j in range(r)]
        smax = shifts[-1]
        L = n * per
        # input: (C, margin_front=0 | N*(H+g)*(W+g) | tail smax), data at [g:, g:] of each image block
        xf = np.zeros((c, L + smax + g * ww + g), x.dtype)
        xf[:, :L].reshape(c, n, hh, ww)[:, :, g:, g:] = x.transpose(1, 0, 2, 3)
        wt = np.ascontiguousarray(w.transpose(2, 3, 0, 1)).reshape(r * r, k, c)  # per tap (K, C)
        y = np.empty((k, L), x.dtype)
        # dY in the same grid (zeros where the grid has no output), with a front margin for dX
        front = smax
        gf = np.zeros((k, front + L), x.dtype)
        gf[:, front:].reshape(k, n, hh, ww)[:, :, :h, :wd] = gy.transpose(1, 0, 2, 3)
        dxf = np.empty((c, L), x.dtype) if need_dx else None
        parts = parallel.chunks(n)
        partial = [None] * len(parts)
        blk = self.block
        wtT = np.ascontiguousarray(wt.transpose(0, 2, 1))  # per tap (C, K)

        def part(idx, lo, hi):
            q0, q1 = lo * per, hi * per
            tmp = np.empty((k, blk), x.dtype)
            tmpx = np.empty((c, blk), x.dtype)
            acc = np.zeros((r * r, k, c), x.dtype)
            tw = np.empty((k, c), x.dtype)
            for a in range(q0, q1, blk):
                e = min(a + blk, q1)
                m = e - a
                yb = y[:, a:e]
                gb = gf[:, front + a:front + e]
                for t, s in enumerate(shifts):
                    xv = xf[:, a + s:e + s]
                    if t == 0:
                        np.matmul(wt[t], xv, out=yb)
                    else:
                        np.matmul(wt[t], xv, out=tmp[:, :m])
                        yb += tmp[:, :m]
                    np.matmul(gb, xv.T, out=tw)
                    acc[t] += tw
                if need_dx:
                    db_ = dxf[:, a:e]
                    for t, s in enumerate(shifts):
                        gv = gf[:, front + a - s:front + e - s]
                        if t == 0:
                            np.matmul(wtT[t], gv, out=db_)
                        else:
                            np.matmul(wtT[t], gv, out=tmpx[:, :m])
                            db_ += tmpx[:, :m]
            partial[idx] = acc

        parallel.split(part, parts)
        acc = partial[0]
        for p_ in partial[1:]:
            acc += p_
        y4 = y.reshape(k, n, hh, ww)[:, :, :h, :wd]
        y4 += b.reshape(k, 1, 1, 1)
        dw = np.ascontiguousarray(acc.reshape(r, r, k, c).transpose(2, 3, 0, 1))
        dx = None
        if need_dx:
            dx = dxf.reshape(c, n, hh, ww)[:, :, g:, g:].transpose(1, 0, 2, 3)
        db = gy.sum(axis=(0, 2, 3))
        return y4.transpose(1, 0, 2, 3), dx, dw, db


# --- Winograd -------------------------------------------------------------------------------------

def winograd_matrices(m: int, r: int, points):
    """Aᵀ (m×n), G (n×r), Bᵀ (n×n) of F(m, r) from n-1 finite points and ∞ (Toom-Cook); Bᵀ is
    solved from the bilinear identity Aᵀ[(G g) ⊙ (Bᵀ d)] = correlate(d, g) in float64."""
    n = m + r - 1
    a = np.array(points, dtype=np.float64)
    assert len(a) == n - 1
    AT = np.zeros((m, n))
    G = np.zeros((n, r))
    for kk in range(n - 1):
        AT[:, kk] = a[kk] ** np.arange(m)
        f = np.prod([a[kk] - a[l] for l in range(n - 1) if l != kk])
        G[kk] = a[kk] ** np.arange(r) / f
    AT[m - 1, n - 1] = 1.0
    G[n - 1, r - 1] = 1.0
    P = np.einsum("ik,kj->ijk", AT, G).reshape(m * r, n)  # P[(i,j), k]
    BT = np.zeros((n, n))
    for l in range(n):
        rhs = np.array([1.0 if i + j == l else 0.0 for i in range(m) for j in range(r)])
        sol, *_ = np.linalg.lstsq(P, rhs, rcond=None)
        assert np.abs(P @ sol - rhs).max() < 1e-9, "Winograd system not consistent"
        BT[:, l] = sol
    return AT, G, BT


POINTS = {2: [0, 1, -1, 2, -2], 3: [0, 1, -1, 2, -2, 0.5], 4: [0, 1, -1, 2, -2, 0.5, -0.5]}


class Winograd:
    def __init__(self, m: int):
        self.m = m
        self.name = f"winograd{m}"
        AT, G, BT = winograd_matrices(m, 5, POINTS[m])
        self.n = m + 4
        self.BB = np.kron(BT, BT).astype(np.float32)   # (n², n²): vec(Bᵀ d B) = BB vec(d)
        self.AA = np.kron(AT, AT).astype(np.float32)   # (m², n²)
        self.GG = np.kron(G, G)                          # (n², r²) float64, weights are tiny

    def __call__(self, x, w, b, gy, pad, need_dx=True):
        n_, c, h, wd = x.shape
        k, _, r, _ = w.shape
        m, n = self.m, self.n
        th, tw = -(-h // m), -(-wd // m)
        ext = ((th - 1) * m + n, (tw - 1) * m + n)
        U = (self.GG @ w.reshape(k * c, r * r).T.astype(np.float64)).astype(np.float32).reshape(n * n, k, c)
        UT = np.ascontiguousarray(U.transpose(0, 2, 1))
        y = np.empty((k, n_, h, wd), x.dtype)
        dx = np.empty((c, n_, h, wd), x.dtype) if need_dx else None
        parts = parallel.chunks(n_)
        partial = [None] * len(parts)
        BB, AA = self.BB, self.AA

        def part(idx, lo, hi):
            nb = hi - lo
            T = nb * th * tw
            xp = np.zeros((c, nb) + ext, x.dtype)
            xp[:, :, pad:pad + h, pad:pad + wd] = x[lo:hi].transpose(1, 0, 2, 3)
            s = xp.strides
            view = np.lib.stride_tricks.as_strided(
                xp, shape=(n, n, c, nb, th, tw), strides=(s[2], s[3], s[0], s[1], s[2] * m, s[3] * m),
                writeable=False)
            d = np.empty((n * n, c * T), x.dtype)
            np.copyto(d.reshape(view.shape), view)
            V = (BB @ d).reshape(n * n, c, T)
            M = np.matmul(U, V)                                        # (n², K, T)
            Y = (AA @ M.reshape(n * n, k * T)).reshape(m, m, k, nb, th, tw)
            full = Y.transpose(2, 3, 4, 0, 5, 1).reshape(k, nb, th * m, tw * m)
            y[:, lo:hi] = full[:, :, :h, :wd] + b.reshape(k, 1, 1, 1)
            # backward: dY tiles (m², K*T), adjoint of the output transform
            gt = np.zeros((k, nb, th * m, tw * m), x.dtype)
            gt[:, :, :h, :wd] = gy[lo:hi].transpose(1, 0, 2, 3)
            gtile = np.ascontiguousarray(gt.reshape(k, nb, th, m, tw, m).transpose(3, 5, 0, 1, 2, 4))
            dM = (AA.T @ gtile.reshape(m * m, k * T)).reshape(n * n, k, T)
            partial[idx] = np.matmul(dM, V.transpose(0, 2, 1))       # (n², K, C)
            if need_dx:
                dV = np.matmul(UT, dM)                                   # (n², C, T)
                # (tried: the inverse transform into a tile-major layout padded to (A·m)² taps and
                # A² folding adds: 36 vs 14 ms per 64 images, the transposed GEMM and the adds lose)
                dd = (BB.T @ dV.reshape(n * n, c * T)).reshape(n, n, c, nb, th, tw)
                gx = np.zeros((c, nb) + ext, x.dtype)
                for i in range(n):
                    for j in range(n):
                        gx[:, :, i:i + (th - 1) * m + 1:m, j:j + (tw - 1) * m + 1:m] += dd[i, j]
                dx[:, lo:hi] = gx[:, :, pad:pad + h, pad:pad + wd]

        parallel.split(part, parts)
        dU = partial[0]
        for p_ in partial[1:]:
            dU += p_
        dw = (self.GG.T @ dU.reshape(n * n, k * c).astype(np.float64)).T.reshape(k, c, r, r).astype(np.float32)
        db = gy.sum(axis=(0, 2, 3))
        return (y.transpose(1, 0, 2, 3), None if dx is None else dx.transpose(1, 0, 2, 3), dw, db)


# --- cnnkit and torch ------------------------------------------------------------------------------

def cnnkit_run(x, w, b, gy, pad, need_dx=True):
    xt = cnnkit.tensor(x, requires_grad=need_dx)
    wt = cnnkit.tensor(w, requires_grad=True)
    bt = cnnkit.tensor(b, requires_grad=True)
    out = F.conv2d(xt, wt, bt, padding=pad)
    out.backward(gy)
    return out.numpy(), (xt.grad.numpy() if need_dx else None), wt.grad.numpy(), bt.grad.numpy()


def torch_run(x, w, b, gy, pad, need_dx=True):
    xt = torch.from_numpy(x).requires_grad_(need_dx)
    wt = torch.from_numpy(w).requires_grad_(True)
    bt = torch.from_numpy(b).requires_grad_(True)
    out = torch.nn.functional.conv2d(xt, wt, bt, padding=pad)
    out.backward(torch.from_numpy(gy))
    return (out.detach().numpy(), xt.grad.numpy() if need_dx else None, wt.grad.numpy(), bt.grad.numpy())


# --- driver -------------------------------------------------------------------------------------------

LAYERS = [("conv1 1→20 28×28", 1, 20, 28, False), ("conv2 20→50 14×14", 20, 50, 14, True)]


def data(batch, c, k, hw, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, c, hw, hw)).astype(np.float32)
    bound = 1 / math.sqrt(c * 25)
    w = rng.uniform(-bound, bound, (k, c, 5, 5)).astype(np.float32)
    b = rng.uniform(-bound, bound, k).astype(np.float32)
    gy = (rng.standard_normal((batch, k, hw, hw)) / (batch * k)).astype(np.float32)
    return x, w, b, gy


def per_call(fn, min_time):
    fn()
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        el = time.perf_counter() - start
        if el >= min_time:
            return el / calls


def main() -> None:
    methods = {"im2col_np": im2col_ref, "shifted": Shifted(), "winograd2": Winograd(2),
               "winograd3": Winograd(3), "winograd4": Winograd(4), "cnnkit": cnnkit_run, "torch": torch_run}
    if ARGS.only:
        keep = ARGS.only.split(",")
        methods = {kk: v for kk, v in methods.items() if kk in keep}
    report = {"threads": ARGS.threads, "batch": ARGS.batch, "layers": {}}
    for li, (label, c, k, hw, need_dx) in enumerate(LAYERS):
        x, w, b, gy = data(ARGS.batch, c, k, hw, 10 + li)
        truth = im2col_ref(*(a.astype(np.float64) for a in (x, w, b, gy)), 2)
        ref32 = im2col_ref(x, w, b, gy, 2)
        errs = {}
        for name, fn in methods.items():
            got = fn(x, w, b, gy, 2, need_dx) if name != "im2col_np" else ref32
            row = {}
            for tag, gv, tv, rv in zip(("y", "dx", "dw", "db"), got, truth, ref32):
                if tag == "dx" and not need_dx:
                    continue
                row[tag] = {"vs_truth": float(np.abs(gv - tv).max()), "vs_im2col32": float(np.abs(gv - rv).max()),
                            "scale": float(np.abs(tv).max())}
            errs[name] = row
        times = {name: [] for name in methods}
        names = list(methods)
        for rd in range(ARGS.rounds):
            order = names[rd % len(names):] + names[:rd % len(names)]
            for name in order:
                fn = methods[name]
                times[name].append(per_call(lambda: fn(x, w, b, gy, 2, need_dx), ARGS.min_time))
        med = {name: statistics.median(t) * 1e3 for name, t in times.items()}
        report["layers"][label] = {"median_ms": med, "min_ms": {nm: min(t) * 1e3 for nm, t in times.items()},
                                   "errors": errs}
        print(f"\n{label}  (batch {ARGS.batch}, {ARGS.threads} thread(s), fwd+bwd{'' if need_dx else ' without dX'})")
        print(f"  {'method':10s} {'median ms':>9s} {'min ms':>8s}  {'err y':>8s} {'err dx':>8s} {'err dw':>8s}  (max abs vs float64 truth; scale y/dx/dw)")
        for name in names:
            e = errs[name]
            ex = f"{e['dx']['vs_truth']:.1e}" if "dx" in e else "-"
            print(f"  {name:10s} {med[name]:9.2f} {report['layers'][label]['min_ms'][name]:8.2f}  "
                  f"{e['y']['vs_truth']:.1e} {ex:>8s} {e['dw']['vs_truth']:.1e}  "
                  f"vs im2col32 y {e['y']['vs_im2col32']:.1e} dw {e['dw']['vs_im2col32']:.1e}")
        e = errs[names[0]]
        print("  scales:", {t: f"{v['scale']:.2g}" for t, v in e.items()})
    if ARGS.json:
        with open(ARGS.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
