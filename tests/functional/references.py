"""Independent reference implementations for the functional tests.

Everything here is plain NumPy / ``math`` with explicit Python loops over output positions
(or elements), written from the textbook / PyTorch-documentation definitions. Nothing in this
module imports or calls cnnkit, so a shared mistake between cnnkit and these references would
have to be made twice, independently.

All references compute in float64 and return float64 arrays (or Python floats).
"""

from __future__ import annotations

import inspect
import itertools
import math
from typing import Optional, Sequence

import numpy as np

# ----------------------------------------------------------------------------- helpers


def _tuple(value, n):
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * n


def _source_index(i: int, n: int, lo: int, mode: str) -> Optional[int]:
    """Which input index the padded index ``i`` (0-based in the padded axis) reads, or None (zero)."""
    j = i - lo
    if 0 <= j < n:
        return j
    if mode == "zeros":
        return None
    if mode == "replicate":
        return 0 if j < 0 else n - 1
    if mode == "circular":
        return j % n
    if mode == "reflect":  # mirror without repeating the edge: ... 2 1 | 0 1 2 ... n-1 | n-2 ...
        period = 2 * (n - 1)
        j = abs(j) % period
        return j if j < n else period - j
    raise ValueError(mode)


def pad_ref(x: np.ndarray, pads: Sequence[tuple], mode: str = "zeros", fill: float = 0.0) -> np.ndarray:
    """Pad the trailing ``len(pads)`` axes of ``x`` by ``(lo, hi)`` pairs, one padded cell at a time."""
    out = np.asarray(x, dtype=np.float64)
    lead = out.ndim - len(pads)
    for k, (lo, hi) in enumerate(pads):
        axis = lead + k
        n = out.shape[axis]
        shape = list(out.shape)
        shape[axis] = n + lo + hi
        new = np.full(shape, fill, dtype=np.float64)
        for i in range(n + lo + hi):
            src = _source_index(i, n, lo, mode)
            if src is None:
                continue
            dst_idx = [slice(None)] * out.ndim
            src_idx = [slice(None)] * out.ndim
            dst_idx[axis] = i
            src_idx[axis] = src
            new[tuple(dst_idx)] = out[tuple(src_idx)]
        out = new
    return out


def tf_same_pads(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple:
    """TensorFlow's 'same': output ceil(size/stride); total pad split with the extra cell after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + dilation * (kernel - 1) + 1 - size, 0)
    return (total // 2, total - total // 2)


def resolve_conv_pads(padding, spatial, kernel, stride, dilation) -> tuple:
    nd = len(spatial)
    if padding == "valid":
        return tuple((0, 0) for _ in range(nd))
    if padding == "same":
        return tuple(tf_same_pads(n, k, s, d) for n, k, s, d in zip(spatial, kernel, stride, dilation))
    return tuple((p, p) for p in _tuple(padding, nd))


# ----------------------------------------------------------------------------- convolution


def _conv_geometry(x, w, stride, padding, dilation, groups, padding_mode) -> tuple:
    """The padded float64 input and the sizes both conv references loop over."""
    x = np.asarray(x, dtype=np.float64)
    nd = x.ndim - 2
    n_batch, c_in = x.shape[:2]
    c_out = w.shape[0]
    kernel = w.shape[2:]
    stride, dilation = _tuple(stride, nd), _tuple(dilation, nd)
    pads = resolve_conv_pads(padding, x.shape[2:], kernel, stride, dilation)
    xp = pad_ref(x, pads, padding_mode)
    out_sizes = tuple((xp.shape[2 + a] - dilation[a] * (kernel[a] - 1) - 1) // stride[a] + 1 for a in range(nd))
    return xp, nd, n_batch, c_out, kernel, stride, dilation, out_sizes, c_in // groups, c_out // groups


def conv_ref(x, w, b=None, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros") -> np.ndarray:
    """N-d cross-correlation, batched ``(N, C, *sp)`` input, weight ``(O, C/groups, *k)``.

    ``out[n, o, i...] = b[o] + Σ_{c, u...} w[o, c, u...] · xpad[n, g·C/G + c, i·s + u·d ...]``.
    """
    w = np.asarray(w, dtype=np.float64)
    xp, nd, n_batch, c_out, kernel, stride, dilation, out_sizes, cg, og = _conv_geometry(
        x, w, stride, padding, dilation, groups, padding_mode)
    out = np.zeros((n_batch, c_out) + out_sizes)
    for n in range(n_batch):
        for o in range(c_out):
            g = o // og
            for pos in itertools.product(*(range(m) for m in out_sizes)):
                total = 0.0 if b is None else float(b[o])
                for c in range(cg):
                    for off in itertools.product(*(range(k) for k in kernel)):
                        idx = tuple(p * s + u * d for p, s, u, d in zip(pos, stride, off, dilation))
                        total += w[(o, c) + off] * xp[(n, g * cg + c) + idx]
                out[(n, o) + pos] = total
    return out


def conv_ref_fast(x, w, b=None, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros") -> np.ndarray:
    """Same definition as :func:`conv_ref`, looping over output positions and groups but letting
    NumPy do each window's (channel × kernel) dot product: for the larger forward cases."""
    w = np.asarray(w, dtype=np.float64)
    xp, nd, n_batch, c_out, kernel, stride, dilation, out_sizes, cg, og = _conv_geometry(
        x, w, stride, padding, dilation, groups, padding_mode)
    out = np.zeros((n_batch, c_out) + out_sizes)
    axes = list(range(1, nd + 2))
    for pos in itertools.product(*(range(m) for m in out_sizes)):
        window = tuple(slice(p * s, p * s + d * (k - 1) + 1, d) for p, s, k, d in zip(pos, stride, kernel, dilation))
        for g in range(groups):
            patch = xp[(slice(None), slice(g * cg, (g + 1) * cg)) + window]  # (N, cg, *k)
            filters = w[g * og:(g + 1) * og]  # (og, cg, *k)
            out[(slice(None), slice(g * og, (g + 1) * og)) + pos] = np.tensordot(patch, filters, (axes, axes))
    if b is not None:
        out += np.asarray(b, dtype=np.float64).reshape((1, c_out) + (1,) * nd)
    return out


def true_convolve2d_ref(image, kernel, stride=1, padding=0) -> np.ndarray:
    """Mathematical 2-D convolution ``Σ f[k,l]·I[m−k, n−l]`` (kernel flipped), 'valid' after padding."""
    image = np.asarray(image, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    xp = pad_ref(image, ((padding, padding), (padding, padding)))
    kh, kw = kernel.shape
    oh = (xp.shape[0] - kh) // stride + 1
    ow = (xp.shape[1] - kw) // stride + 1
    out = np.zeros((oh, ow))
    for i in range(oh):
        for j in range(ow):
            total = 0.0
            for u in range(kh):
                for v in range(kw):
                    total += kernel[kh - 1 - u, kw - 1 - v] * xp[i * stride + u, j * stride + v]
            out[i, j] = total
    return out


# ----------------------------------------------------------------------------- pooling


def pool_windows(n: int, k: int, s: int, p: int = 0, d: int = 1, ceil_mode: bool = False) -> list:
    """Brute-force list of window start positions (in input coordinates, may be negative).

    A window covers input positions ``start + j·d``, j < k. Floor mode keeps windows lying
    entirely inside the padded input ``[−p, n + p)``. Ceil mode also keeps the one extra window
    that the ceil division adds (hanging past the right padding by less than a stride), but only
    if it starts inside the input or the left padding (PyTorch's rule).
    """
    extent = d * (k - 1) + 1
    starts = []
    i = 0
    while True:
        start = i * s - p
        overhang = (start + extent - 1) - (n + p - 1)  # cells past the right padding
        if overhang <= 0 or (ceil_mode and overhang < s and start < n):
            starts.append(start)
        else:
            return starts
        if overhang > 0:
            return starts
        i += 1


def pool_ref(x, kernel, stride=None, padding=0, dilation=1, ceil_mode=False, mode="max",
             count_include_pad=True, divisor_override=None, norm_type=None):
    """Window pooling over the trailing spatial axes of ``(N, C, *sp)``.

    mode: 'max', 'min', 'avg' (PyTorch's divisor rules) or 'lp' (PyTorch's definition
    ``(kernel_area · avg_pool(x^p))^(1/p)``, which is ``(Σ x^p)^(1/p)`` for every full window).
    For 'max' also returns the flat (within-plane) index of the first maximum of each window.
    """
    x = np.asarray(x, dtype=np.float64)
    nd = x.ndim - 2
    kernel = _tuple(kernel, nd)
    stride = kernel if stride is None else _tuple(stride, nd)
    padding, dilation = _tuple(padding, nd), _tuple(dilation, nd)
    spatial = x.shape[2:]
    starts = [pool_windows(n, k, s, p, d, ceil_mode)
              for n, k, s, p, d in zip(spatial, kernel, stride, padding, dilation)]
    out_shape = tuple(len(st) for st in starts)
    out = np.zeros(x.shape[:2] + out_shape)
    indices = np.zeros(x.shape[:2] + out_shape, dtype=np.int64)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            for pos in itertools.product(*(range(m) for m in out_shape)):
                best, best_idx = None, -1
                total, real, in_pad = 0.0, 0, 0
                for off in itertools.product(*(range(k) for k in kernel)):
                    coord = tuple(starts[a][pos[a]] + off[a] * dilation[a] for a in range(nd))
                    inside = all(0 <= q < m for q, m in zip(coord, spatial))
                    within_padding = all(-p <= q < m + p for q, m, p in zip(coord, spatial, padding))
                    if within_padding:
                        in_pad += 1
                    if not inside:
                        continue
                    real += 1
                    v = x[(n, c) + coord]
                    if mode in ("max", "min"):
                        better = best is None or (v > best if mode == "max" else v < best)
                        if better:
                            best = v
                            flat = 0
                            for q, m in zip(coord, spatial):
                                flat = flat * m + q
                            best_idx = flat
                    elif mode == "avg":
                        total += v
                    else:
                        total += v ** norm_type
                if mode in ("max", "min"):
                    out[(n, c) + pos] = best
                    indices[(n, c) + pos] = best_idx
                elif mode == "avg":
                    if divisor_override is not None:
                        div = divisor_override
                    else:
                        div = in_pad if count_include_pad else real
                    out[(n, c) + pos] = total / div
                else:
                    area = int(np.prod(kernel))
                    out[(n, c) + pos] = (total / real * area) ** (1.0 / norm_type)
    if mode == "max":
        return out, indices
    return out


def adaptive_windows(n: int, o: int) -> list:
    """PyTorch's adaptive windows: ``[floor(i·n/o), ceil((i+1)·n/o))``."""
    return [(math.floor(i * n / o), math.ceil((i + 1) * n / o)) for i in range(o)]


def adaptive_pool_ref(x, output_size, mode="avg") -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    nd = x.ndim - 2
    sizes = _tuple(output_size, nd)
    sizes = tuple(m if o is None else o for o, m in zip(sizes, x.shape[2:]))
    wins = [adaptive_windows(m, o) for m, o in zip(x.shape[2:], sizes)]
    out = np.zeros(x.shape[:2] + sizes)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            for pos in itertools.product(*(range(o) for o in sizes)):
                values = []
                for coord in itertools.product(*(range(*wins[a][pos[a]]) for a in range(nd))):
                    values.append(x[(n, c) + coord])
                out[(n, c) + pos] = max(values) if mode == "max" else sum(values) / len(values)
    return out


def channel_pool_ref(x, k, mode="max") -> np.ndarray:
    """Pool over consecutive groups of ``k`` channels (dim 1): max, avg or l2 (√Σx²)."""
    x = np.asarray(x, dtype=np.float64)
    groups = x.shape[1] // k
    out = np.zeros((x.shape[0], groups) + x.shape[2:])
    for n in range(x.shape[0]):
        for g in range(groups):
            for pos in itertools.product(*(range(m) for m in x.shape[2:])):
                vals = [x[(n, g * k + j) + pos] for j in range(k)]
                if mode == "max":
                    r = max(vals)
                elif mode == "avg":
                    r = sum(vals) / k
                else:
                    r = math.sqrt(sum(v * v for v in vals))
                out[(n, g) + pos] = r
    return out


# ----------------------------------------------------------------------------- activations
# Scalar formulas; ``elementwise`` applies one to every element with a Python loop.

SELU_LAMBDA = 1.0507009873554805
SELU_ALPHA = 1.6732632423543772


def elementwise(fn, x, *args) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    out = np.empty(x.shape)
    for idx in np.ndindex(*x.shape):
        out[idx] = fn(float(x[idx]), *args)
    return out


def s_sigmoid(x):
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def s_softplus_plain(x):
    """log(1 + e^x) without overflow."""
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def s_relu(x):
    return x if x > 0 else 0.0


def s_tanh(x):
    return math.tanh(x)


def s_leaky_relu(x, slope=0.01):
    return x if x > 0 else slope * x


def s_elu(x, alpha=1.0):
    return x if x > 0 else alpha * math.expm1(x)


def s_selu(x):
    return SELU_LAMBDA * (x if x > 0 else SELU_ALPHA * math.expm1(x))


def s_isrlu(x, alpha=1.0):
    return x / math.sqrt(1.0 + alpha * x * x) if x < 0 else x


def s_softplus(x, beta=1.0, threshold=20.0):
    if x * beta > threshold:
        return x
    return s_softplus_plain(beta * x) / beta


def s_bent_identity(x):
    return (math.sqrt(x * x + 1.0) - 1.0) / 2.0 + x


def s_gelu(x):
    return 0.5 * x * (1.0 + math.erf(x / math.sqrt(2.0)))


def s_gelu_tanh(x):
    return 0.5 * x * (1.0 + math.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def s_silu(x):
    return x * s_sigmoid(x)


def s_hardtanh(x, lo=-1.0, hi=1.0):
    return lo if x < lo else hi if x > hi else x


def s_mish(x):
    return x * math.tanh(s_softplus_plain(x))


def channel_param(param, x_shape, idx):
    """The value of a shared (size 1) or per-channel (dim 1) parameter for element ``idx``."""
    param = np.asarray(param, dtype=np.float64).reshape(-1)
    if param.size == 1:
        return float(param[0])
    return float(param[idx[1]])


def prelu_ref(x, weight) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    out = np.empty(x.shape)
    for idx in np.ndindex(*x.shape):
        v = x[idx]
        out[idx] = v if v > 0 else channel_param(weight, x.shape, idx) * v
    return out


def srelu_ref(x, tl, al, tr, ar) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    out = np.empty(x.shape)
    for idx in np.ndindex(*x.shape):
        v = x[idx]
        t_l, a_l = channel_param(tl, x.shape, idx), channel_param(al, x.shape, idx)
        t_r, a_r = channel_param(tr, x.shape, idx), channel_param(ar, x.shape, idx)
        if v >= t_r:
            out[idx] = t_r + a_r * (v - t_r)
        elif v <= t_l:
            out[idx] = t_l + a_l * (v - t_l)
        else:
            out[idx] = v
    return out


def apl_ref(x, a, b) -> np.ndarray:
    """``max(0, x) + Σ_s a[s, c]·max(0, −x + b[s, c])`` (a, b: (S, C) or (S, 1))."""
    x = np.asarray(x, dtype=np.float64)
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    out = np.empty(x.shape)
    for idx in np.ndindex(*x.shape):
        v = x[idx]
        c = idx[1] if a.shape[1] > 1 else 0
        total = max(0.0, v)
        for s in range(a.shape[0]):
            total += a[s, c] * max(0.0, -v + b[s, c])
        out[idx] = total
    return out


def softmax_ref(x, dim, log=False) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    dim = dim % x.ndim
    out = np.empty(x.shape)
    other = [range(m) for a, m in enumerate(x.shape) if a != dim]
    for rest in itertools.product(*other):
        idxs = [rest[:dim] + (j,) + rest[dim:] for j in range(x.shape[dim])]
        vals = [float(x[i]) for i in idxs]
        top = max(vals)
        z = sum(math.exp(v - top) for v in vals)
        for i, v in zip(idxs, vals):
            out[i] = (v - top - math.log(z)) if log else math.exp(v - top) / z
    return out


# ----------------------------------------------------------------------------- losses


def _log_softmax_row(row):
    top = max(row)
    lse = top + math.log(sum(math.exp(v - top) for v in row))
    return [v - lse for v in row]


def _rows(x):
    """(N, C, *d) → list of (row values, row position) with the class dim last; (C,) → one row."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        return [(list(x), ())]
    rows = []
    for n in range(x.shape[0]):
        for pos in itertools.product(*(range(m) for m in x.shape[2:])):
            rows.append(([float(x[(n, c) + pos]) for c in range(x.shape[1])], (n,) + pos))
    return rows


def _row_shape(x):
    x = np.asarray(x)
    return () if x.ndim == 1 else (x.shape[0],) + x.shape[2:]


def _reduce(per: np.ndarray, reduction: str, denominator: float):
    if reduction == "none":
        return per
    if reduction == "sum":
        return float(per.sum())
    return float(per.sum()) / denominator


def cross_entropy_ref(x, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """PyTorch's cross-entropy; class-index (integer) or probability (float) targets."""
    x = np.asarray(x, dtype=np.float64)
    target = np.asarray(target)
    rows = _rows(x)
    classes = len(rows[0][0])
    w = [1.0] * classes if weight is None else [float(v) for v in np.asarray(weight).reshape(-1)]
    eps = label_smoothing
    per = np.zeros(_row_shape(x))
    if target.dtype.kind == "f":
        trows = _rows(target)
        for (row, pos), (trow, _) in zip(rows, trows):
            logp = _log_softmax_row(row)
            loss = 0.0
            for c in range(classes):
                t = (1 - eps) * trow[c] + eps / classes
                loss -= w[c] * t * logp[c]
            per[pos] = loss
        return _reduce(per, reduction, len(rows))
    denominator = 0.0
    for row, pos in rows:
        y = int(target[pos])
        if y == ignore_index:
            per[pos] = 0.0
            continue
        logp = _log_softmax_row(row)
        nll = -w[y] * logp[y]
        smooth = -sum(w[c] * logp[c] for c in range(classes))
        per[pos] = (1 - eps) * nll + eps / classes * smooth
        denominator += w[y]
    return _reduce(per, reduction, denominator)


def nll_loss_ref(x, target, weight=None, ignore_index=-100, reduction="mean"):
    x = np.asarray(x, dtype=np.float64)
    target = np.asarray(target)
    rows = _rows(x)
    classes = len(rows[0][0])
    w = [1.0] * classes if weight is None else [float(v) for v in np.asarray(weight).reshape(-1)]
    per = np.zeros(_row_shape(x))
    denominator = 0.0
    for row, pos in rows:
        y = int(target[pos])
        if y == ignore_index:
            continue
        per[pos] = -w[y] * row[y]
        denominator += w[y]
    return _reduce(per, reduction, denominator)


def _pointwise_loss(fn, x, t, reduction):
    x, t = np.asarray(x, dtype=np.float64), np.asarray(t, dtype=np.float64)
    per = np.empty(x.shape)
    for idx in np.ndindex(*x.shape):
        per[idx] = fn(float(x[idx]), float(t[idx]), idx)
    return _reduce(per, reduction, per.size)


def mse_loss_ref(x, t, reduction="mean"):
    return _pointwise_loss(lambda a, b, _: (a - b) ** 2, x, t, reduction)


def l1_loss_ref(x, t, reduction="mean"):
    return _pointwise_loss(lambda a, b, _: abs(a - b), x, t, reduction)


def huber_loss_ref(x, t, reduction="mean", delta=1.0):
    def f(a, b, _):
        d = abs(a - b)
        return 0.5 * d * d if d < delta else delta * (d - 0.5 * delta)
    return _pointwise_loss(f, x, t, reduction)


def _clamped_log(v):
    return -100.0 if v <= 0 else max(math.log(v), -100.0)


def bce_ref(x, t, weight=None, reduction="mean"):
    """``−w·(t·log x + (1 − t)·log(1 − x))`` with each log clamped at −100 (PyTorch)."""
    x = np.asarray(x, dtype=np.float64)
    wb = None if weight is None else np.broadcast_to(np.asarray(weight, dtype=np.float64), x.shape)

    def f(a, b, idx):
        w = 1.0 if wb is None else float(wb[idx])
        return -w * (b * _clamped_log(a) + (1 - b) * _clamped_log(1 - a))
    return _pointwise_loss(f, x, t, reduction)


def bce_logits_ref(z, t, weight=None, pos_weight=None, reduction="mean"):
    """``−w·(pw·t·log σ(z) + (1 − t)·log(1 − σ(z)))``; pos_weight broadcasts over the last dim."""
    z = np.asarray(z, dtype=np.float64)
    wb = None if weight is None else np.broadcast_to(np.asarray(weight, dtype=np.float64), z.shape)
    pb = None if pos_weight is None else np.broadcast_to(np.asarray(pos_weight, dtype=np.float64), z.shape)

    def f(a, b, idx):
        w = 1.0 if wb is None else float(wb[idx])
        pw = 1.0 if pb is None else float(pb[idx])
        log_sig = -s_softplus_plain(-a)  # log σ(a)
        log_one_minus = -s_softplus_plain(a)  # log(1 − σ(a))
        return -w * (pw * b * log_sig + (1 - b) * log_one_minus)
    return _pointwise_loss(f, z, t, reduction)


# ----------------------------------------------------------------------------- normalisation


def _standardise(values, eps):
    m = sum(values) / len(values)
    var = sum((v - m) ** 2 for v in values) / len(values)  # biased
    return [(v - m) / math.sqrt(var + eps) for v in values], m, var


def batch_norm_train_ref(x, weight=None, bias=None, eps=1e-5):
    """Per channel over (N, *spatial) with the biased variance; returns (out, means, unbiased vars)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty(x.shape)
    means, uvars = [], []
    for c in range(x.shape[1]):
        idxs = [(n, c) + pos for n in range(x.shape[0]) for pos in itertools.product(*(range(m) for m in x.shape[2:]))]
        normed, m, var = _standardise([float(x[i]) for i in idxs], eps)
        g = 1.0 if weight is None else float(weight[c])
        b = 0.0 if bias is None else float(bias[c])
        for i, v in zip(idxs, normed):
            out[i] = v * g + b
        means.append(m)
        uvars.append(var * len(idxs) / (len(idxs) - 1))
    return out, np.array(means), np.array(uvars)


def batch_norm_eval_ref(x, running_mean, running_var, weight=None, bias=None, eps=1e-5):
    x = np.asarray(x, dtype=np.float64)
    out = np.empty(x.shape)
    for idx in np.ndindex(*x.shape):
        c = idx[1]
        v = (x[idx] - running_mean[c]) / math.sqrt(running_var[c] + eps)
        out[idx] = v * (1.0 if weight is None else weight[c]) + (0.0 if bias is None else bias[c])
    return out


def layer_norm_ref(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    x = np.asarray(x, dtype=np.float64)
    k = len(normalized_shape)
    lead = x.shape[:x.ndim - k]
    out = np.empty(x.shape)
    for head in itertools.product(*(range(m) for m in lead)):
        tails = list(itertools.product(*(range(m) for m in normalized_shape)))
        normed, _, _ = _standardise([float(x[head + t]) for t in tails], eps)
        for t, v in zip(tails, normed):
            g = 1.0 if weight is None else float(np.asarray(weight)[t])
            b = 0.0 if bias is None else float(np.asarray(bias)[t])
            out[head + t] = v * g + b
    return out


def group_norm_ref(x, num_groups, weight=None, bias=None, eps=1e-5):
    x = np.asarray(x, dtype=np.float64)
    n_batch, c = x.shape[:2]
    per = c // num_groups
    out = np.empty(x.shape)
    for n in range(n_batch):
        for g in range(num_groups):
            idxs = [(n, ch) + pos for ch in range(g * per, (g + 1) * per)
                    for pos in itertools.product(*(range(m) for m in x.shape[2:]))]
            normed, _, _ = _standardise([float(x[i]) for i in idxs], eps)
            for i, v in zip(idxs, normed):
                ch = i[1]
                out[i] = v * (1.0 if weight is None else weight[ch]) + (0.0 if bias is None else bias[ch])
    return out


# ----------------------------------------------------------------------------- comparison helpers
# (plain NumPy; they take arrays, never cnnkit objects)

RTOL64, ATOL64 = 1e-7, 1e-9
RTOL32 = 1e-5


def rel_err(got, want) -> float:
    """max |got − want| relative to the largest |want| (0 when both are all zero)."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"shape {got.shape} != {want.shape}"
    if got.size == 0:
        return 0.0
    diff = np.abs(got - want).max()
    scale = np.abs(want).max()
    if scale == 0:
        return float(diff)
    return float(diff / scale)


def assert_forward(got, want, dtype) -> None:
    """float64: rtol 1e-7 / atol 1e-9; float32: rtol 1e-5 (atol 1e-5 of the array's scale)."""
    got = np.asarray(got)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"shape {got.shape} != expected {want.shape}"
    assert got.dtype == np.dtype(dtype), f"dtype {got.dtype} != {np.dtype(dtype)}"
    if np.dtype(dtype) == np.float64:
        np.testing.assert_allclose(got, want, rtol=RTOL64, atol=ATOL64)
    else:
        scale = float(np.abs(want).max()) if want.size else 1.0
        np.testing.assert_allclose(got.astype(np.float64), want, rtol=RTOL32, atol=RTOL32 * max(scale, 1e-3))


# ----------------------------------------------------------------------------- PyTorch signatures

LEGACY_TORCH_PARAMS = {"size_average", "reduce", "inplace", "_stacklevel", "dtype"}

# PyTorch functions implemented in C have no introspectable signature: their documented ones.
DOCUMENTED_TORCH_SIGNATURES = {
    "conv1d": ["input", "weight", ("bias", None), ("stride", 1), ("padding", 0), ("dilation", 1), ("groups", 1)],
    "conv2d": ["input", "weight", ("bias", None), ("stride", 1), ("padding", 0), ("dilation", 1), ("groups", 1)],
    "conv3d": ["input", "weight", ("bias", None), ("stride", 1), ("padding", 0), ("dilation", 1), ("groups", 1)],
    "avg_pool1d": ["input", "kernel_size", ("stride", None), ("padding", 0), ("ceil_mode", False),
                   ("count_include_pad", True)],
    "avg_pool2d": ["input", "kernel_size", ("stride", None), ("padding", 0), ("ceil_mode", False),
                   ("count_include_pad", True), ("divisor_override", None)],
    "avg_pool3d": ["input", "kernel_size", ("stride", None), ("padding", 0), ("ceil_mode", False),
                   ("count_include_pad", True), ("divisor_override", None)],
    "adaptive_avg_pool1d": ["input", "output_size"],
    "gelu": ["input", ("approximate", "none")],
    "softplus": ["input", ("beta", 1.0), ("threshold", 20.0)],
    "prelu": ["input", "weight"],
    "sigmoid": ["input"],
    "tanh": ["input"],
}


def torch_signature(torch, name):
    """``[(parameter, default)]`` of ``torch.nn.functional.<name>`` without legacy arguments
    (``inspect.Parameter.empty`` for required ones)."""
    functional = torch.nn.functional
    for candidate in (name + "_with_indices", name):
        fn = getattr(functional, candidate, None)
        if fn is None:
            continue
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            continue
        if list(sig.parameters) in (["args", "kwargs"], ["input"]) and name in DOCUMENTED_TORCH_SIGNATURES:
            break
        if list(sig.parameters) == ["args", "kwargs"]:
            continue
        return [(k, p.default) for k, p in sig.parameters.items() if k not in LEGACY_TORCH_PARAMS]
    doc = DOCUMENTED_TORCH_SIGNATURES[name]
    return [(p, inspect.Parameter.empty) if isinstance(p, str) else p for p in doc]


def signature_mismatches(ours, torch_params) -> list:
    """Differences between a callable's signature and PyTorch's: missing parameters, other defaults,
    other order. Extra parameters of ours (e.g. ``generator``) are allowed."""
    params = inspect.signature(ours).parameters
    problems = []
    for name, default in torch_params:
        if name not in params:
            problems.append(f"missing parameter {name!r}")
        elif params[name].default != default and not (default is None and name == "value"):
            problems.append(f"{name!r} defaults to {params[name].default!r}, PyTorch {default!r}")
    shared_torch = [n for n, _ in torch_params if n in params]
    shared_ours = [n for n in params if n in shared_torch]
    if shared_torch != shared_ours:
        problems.append(f"order {shared_ours} != PyTorch {shared_torch}")
    return problems
