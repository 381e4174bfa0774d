"""OpInfo-lite: one entry per differentiable cnnkit op, shared by the tests in this package.

Each :class:`OpInfo` names

* ``fn``: how user code calls cnnkit (an operator, a Tensor method or ``cnnkit.functional``);
* ``ref``: an independent NumPy reference (never calls cnnkit; works in float64);
* ``torch_fn``: the PyTorch equivalent (``None`` when there is none);
* ``sample_inputs(rng, dtype)``: a generator of :class:`SampleInput`;
* ``domain``: a predicate every sample satisfies (positive inputs for log/sqrt, values kept
  away from kinks and ties for relu/abs/max/min/maximum/minimum/clamp...), checked by a test;
* tolerance overrides, aliases (other spellings that must agree exactly) and known-bug xfails.

Sample convention: ``SampleInput.inputs`` holds the positional operands. Every ``np.ndarray``
among them becomes a differentiable cnnkit Tensor (``requires_grad=True``); any other value (a
Python number) is passed through as is, so ``fn(x, 2.5)`` exercises ``tensor op scalar`` and
``fn(2.5, x)`` exercises ``scalar op tensor``. ``kwargs`` hold non-differentiable options (dims,
masks, index arrays, conditions).
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence

import numpy as np

import cnnkit
import cnnkit.functional as F

F64 = np.dtype(np.float64)
F32 = np.dtype(np.float32)

# Default forward tolerances against the float64 reference, per input dtype.
FWD_TOL = {F64: (1e-7, 1e-7), F32: (1.3e-6, 1e-5)}
# Gradcheck settings required by the test plan (float64).
GRADCHECK_KW = dict(eps=1e-6, atol=1e-8, rtol=1e-5)
KINK_MARGIN = 1e-3  # minimum distance of any sample value from a kink or a tie
# Test kinds that an XFail may name (see tests/ops/test_ops.py).
ALL_KINDS = ("forward64", "forward32", "gradcheck", "grad_fd", "parity", "noncontig", "alias", "partial",
             "no_grad", "same_input")


# ------------------------------------------------------------------------------ data classes
@dataclass
class SampleInput:
    inputs: tuple
    kwargs: dict = field(default_factory=dict)
    desc: str = ""
    torch: bool = True  # False where PyTorch lacks the feature (e.g. negative slice steps)

    def arrays(self) -> list:
        """The differentiable operands (the ndarrays among ``inputs``)."""
        return [a for a in self.inputs if isinstance(a, np.ndarray)]

    def with_arrays(self, arrays: Sequence[np.ndarray]) -> "SampleInput":
        it = iter(arrays)
        return replace(self, inputs=tuple(next(it) if isinstance(a, np.ndarray) else a for a in self.inputs))


@dataclass
class XFail:
    """A known bug: ``kinds`` are test kinds, ``desc`` a substring of the sample description."""

    kinds: tuple
    desc: str
    reason: str


@dataclass
class OpInfo:
    name: str
    fn: Callable
    ref: Callable
    torch_fn: Optional[Callable]
    sample_inputs: Callable[[np.random.Generator, np.dtype], Iterator[SampleInput]]
    domain: Optional[Callable[[SampleInput], bool]] = None
    aliases: dict = field(default_factory=dict)
    out_dtype: Optional[np.dtype] = None  # None: the result keeps the input dtype
    fwd_tol: dict = field(default_factory=dict)  # dtype -> (rtol, atol)
    gradcheck_kwargs: dict = field(default_factory=dict)
    xfails: tuple = ()

    def samples(self, dtype: Any) -> list:
        rng = np.random.default_rng(zlib.crc32(self.name.encode()))
        return list(self.sample_inputs(rng, np.dtype(dtype)))

    def tol(self, dtype: Any) -> tuple:
        dtype = np.dtype(dtype)
        return self.fwd_tol.get(dtype, FWD_TOL[dtype])

    def expected_dtype(self, dtype: Any) -> np.dtype:
        return np.dtype(dtype) if self.out_dtype is None else np.dtype(self.out_dtype)

    def xfail_reason(self, kind: str, desc: str) -> Optional[str]:
        for x in self.xfails:
            if kind in x.kinds and x.desc in desc:
                return x.reason
        return None


# ---------------------------------------------------------------------- calling helpers
def bind(fn: Callable, sample: SampleInput) -> Callable:
    """``call(*tensors)``: ``fn`` with the sample's non-array operands and kwargs filled in."""

    def call(*tensors: Any) -> Any:
        it = iter(tensors)
        args = [next(it) if isinstance(a, np.ndarray) else a for a in sample.inputs]
        return fn(*args, **sample.kwargs)

    return call


def as_list(out: Any) -> list:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def leaf(array: np.ndarray) -> cnnkit.Tensor:
    """A grad-requiring leaf that wraps ``array`` itself (no copy: strides are kept)."""
    return cnnkit.Tensor(array, requires_grad=True)


def to_torch_index(index: Any) -> Any:
    import torch

    def conv(item: Any) -> Any:
        if isinstance(item, cnnkit.Tensor):
            item = item.data
        if isinstance(item, list):
            return torch.tensor(item)
        if isinstance(item, np.ndarray):
            return torch.from_numpy(item.copy())
        return item

    return tuple(conv(i) for i in index) if isinstance(index, tuple) else conv(index)


# ---------------------------------------------------------------------------- value helpers
def _uniform(rng: np.random.Generator, shape: tuple, lo: float = -2.0, hi: float = 2.0) -> np.ndarray:
    return np.asarray(rng.uniform(lo, hi, size=shape), dtype=np.float64)


def _positive(rng: np.random.Generator, shape: tuple, lo: float = 0.5, hi: float = 2.5) -> np.ndarray:
    return np.asarray(rng.uniform(lo, hi, size=shape), dtype=np.float64)


def _nonzero(rng: np.random.Generator, shape: tuple, lo: float = 0.5, hi: float = 2.0) -> np.ndarray:
    return np.asarray(rng.uniform(lo, hi, size=shape) * rng.choice([-1.0, 1.0], size=shape), dtype=np.float64)


def _away(rng: np.random.Generator, shape: tuple, points: Iterable[float] = (0.0,), margin: float = 0.05,
          lo: float = -2.0, hi: float = 2.0) -> np.ndarray:
    """Uniform values at least ``margin`` away from every point in ``points`` (kinks)."""
    points = list(points)
    x = np.asarray(rng.uniform(lo, hi, size=shape), dtype=np.float64)
    for _ in range(1000):
        bad = np.zeros(x.shape, dtype=bool)
        for p in points:
            bad |= np.abs(x - p) < margin
        if not bad.any():
            return x
        x = np.asarray(np.where(bad, rng.uniform(lo, hi, size=shape), x), dtype=np.float64)
    raise RuntimeError("could not draw values away from the kinks")


def _distinct(rng: np.random.Generator, shape: tuple, spacing: float = 0.25) -> np.ndarray:
    """Pairwise distinct values (gaps >= spacing / 2): no ties for max/min reductions."""
    n = int(np.prod(shape))
    v = (rng.permutation(n) - (n - 1) / 2) * spacing + rng.uniform(-spacing / 4, spacing / 4, size=n)
    return v.reshape(shape)


def _dyadic(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """Multiples of 1/64 in [-2, 2]: exact in float32, and so is ``x +- 2**-10``."""
    return np.asarray(rng.integers(-128, 129, size=shape) / 64.0, dtype=np.float64)


def _pair_apart(rng: np.random.Generator, make_a: Callable, make_b: Callable, margin: float = 0.05) -> tuple:
    """Draw operands whose broadcast values differ by at least ``margin`` everywhere (no ties)."""
    for _ in range(1000):
        a, b = make_a(), make_b()
        if np.min(np.abs(np.subtract(a, b)), initial=np.inf) >= margin:
            return a, b
    raise RuntimeError("could not draw operands apart")


def _typed(gen: Callable[[np.random.Generator], Iterable[SampleInput]]) -> Callable:
    """Turn a float64 sample generator into ``sample_inputs(rng, dtype)`` (casts float arrays)."""

    def sample_inputs(rng: np.random.Generator, dtype: np.dtype) -> Iterator[SampleInput]:
        dtype = np.dtype(dtype)
        for s in gen(rng):
            yield replace(s, inputs=tuple(
                a.astype(dtype) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in s.inputs))

    sample_inputs.__name__ = gen.__name__
    return sample_inputs


def _f64(*values: Any) -> list:
    return [np.asarray(v, dtype=np.float64) if isinstance(v, np.ndarray) else v for v in values]


# ------------------------------------------------------------------------- domain predicates
def _all_arrays(pred: Callable[[np.ndarray], bool]) -> Callable[[SampleInput], bool]:
    return lambda s: all(bool(pred(np.asarray(a, dtype=np.float64))) for a in s.arrays())


def _away_from(points: Callable[[SampleInput], Iterable[float]]) -> Callable[[SampleInput], bool]:
    def check(s: SampleInput) -> bool:
        pts = list(points(s))
        return all(np.all(np.abs(np.asarray(a, np.float64) - p) >= KINK_MARGIN) for a in s.arrays() for p in pts)

    return check


def _operands_apart(s: SampleInput) -> bool:
    a, b = (np.asarray(v, dtype=np.float64) for v in s.inputs)
    return bool(np.min(np.abs(a - b), initial=np.inf) >= KINK_MARGIN)


def _no_ties_within_rows(s: SampleInput) -> bool:
    """Values are pairwise >= KINK_MARGIN apart (so no reduction window holds a tie)."""
    (x,) = s.arrays()
    v = np.sort(np.asarray(x, np.float64).ravel())
    return v.size < 2 or bool(np.min(np.diff(v)) >= KINK_MARGIN)


# ======================================================================== samples: binary
BINARY_SHAPES = [
    ((3, 4), (3, 4), "same"),
    ((2, 3, 4), (4,), "bcast_right"),
    ((4,), (2, 3, 4), "bcast_left"),
    ((3, 1), (1, 4), "bcast_both"),
    ((2, 1, 4), (3, 1), "bcast_both_rank"),
    ((1, 1), (2, 3), "size1_left"),
    ((), (3, 2), "0d_left"),
    ((3, 2), (), "0d_right"),
    ((), (), "0d_both"),
]


def _binary_gen(make_a: Callable, make_b: Callable, scalars_right: Sequence = (2.5, 3),
                scalars_left: Sequence = (-1.5, 2)) -> Callable:
    def gen(rng: np.random.Generator) -> Iterator[SampleInput]:
        for sa, sb, desc in BINARY_SHAPES:
            yield SampleInput((make_a(rng, sa), make_b(rng, sb)), desc=desc)
        for c in scalars_right:
            yield SampleInput((make_a(rng, (3, 4)), c), desc=f"tensor_scalar_{type(c).__name__}")
        for c in scalars_left:
            yield SampleInput((c, make_b(rng, (3, 4))), desc=f"scalar_tensor_{type(c).__name__}")
        yield SampleInput((make_a(rng, ()), 1.25), desc="0d_tensor_scalar")

    return gen


def _extremum_gen(rng: np.random.Generator) -> Iterator[SampleInput]:
    for sa, sb, desc in BINARY_SHAPES:
        a, b = _pair_apart(rng, lambda: _uniform(rng, sa), lambda: _uniform(rng, sb))
        yield SampleInput((a, b), desc=desc)
    for c in (0.3, -1):
        a, _ = _pair_apart(rng, lambda: _uniform(rng, (3, 4)), lambda: np.float64(c))
        yield SampleInput((a, c), desc=f"tensor_scalar_{type(c).__name__}")


# ========================================================================= samples: unary
UNARY_SHAPES = [((3, 4), "2d"), ((), "0d"), ((2, 1, 3), "3d_size1"), ((5,), "1d")]


def _unary_gen(make: Callable, extra: Sequence = ()) -> Callable:
    def gen(rng: np.random.Generator) -> Iterator[SampleInput]:
        for shape, desc in UNARY_SHAPES:
            yield SampleInput((make(rng, shape),), desc=desc)
        for values, desc in extra:
            yield SampleInput((np.asarray(values, dtype=np.float64),), desc=desc)

    return gen


def _pow_scalar_gen(rng: np.random.Generator) -> Iterator[SampleInput]:
    # Integer exponents accept negative bases; fractional ones need positive bases.
    for p in (2, 3, -1, 0, 1):
        yield SampleInput((_nonzero(rng, (3, 4)), p), desc=f"int_exp_{p}".replace("-", "m"))
    for p in (2.0, 0.5, -1.5, 2.7):
        yield SampleInput((_positive(rng, (3, 4)), p), desc=f"float_exp_{p}".replace("-", "m").replace(".", "_"))
    yield SampleInput((_nonzero(rng, ()), 3), desc="0d_int_exp")
    yield SampleInput((_positive(rng, (2, 1, 3)), 1.5), desc="3d_float_exp")


def _pow_gen(rng: np.random.Generator) -> Iterator[SampleInput]:
    # Tensor exponents (and scalar bases): positive bases keep log(base) real.
    for sa, sb, desc in BINARY_SHAPES:
        yield SampleInput((_positive(rng, sa), _uniform(rng, sb)), desc=desc)
    yield SampleInput((2.0, _uniform(rng, (3, 4))), desc="scalar_base_2")
    yield SampleInput((2, _uniform(rng, (3, 4))), desc="scalar_base_int_2")
    yield SampleInput((0.5, _uniform(rng, (2, 3))), desc="scalar_base_half")


# ========================================================================= samples: matmul
MATMUL_SHAPES = [
    ((4,), (4,), "1d_1d"),
    ((4,), (4, 3), "1d_2d"),
    ((3, 4), (4,), "2d_1d"),
    ((3, 4), (4, 2), "2d_2d"),
    ((2, 3, 4), (4, 2), "3d_2d"),
    ((3, 4), (2, 4, 2), "2d_3d"),
    ((2, 1, 3, 4), (5, 4, 2), "batch_bcast"),
    ((3,), (2, 3, 4), "1d_3d"),
    ((2, 3, 4), (4,), "3d_1d"),
    ((1, 2, 3), (2, 1, 3, 2), "batch_bcast_left"),
]


def _matmul_gen(rng: np.random.Generator) -> Iterator[SampleInput]:
    for sa, sb, desc in MATMUL_SHAPES:
        yield SampleInput((_uniform(rng, sa), _uniform(rng, sb)), desc=desc)


# ===================================================================== samples: reductions
REDUCE_CASES = [
    ((3, 4), {}, "all"),
    ((3, 4), {"keepdim": True}, "all_keepdim"),
    ((2, 3, 4), {"dim": 1}, "dim1"),
    ((2, 3, 4), {"dim": -1, "keepdim": True}, "dim_neg_keepdim"),
    ((2, 3, 4), {"dim": (0, 2)}, "dim_tuple"),
    ((2, 3, 4), {"dim": (-1, 0), "keepdim": True}, "dim_tuple_neg_keepdim"),
    ((2, 3, 4), {"dim": [2, 1]}, "dim_list"),
    ((2, 3, 4), {"axis": 1, "keepdims": True}, "axis_keepdims"),
    ((2, 3, 4), {"axis": (0, 1)}, "axis_tuple"),
    ((4, 1, 3), {"dim": (0, 1)}, "size1_dim"),
    ((5,), {"dim": 0}, "1d"),
    ((5,), {"dim": 0, "keepdim": True}, "1d_keepdim"),
    ((), {}, "0d"),
    ((), {"dim": 0}, "0d_dim0"),
]
VAR_EXTRA = [
    ((2, 3, 4), {"dim": 1, "correction": 0}, "correction0"),
    ((2, 3, 4), {"dim": (0, 2), "correction": 1, "keepdim": True}, "correction1_keepdim"),
    ((3, 4), {"unbiased": False}, "unbiased_false"),
    ((3, 4), {"dim": 0, "unbiased": True}, "unbiased_true"),
    ((3, 4), {"dim": -1, "correction": 2}, "correction2"),
    ((2, 3, 4), {"axis": 2, "ddof": 0}, "ddof0"),
]


def _reduce_gen(make: Callable, cases: Sequence = REDUCE_CASES, extra: Sequence = (),
                skip_0d: bool = False) -> Callable:
    def gen(rng: np.random.Generator) -> Iterator[SampleInput]:
        for shape, kw, desc in list(cases) + list(extra):
            if skip_0d and shape == ():
                continue
            yield SampleInput((make(rng, shape),), kwargs=dict(kw), desc=desc)

    return gen


def _red_kw(kw: dict) -> tuple:
    """(dims or None, keepdim, correction) from either spelling (independent of cnnkit._dims)."""
    kw = dict(kw)
    dim = kw.pop("dim", None)
    axis = kw.pop("axis", None)
    dim = dim if dim is not None else axis
    keep = bool(kw.pop("keepdim", False) or kw.pop("keepdims", False))
    correction = 1
    if "correction" in kw:
        correction = kw.pop("correction")
    if "ddof" in kw:
        correction = kw.pop("ddof")
    if "unbiased" in kw:
        correction = int(kw.pop("unbiased"))
    assert not kw, kw
    if isinstance(dim, list):
        dim = tuple(dim)
    return dim, keep, correction


def _ref_reduce(x: np.ndarray, kw: dict, func: Callable[[list], float]) -> np.ndarray:
    """Apply ``func`` (on a Python list) to every reduction window, with explicit Python loops."""
    dim, keep, _ = _red_kw(kw)
    x = np.asarray(x, dtype=np.float64)
    nd = x.ndim
    if dim is None or nd == 0:
        dims = list(range(nd))
    else:
        dims = sorted({d % nd for d in (dim if isinstance(dim, tuple) else (dim,))})
    kept = [i for i in range(nd) if i not in dims]
    moved = np.transpose(x, kept + dims) if nd else x
    out_shape = [x.shape[i] for i in kept]
    n_rows = int(math.prod(out_shape))
    window = int(math.prod(x.shape[i] for i in dims))
    rows = moved.reshape(n_rows, window)
    values = []
    for r in range(n_rows):
        values.append(func([float(rows[r, c]) for c in range(window)]))
    out = np.array(values, dtype=np.float64).reshape(out_shape)
    if keep:
        out = out.reshape([1 if i in dims else x.shape[i] for i in range(nd)])
    return out


def _py_max(values: list) -> float:
    best = values[0]
    for v in values[1:]:
        if v > best:
            best = v
    return best


def _py_min(values: list) -> float:
    best = values[0]
    for v in values[1:]:
        if v < best:
            best = v
    return best


def _py_var(values: list, correction: float) -> float:
    m = math.fsum(values) / len(values)
    return math.fsum((v - m) ** 2 for v in values) / (len(values) - correction)


def _ref_var(x: np.ndarray, **kw: Any) -> np.ndarray:
    c = _red_kw(kw)[2]
    return _ref_reduce(x, kw, lambda v: _py_var(v, c))


def _ref_std(x: np.ndarray, **kw: Any) -> np.ndarray:
    c = _red_kw(kw)[2]
    return _ref_reduce(x, kw, lambda v: math.sqrt(_py_var(v, c)))


def _torch_reduce(name: str) -> Callable:
    def f(t: Any, **kw: Any) -> Any:
        import torch

        dim, keep, correction = _red_kw(kw)
        func = getattr(torch, name)
        # Pass the correction only when the sample names one: cnnkit's default must be torch's.
        named = any(k in kw for k in ("correction", "unbiased", "ddof"))
        extra = {"correction": correction} if named else {}
        if dim is None and not keep:
            return func(t, **extra)
        if dim is None:
            dim = tuple(range(t.ndim))
        return func(t, dim=dim, keepdim=keep, **extra)

    return f


def _functional_reduce(func: Callable) -> Callable:
    """``cnnkit.sum(x, dim, keepdim)``-style alias taking the test's kwargs."""

    def f(x: Any, **kw: Any) -> Any:
        dim, keep, _ = _red_kw(kw)
        return func(x, dim, keep)

    return f


# ========================================================================== samples: shape
def _reshape_gen(rng: np.random.Generator) -> Iterator[SampleInput]:
    cases = [
        ((2, 3, 4), ((6, 4),), "tuple"),
        ((2, 3, 4), (4, -1), "infer"),
        ((2, 3, 4), (-1,), "flat"),
        ((2, 3, 4), (2, 1, 12), "size1"),
        ((6,), (2, 1, 3), "1d_to_3d"),
        ((), (1, 1), "0d_to_2d"),
        ((1, 1), ((),), "to_0d"),
        ((3, 4), (3, 4), "same_shape"),
        ((3, 4), ([2, -1],), "list_infer"),
    ]
    for shape, target, desc in cases:
        yield SampleInput((_uniform(rng, shape),), {"shape": target}, desc=desc)


def _transpose_gen(rng: np.random.Generator) -> Iterator[SampleInput]:
    for shape, d0, d1, desc in [((2, 3, 4), 0, 2, "0_2"), ((2, 3, 4), -1, -2, "neg"), ((3, 4), 0, 1, "2d"),
                                ((3, 4), 1, 1, "same_dim"), ((5,), 0, -1, "1d")]:
        yield SampleInput((_uniform(rng, shape),), {"dim0": d0, "dim1": d1}, desc=desc)


def _permute_gen(rng: np.random.Generator) -> Iterator[SampleInput]:
    for shape, dims, desc in [((2, 3, 4), (2, 0, 1), "varargs"), ((2, 3, 4), ((1, 2, 0),), "tuple"),
                              ((2, 3, 4), (-1, 0, 1), "neg"), ((2, 3, 4), (0, 1, 2), "identity"),
                              ((2, 1, 3, 2), (3, 1, 0, 2), "4d")]:
        yield SampleInput((_uniform(rng, shape),), {"dims": dims}, desc=desc)


def _flatten_gen(rng: np.random.Generator) -> Iterator[SampleInput]:
    for shape, kw, desc in [((2, 3, 4), {}, "all"), ((2, 3, 4), {"start_dim": 1}, "start1"),
                            ((2, 3, 4), {"start_dim": 0, "end_dim": 1}, "0_1"),
                            ((2, 3, 2, 2), {"start_dim": -3, "end_dim": -2}, "neg"),
                            ((3,), {}, "1d"), ((), {}, "0d")]:
        yield SampleInput((_uniform(rng, shape),), dict(kw), desc=desc)


def _squeeze_gen(rng: np.random.Generator) -> Iterator[SampleInput]:
    for shape, kw, desc in [((2, 1, 3, 1), {}, "all"), ((2, 1, 3, 1), {"dim": 1}, "dim1"),
                            ((2, 1, 3, 1), {"dim": -1}, "neg"), ((2, 1, 3, 1), {"dim": 0}, "non_one_noop"),
                            ((2, 1, 3, 1), {"dim": (1, 3)}, "tuple"), ((1,), {}, "to_0d")]:
        yield SampleInput((_uniform(rng, shape),), dict(kw), desc=desc)


def _unsqueeze_gen(rng: np.random.Generator) -> Iterator[SampleInput]:
    for shape, dim, desc in [((2, 3), 0, "front"), ((2, 3), 1, "mid"), ((2, 3), 2, "end"),
                             ((2, 3), -1, "neg"), ((2, 3), -3, "neg_front"), ((), 0, "0d")]:
        yield SampleInput((_uniform(rng, shape),), {"dim": dim}, desc=desc)


def _expand_gen(rng: np.random.Generator) -> Iterator[SampleInput]:
    for shape, sizes, desc in [((3, 1), (3, 4), "cols"), ((3, 1), (2, 3, 4), "new_dim"),
                               ((3, 1), (-1, 4), "minus1"), ((1, 3, 1), (2, -1, 5), "minus1_both"),
                               ((), (2, 3), "0d"), ((4,), ((2, 4),), "tuple"), ((2, 3), (2, 3), "same")]:
        yield SampleInput((_uniform(rng, shape),), {"sizes": sizes}, desc=desc)


def _broadcast_to_gen(rng: np.random.Generator) -> Iterator[SampleInput]:
    for shape, target, desc in [((3, 1), (2, 3, 4), "new_and_size1"), ((4,), (3, 4), "rank"),
                                ((), (2, 2), "0d"), ((1, 1), (1, 5), "size1")]:
        yield SampleInput((_uniform(rng, shape),), {"shape": target}, desc=desc)


def _mask(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    m = rng.random(shape) < 0.5
    m.flat[0], m.flat[-1] = True, False
    return m


def _getitem_gen(rng: np.random.Generator) -> Iterator[SampleInput]:
    A = np.array
    cases = [
        ((4, 5), 1, "int", True),
        ((4, 5), -1, "neg_int", True),
        ((4, 5), (1, -2), "int_pair_0d", True),
        ((4, 5), (-3, slice(None)), "neg_int_slice", True),
        ((4, 5), slice(1, 3), "slice", True),
        ((4, 5), slice(None, None, 2), "slice_step", True),
        ((4, 5), (slice(None), slice(4, 0, -1)), "neg_step", False),  # torch has no negative steps
        ((4, 5), slice(None, None, -1), "reverse", False),
        ((4, 5), (slice(3, 0, -2), slice(None, None, -2)), "neg_steps_2d", False),
        ((4, 5), None, "none", True),
        ((4, 5), (slice(None), None, slice(1, None)), "none_mid", True),
        ((3, 4, 5), (Ellipsis, 1), "ellipsis", True),
        ((3, 4, 5), (1, Ellipsis, None), "int_ellipsis_none", True),
        ((4, 5), A([0, 2, 0, 0]), "int_array_repeated", True),
        ((4, 5), (A([1, 1, 3]), A([2, 2, 0])), "int_arrays_repeated_pairs", True),
        ((4, 5), A([[0, 1], [1, 0]]), "int_array_2d", True),
        ((4, 5), [3, 3, -1], "list_repeated_neg", True),
        ((4, 5), _mask(rng, (4, 5)), "bool_mask_full", True),
        ((4, 5), A([True, False, True, True]), "bool_mask_rows", True),
        ((4, 5), (slice(None), A([False, True, True, False, True])), "slice_bool_mask_cols", True),
        ((4, 5), (A([0, 0, 2]), slice(1, 4)), "int_array_slice", True),
        ((4, 5), (slice(None, None, 2), A([3, 3, 0])), "slice_step_int_array", True),
        ((3, 4, 5), (slice(1, None), A([0, 0]), slice(None, None, 2)), "mixed_3d", True),
        ((3, 4, 5), (A([2, 0, 2]), slice(None), A([1, 1, 4])), "separated_advanced", True),
        ((3, 4, 5), (1, A([3, 3]), slice(None)), "int_and_array", True),
    ]
    for shape, index, desc, torch_ok in cases:
        yield SampleInput((_uniform(rng, shape),), {"index": index}, desc=desc, torch=torch_ok)
    # A 0-d boolean index (NumPy and PyTorch: True adds a size-1 dim, False a size-0 dim).
    yield SampleInput((_uniform(rng, (4, 5)),), {"index": np.array(True)}, desc="bool_mask_0d")
    yield SampleInput((_uniform(rng, (4, 5)),), {"index": (np.array(True), 1)}, desc="bool_mask_0d_int")
    # The same indices given as cnnkit tensors (an int64 tensor and a bool tensor).
    yield SampleInput((_uniform(rng, (4, 5)),), {"index": A([2, 2, 1]), "as_tensor": True}, desc="tensor_index_repeated")
    yield SampleInput((_uniform(rng, (4, 5)),), {"index": _mask(rng, (4, 5)), "as_tensor": True}, desc="tensor_bool_mask")
    yield SampleInput((_uniform(rng, (4, 5)),), {"index": np.array(True), "as_tensor": True},
                      desc="tensor_bool_mask_0d")


def _getitem_fn(x: Any, index: Any, as_tensor: bool = False) -> Any:
    if as_tensor:
        index = cnnkit.tensor(index)
    return x[index]


def _cat_gen(rng: np.random.Generator) -> Iterator[SampleInput]:
    cases = [
        ([(2, 3), (4, 3)], {"dim": 0}, "dim0"),
        ([(2, 3), (2, 1), (2, 2)], {"dim": 1}, "dim1_three"),
        ([(2, 3), (2, 2)], {"dim": -1}, "neg_dim"),
        ([(2, 2, 3), (2, 1, 3)], {"axis": 1}, "axis"),
        ([(3, 2)], {}, "single_default_dim"),
        ([(1, 2, 3), (2, 2, 3), (1, 2, 3)], {"dim": 0}, "3d_three"),
    ]
    for shapes, kw, desc in cases:
        yield SampleInput(tuple(_uniform(rng, s) for s in shapes), dict(kw), desc=desc)


def _stack_gen(rng: np.random.Generator) -> Iterator[SampleInput]:
    cases = [
        ([(2, 3)] * 3, {"dim": 0}, "dim0"),
        ([(2, 3)] * 2, {"dim": 1}, "dim1"),
        ([(2, 3)] * 2, {"dim": 2}, "dim_new_last"),
        ([(2, 3)] * 3, {"dim": -1}, "neg_dim"),
        ([(2, 3)] * 2, {"axis": 1}, "axis"),
        ([()] * 3, {}, "0d"),
    ]
    for shapes, kw, desc in cases:
        yield SampleInput(tuple(_uniform(rng, s) for s in shapes), dict(kw), desc=desc)


def _pad_gen(rng: np.random.Generator) -> Iterator[SampleInput]:
    cases = [
        ((2, 3), (1, 2), {}, "last_dim"),
        ((2, 3, 4), (1, 0, 2, 1), {"value": 1.5}, "two_dims_value"),
        ((3, 5), (-1, -2), {}, "crop"),
        ((3, 5), (2, -1, -1, 1), {"value": -2.0}, "mixed_crop_pad"),
        ((2, 3), (1, 1, 1, 1), {"value": 0.5}, "all_dims"),
        ((2, 3), [0, 0], {}, "zero_list"),
        ((4, 3), (-3, 2), {"mode": "constant", "value": 3.0}, "crop_past_data"),
    ]
    for shape, pad, kw, desc in cases:
        yield SampleInput((_uniform(rng, shape),), {"pad": pad, **kw}, desc=desc)


def _ref_pad(x: np.ndarray, pad: Sequence[int], mode: str = "constant", value: float = 0.0) -> np.ndarray:
    """Element by element: out[i] = x[i - before] where that is inside x, else ``value``."""
    assert mode == "constant"
    x = np.asarray(x, dtype=np.float64)
    widths = [(0, 0)] * x.ndim
    for k in range(len(pad) // 2):
        widths[x.ndim - 1 - k] = (pad[2 * k], pad[2 * k + 1])
    out_shape = tuple(n + lo + hi for n, (lo, hi) in zip(x.shape, widths))
    out = np.full(out_shape, value, dtype=np.float64)
    for idx in np.ndindex(*out_shape):
        src = tuple(i - lo for i, (lo, _) in zip(idx, widths))
        if all(0 <= s < n for s, n in zip(src, x.shape)):
            out[idx] = x[src]
    return out


def _pad_mode_gen(rng: np.random.Generator) -> Iterator[SampleInput]:
    cases = [
        ((2, 5), (2, 1), "reflect"), ((2, 5), (1, 3), "replicate"), ((2, 5), (3, 2), "circular"),
        ((1, 2, 3, 4), (1, 2, 2, 0), "reflect"), ((1, 2, 3, 4), (2, 2, 1, 1), "replicate"),
        ((1, 2, 3, 4), (1, 1, 2, 3), "circular"), ((2, 3, 4), (0, 3), "reflect"),
        ((1, 2, 2, 3), (1, 1, 1, 1, 1, 0), "replicate"),
    ]
    for shape, pad, mode in cases:
        yield SampleInput((_uniform(rng, shape),), {"pad": pad, "mode": mode},
                          desc=f"{mode}_{len(shape)}d_{len(pad) // 2}dims")


def _ref_pad_mode(x: np.ndarray, pad: Sequence[int], mode: str) -> np.ndarray:
    widths = [(0, 0)] * np.ndim(x)
    for k in range(len(pad) // 2):
        widths[np.ndim(x) - 1 - k] = (pad[2 * k], pad[2 * k + 1])
    np_mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
    return np.pad(np.asarray(x, np.float64), widths, mode=np_mode)


def _where_gen(rng: np.random.Generator) -> Iterator[SampleInput]:
    cases = [
        ((3, 4), (3, 4), (3, 4), "same"),
        ((3, 1), (3, 4), (4,), "cond_bcast"),
        ((2, 3, 4), (3, 4), (4,), "cond_bigger"),
        ((4,), (3, 4), 0.0, "scalar_other"),
        ((3, 4), -1.0, (3, 4), "scalar_input"),
        ((), (2, 3), (2, 3), "0d_cond"),
        ((3, 1), (1, 4), (3, 1), "both_bcast"),
    ]
    for cs, sa, sb, desc in cases:
        a = _uniform(rng, sa) if isinstance(sa, tuple) else sa
        b = _uniform(rng, sb) if isinstance(sb, tuple) else sb
        cond = _mask(rng, cs) if cs else np.array(True)
        yield SampleInput((a, b), {"cond": cond}, desc=desc)
    yield SampleInput((_uniform(rng, (3, 4)), _uniform(rng, (3, 4))),
                      {"cond": _mask(rng, (3, 4)), "cond_as_tensor": True}, desc="tensor_cond")


def _where_fn(a: Any, b: Any, cond: np.ndarray, cond_as_tensor: bool = False) -> Any:
    return cnnkit.where(cnnkit.tensor(cond) if cond_as_tensor else cond, a, b)


def _clamp_gen(rng: np.random.Generator) -> Iterator[SampleInput]:
    for shape, kw, desc in [((3, 4), {"min": 0.3}, "min_only"), ((3, 4), {"max": -0.2}, "max_only"),
                            ((3, 4), {"min": -0.5, "max": 0.7}, "both"), ((), {"min": -1.0, "max": 1.0}, "0d"),
                            ((2, 1, 3), {"min": -1, "max": 1}, "int_bounds")]:
        pts = [v for v in kw.values()]
        yield SampleInput((_away(rng, shape, pts),), dict(kw), desc=desc)


def _ref_clamp(x: np.ndarray, min: Optional[float] = None, max: Optional[float] = None) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64).copy()
    if min is not None:
        x[x < min] = min
    if max is not None:
        x[x > max] = max
    return x


def _split_gen(rng: np.random.Generator) -> Iterator[SampleInput]:
    for shape, kw, desc in [((5, 4), {"split_size_or_sections": 2}, "size2_uneven"),
                            ((5, 4), {"split_size_or_sections": [1, 3], "dim": 1}, "sections"),
                            ((3, 4), {"split_size_or_sections": 3, "dim": -1}, "neg_dim"),
                            ((3, 4), {"split_size_or_sections": 5}, "bigger_than_dim")]:
        yield SampleInput((_uniform(rng, shape),), dict(kw), desc=desc)


def _ref_split(x: np.ndarray, split_size_or_sections: Any, dim: int = 0) -> tuple:
    n = x.shape[dim]
    if isinstance(split_size_or_sections, int):
        s = split_size_or_sections
        sizes = [min(s, n - start) for start in range(0, n, s)]
    else:
        sizes = list(split_size_or_sections)
    out, start = [], 0
    for k in sizes:
        idx = [slice(None)] * x.ndim
        idx[dim] = slice(start, start + k)
        out.append(np.asarray(x, np.float64)[tuple(idx)])
        start += k
    return tuple(out)


def _chunk_gen(rng: np.random.Generator) -> Iterator[SampleInput]:
    for shape, kw, desc in [((5, 4), {"chunks": 3}, "uneven"), ((5, 4), {"chunks": 2, "dim": 1}, "even"),
                            ((6, 2), {"chunks": 4}, "fewer_than_asked"), ((3, 2), {"chunks": 1, "dim": -1}, "one")]:
        yield SampleInput((_uniform(rng, shape),), dict(kw), desc=desc)


def _ref_chunk(x: np.ndarray, chunks: int, dim: int = 0) -> tuple:
    n = x.shape[dim]
    return _ref_split(x, max(-(-n // chunks), 1), dim)


def _cast_gen(rng: np.random.Generator) -> Iterator[SampleInput]:
    # Dyadic values: exact in float32, so the float32 round trip is exact and finite
    # differences through a float32 cast are exact too (see the "float" entry's gradcheck).
    for shape, desc in [((3, 4), "2d"), ((), "0d"), ((2, 1, 3), "3d")]:
        yield SampleInput((_dyadic(rng, shape),), desc=desc)


# ============================================================================ references
def _ref_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Matrix product with explicit batch broadcasting and a per-batch einsum."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    va, vb = a.ndim == 1, b.ndim == 1
    A = a.reshape(1, -1) if va else a
    B = b.reshape(-1, 1) if vb else b
    batch = np.broadcast_shapes(A.shape[:-2], B.shape[:-2])
    A = np.broadcast_to(A, batch + A.shape[-2:])
    B = np.broadcast_to(B, batch + B.shape[-2:])
    out = np.empty(batch + (A.shape[-2], B.shape[-1]))
    for idx in np.ndindex(*batch):
        out[idx] = np.einsum("ij,jk->ik", A[idx], B[idx])
    if va:
        out = out[..., 0, :]
    if vb:
        out = out[..., 0]
    return out


def _ref_sigmoid(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return 1.0 / (1.0 + np.exp(-x))  # float64: no overflow for |x| <= 700


def _ref_extremum_binary(pick: Callable) -> Callable:
    return lambda a, b: pick(np.asarray(a, np.float64), np.asarray(b, np.float64))


def _ref_reshape(x: np.ndarray, shape: tuple) -> np.ndarray:
    target = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    return np.reshape(np.asarray(x, np.float64), tuple(target))


def _ref_flatten(x: np.ndarray, start_dim: int = 0, end_dim: int = -1) -> np.ndarray:
    x = np.asarray(x, np.float64)
    if x.ndim == 0:
        return x.reshape(1)
    s, e = start_dim % x.ndim, end_dim % x.ndim
    return x.reshape(x.shape[:s] + (-1,) + x.shape[e + 1:])


def _ref_squeeze(x: np.ndarray, dim: Any = None) -> np.ndarray:
    x = np.asarray(x, np.float64)
    if dim is None:
        return np.squeeze(x)
    dims = tuple(d % x.ndim for d in (dim if isinstance(dim, tuple) else (dim,)))
    return np.squeeze(x, axis=tuple(d for d in dims if x.shape[d] == 1))


def _ref_expand(x: np.ndarray, sizes: tuple) -> np.ndarray:
    target = sizes[0] if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes
    x = np.asarray(x, np.float64)
    own = (None,) * (len(target) - x.ndim) + x.shape
    return np.broadcast_to(x, tuple(o if n == -1 else n for n, o in zip(target, own))).copy()


def _ref_permute(x: np.ndarray, dims: tuple) -> np.ndarray:
    order = dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
    return np.transpose(np.asarray(x, np.float64), tuple(order))


def _ref_getitem(x: np.ndarray, index: Any, as_tensor: bool = False) -> np.ndarray:
    return np.asarray(np.asarray(x, np.float64)[index])


def _ref_cat(*xs: np.ndarray, dim: int = 0, axis: Optional[int] = None) -> np.ndarray:
    return np.concatenate([np.asarray(x, np.float64) for x in xs], axis=dim if axis is None else axis)


def _ref_stack(*xs: np.ndarray, dim: int = 0, axis: Optional[int] = None) -> np.ndarray:
    return np.stack([np.asarray(x, np.float64) for x in xs], axis=dim if axis is None else axis)


def _ref_where(a: Any, b: Any, cond: np.ndarray, cond_as_tensor: bool = False) -> np.ndarray:
    return np.where(cond, *_f64(a, b))


# ============================================================================ torch helpers
def _torch_cat(*ts: Any, dim: int = 0, axis: Optional[int] = None) -> Any:
    import torch

    return torch.cat(list(ts), dim=dim if axis is None else axis)


def _torch_stack(*ts: Any, dim: int = 0, axis: Optional[int] = None) -> Any:
    import torch

    return torch.stack(list(ts), dim=dim if axis is None else axis)


def _torch_where(a: Any, b: Any, cond: np.ndarray, cond_as_tensor: bool = False) -> Any:
    import torch

    return torch.where(torch.from_numpy(np.array(cond)), a, b)


def _torch_getitem(t: Any, index: Any, as_tensor: bool = False) -> Any:
    return t[to_torch_index(index)]


def _torch_pad(t: Any, pad: Sequence[int], mode: str = "constant", value: float = 0.0) -> Any:
    import torch

    return torch.nn.functional.pad(t, tuple(pad), mode=mode, value=value)


def _torch_dtype(dtype: Any) -> Any:
    import torch

    return {F32: torch.float32, F64: torch.float64}[np.dtype(dtype)]


def _torch_binary_extremum(name: str) -> Callable:
    """``torch.maximum``/``minimum`` take only tensors: wrap a Python number like ``a``."""

    def f(a: Any, b: Any) -> Any:
        import torch

        if not isinstance(b, torch.Tensor):
            b = torch.tensor(b, dtype=a.dtype)
        return getattr(torch, name)(a, b)

    return f


def _tfn(name: str) -> Callable:
    """``torch.<name>`` looked up lazily (torch may be absent)."""

    def f(*args: Any, **kw: Any) -> Any:
        import torch

        return getattr(torch, name)(*args, **kw)

    return f


# ============================================================================== the database
_pos_domain = _all_arrays(lambda a: np.all(a > 0))
_nonzero_domain = _all_arrays(lambda a: np.all(np.abs(a) >= KINK_MARGIN))


def _div_domain(s: SampleInput) -> bool:
    b = s.inputs[1]
    return bool(np.all(np.abs(np.asarray(b, np.float64)) >= 0.1))


def _pow_domain(s: SampleInput) -> bool:
    a = s.inputs[0]
    return bool(np.all(np.asarray(a, np.float64) > 0))


def _pow_scalar_domain(s: SampleInput) -> bool:
    a, p = s.inputs
    a = np.asarray(a, np.float64)
    if float(p).is_integer():
        return p >= 0 or bool(np.all(np.abs(a) >= 0.1))
    return bool(np.all(a > 0))


op_db: list[OpInfo] = [
    # ------------------------------------------------------------------ arithmetic
    OpInfo("add", lambda a, b: a + b, lambda a, b: np.add(*_f64(a, b)), lambda a, b: a + b,
           _typed(_binary_gen(_uniform, _uniform)),
           aliases={"method": lambda a, b: a.add(b) if isinstance(a, cnnkit.Tensor) else b.__radd__(a)}),
    OpInfo("sub", lambda a, b: a - b, lambda a, b: np.subtract(*_f64(a, b)), lambda a, b: a - b,
           _typed(_binary_gen(_uniform, _uniform)),
           aliases={"method": lambda a, b: a.sub(b) if isinstance(a, cnnkit.Tensor) else b.__rsub__(a)}),
    OpInfo("sub_alpha", lambda a, b: a.sub(b, alpha=2.5),
           lambda a, b: np.asarray(a, np.float64) - 2.5 * np.asarray(b, np.float64),
           lambda a, b: a.sub(b, alpha=2.5), _typed(_binary_gen(_uniform, _uniform, scalars_left=()))),
    OpInfo("mul", lambda a, b: a * b, lambda a, b: np.multiply(*_f64(a, b)), lambda a, b: a * b,
           _typed(_binary_gen(_uniform, _uniform)),
           aliases={"method": lambda a, b: a.mul(b) if isinstance(a, cnnkit.Tensor) else b.__rmul__(a)}),
    OpInfo("div", lambda a, b: a / b, lambda a, b: np.divide(*_f64(a, b)), lambda a, b: a / b,
           _typed(_binary_gen(_uniform, _nonzero, scalars_right=(2.5, -4))), domain=_div_domain,
           aliases={"method": lambda a, b: a.div(b) if isinstance(a, cnnkit.Tensor) else b.__rtruediv__(a)}),
    OpInfo("neg", lambda x: -x, lambda x: -np.asarray(x, np.float64), lambda t: -t,
           _typed(_unary_gen(_uniform)), aliases={"method": lambda x: x.neg()}),
    OpInfo("pow_scalar_exponent", lambda a, p: a ** p, lambda a, p: np.power(np.asarray(a, np.float64), p),
           lambda a, p: a ** p, _typed(_pow_scalar_gen), domain=_pow_scalar_domain,
           aliases={"method": lambda a, p: a.pow(p)}),
    OpInfo("pow", lambda a, b: a ** b, lambda a, b: np.power(*_f64(a, b)), lambda a, b: a ** b,
           _typed(_pow_gen), domain=_pow_domain),
    OpInfo("square", lambda x: x.square(), lambda x: np.asarray(x, np.float64) ** 2, lambda t: t.square(),
           _typed(_unary_gen(_uniform))),
    OpInfo("matmul", lambda a, b: a @ b, _ref_matmul, lambda a, b: a @ b, _typed(_matmul_gen),
           aliases={"method": lambda a, b: a.matmul(b), "cnnkit.matmul": lambda a, b: cnnkit.matmul(a, b),
                    "F.matmul": lambda a, b: F.matmul(a, b)}),
    # ---------------------------------------------------------------------- unary
    OpInfo("exp", lambda x: x.exp(), lambda x: np.exp(np.asarray(x, np.float64)), _tfn("exp"),
           _typed(_unary_gen(_uniform)), aliases={"cnnkit.exp": lambda x: cnnkit.exp(x)}),
    OpInfo("log", lambda x: x.log(), lambda x: np.log(np.asarray(x, np.float64)), _tfn("log"),
           _typed(_unary_gen(_positive)), domain=_pos_domain, aliases={"cnnkit.log": lambda x: cnnkit.log(x)}),
    OpInfo("sqrt", lambda x: x.sqrt(), lambda x: np.sqrt(np.asarray(x, np.float64)), _tfn("sqrt"),
           _typed(_unary_gen(_positive)), domain=_pos_domain, aliases={"cnnkit.sqrt": lambda x: cnnkit.sqrt(x)}),
    OpInfo("abs", lambda x: x.abs(), lambda x: np.abs(np.asarray(x, np.float64)), _tfn("abs"),
           _typed(_unary_gen(lambda rng, s: _away(rng, s, (0.0,)))), domain=_nonzero_domain,
           aliases={"cnnkit.abs": lambda x: cnnkit.abs(x)}),
    OpInfo("tanh", lambda x: x.tanh(), lambda x: np.tanh(np.asarray(x, np.float64)), _tfn("tanh"),
           _typed(_unary_gen(lambda rng, s: _uniform(rng, s, -3, 3), extra=[([-20.0, 20.0], "saturated")])),
           aliases={"cnnkit.tanh": lambda x: cnnkit.tanh(x)}),
    OpInfo("sigmoid", lambda x: x.sigmoid(), _ref_sigmoid, _tfn("sigmoid"),
           _typed(_unary_gen(lambda rng, s: _uniform(rng, s, -4, 4),
                             extra=[([-50.0, -20.0, -1.0, 0.0, 1.0, 20.0, 50.0], "large_abs")])),
           aliases={"cnnkit.sigmoid": lambda x: cnnkit.sigmoid(x), "F.sigmoid": lambda x: F.sigmoid(x)}),
    OpInfo("relu", lambda x: x.relu(), lambda x: np.maximum(np.asarray(x, np.float64), 0.0), _tfn("relu"),
           _typed(_unary_gen(lambda rng, s: _away(rng, s, (0.0,)))), domain=_nonzero_domain,
           aliases={"cnnkit.relu": lambda x: cnnkit.relu(x), "F.relu": lambda x: F.relu(x)}),
    OpInfo("maximum", lambda a, b: a.maximum(b), _ref_extremum_binary(np.maximum), _torch_binary_extremum("maximum"),
           _typed(_extremum_gen), domain=_operands_apart,
           aliases={"cnnkit.maximum": lambda a, b: cnnkit.maximum(a, b),
                    "max_tensor": lambda a, b: a.max(b if isinstance(b, cnnkit.Tensor) else cnnkit.tensor(b, dtype=a.dtype))}),
    OpInfo("minimum", lambda a, b: a.minimum(b), _ref_extremum_binary(np.minimum), _torch_binary_extremum("minimum"),
           _typed(_extremum_gen), domain=_operands_apart,
           aliases={"cnnkit.minimum": lambda a, b: cnnkit.minimum(a, b),
                    "min_tensor": lambda a, b: a.min(b if isinstance(b, cnnkit.Tensor) else cnnkit.tensor(b, dtype=a.dtype))}),
    OpInfo("clamp", lambda x, **kw: x.clamp(**kw), _ref_clamp, lambda t, **kw: t.clamp(**kw), _typed(_clamp_gen),
           domain=_away_from(lambda s: s.kwargs.values()),
           aliases={"clip": lambda x, **kw: x.clip(**kw), "cnnkit.clamp": lambda x, **kw: cnnkit.clamp(x, **kw),
                    "cnnkit.clip": lambda x, **kw: cnnkit.clip(x, **kw)}),
    # ----------------------------------------------------------------- reductions
    OpInfo("sum", lambda x, **kw: x.sum(**kw), lambda x, **kw: _ref_reduce(x, kw, math.fsum), _torch_reduce("sum"),
           _typed(_reduce_gen(_uniform)), aliases={"cnnkit.sum": _functional_reduce(cnnkit.sum)}),
    OpInfo("mean", lambda x, **kw: x.mean(**kw), lambda x, **kw: _ref_reduce(x, kw, lambda v: math.fsum(v) / len(v)),
           _torch_reduce("mean"), _typed(_reduce_gen(_uniform)), aliases={"cnnkit.mean": _functional_reduce(cnnkit.mean)}),
    OpInfo("var", lambda x, **kw: x.var(**kw), _ref_var, _torch_reduce("var"),
           # No 0-d (one element: correction 1 divides by zero) and no window of one element.
           _typed(_reduce_gen(_uniform, [c for c in REDUCE_CASES if math.prod(c[0]) > 1], VAR_EXTRA, skip_0d=True))),
    OpInfo("std", lambda x, **kw: x.std(**kw), _ref_std, _torch_reduce("std"),
           _typed(_reduce_gen(_uniform, [c for c in REDUCE_CASES if math.prod(c[0]) > 1], VAR_EXTRA, skip_0d=True))),
    OpInfo("max", lambda x, **kw: x.max(**kw), lambda x, **kw: _ref_reduce(x, kw, _py_max), _torch_reduce("amax"),
           _typed(_reduce_gen(_distinct)), domain=_no_ties_within_rows,
           aliases={"amax": lambda x, **kw: x.amax(**kw)}),
    OpInfo("min", lambda x, **kw: x.min(**kw), lambda x, **kw: _ref_reduce(x, kw, _py_min), _torch_reduce("amin"),
           _typed(_reduce_gen(_distinct)), domain=_no_ties_within_rows,
           aliases={"amin": lambda x, **kw: x.amin(**kw)}),
    # ---------------------------------------------------------------------- shape
    OpInfo("reshape", lambda x, shape: x.reshape(*shape), _ref_reshape, lambda t, shape: t.reshape(*shape),
           _typed(_reshape_gen), aliases={"view": lambda x, shape: x.view(*shape)}),
    OpInfo("transpose", lambda x, dim0, dim1: x.transpose(dim0, dim1),
           lambda x, dim0, dim1: np.swapaxes(np.asarray(x, np.float64), dim0, dim1),
           lambda t, dim0, dim1: t.transpose(dim0, dim1), _typed(_transpose_gen)),
    OpInfo("permute", lambda x, dims: x.permute(*dims), _ref_permute, lambda t, dims: t.permute(*dims),
           _typed(_permute_gen)),
    OpInfo("flatten", lambda x, **kw: x.flatten(**kw), _ref_flatten, lambda t, **kw: t.flatten(**kw),
           _typed(_flatten_gen)),
    OpInfo("squeeze", lambda x, **kw: x.squeeze(**kw), _ref_squeeze, lambda t, **kw: t.squeeze(**kw),
           _typed(_squeeze_gen)),
    OpInfo("unsqueeze", lambda x, dim: x.unsqueeze(dim), lambda x, dim: np.expand_dims(np.asarray(x, np.float64), dim),
           lambda t, dim: t.unsqueeze(dim), _typed(_unsqueeze_gen)),
    OpInfo("expand", lambda x, sizes: x.expand(*sizes), _ref_expand, lambda t, sizes: t.expand(*sizes),
           _typed(_expand_gen)),
    OpInfo("broadcast_to", lambda x, shape: x.broadcast_to(shape),
           lambda x, shape: np.broadcast_to(np.asarray(x, np.float64), shape).copy(),
           lambda t, shape: t.broadcast_to(shape), _typed(_broadcast_to_gen),
           aliases={"expand_as": lambda x, shape: x.expand_as(cnnkit.zeros(shape))}),
    OpInfo("getitem", _getitem_fn, _ref_getitem, _torch_getitem, _typed(_getitem_gen)),
    OpInfo("cat", lambda *xs, **kw: cnnkit.cat(list(xs), **kw), _ref_cat, _torch_cat, _typed(_cat_gen),
           aliases={"concatenate": lambda *xs, **kw: cnnkit.concatenate(xs, **kw),
                    "F.cat": lambda *xs, **kw: F.cat(tuple(xs), **kw)}),
    OpInfo("stack", lambda *xs, **kw: cnnkit.stack(list(xs), **kw), _ref_stack, _torch_stack, _typed(_stack_gen),
           aliases={"F.stack": lambda *xs, **kw: F.stack(tuple(xs), **kw)}),
    OpInfo("pad", lambda x, **kw: F.pad(x, **kw), _ref_pad, _torch_pad, _typed(_pad_gen)),
    OpInfo("pad_modes", lambda x, **kw: F.pad(x, **kw), _ref_pad_mode, _torch_pad, _typed(_pad_mode_gen)),
    OpInfo("where", _where_fn, _ref_where, _torch_where, _typed(_where_gen),
           aliases={"method": lambda a, b, cond, cond_as_tensor=False:
                    a.where(cond, b) if isinstance(a, cnnkit.Tensor) else cnnkit.where(cond, a, b)}),
    OpInfo("split", lambda x, **kw: x.split(**kw), _ref_split,
           lambda t, split_size_or_sections, dim=0: _tfn("split")(t, split_size_or_sections, dim),
           _typed(_split_gen)),
    OpInfo("chunk", lambda x, **kw: x.chunk(**kw), _ref_chunk, lambda t, **kw: t.chunk(**kw), _typed(_chunk_gen)),
    OpInfo("clone", lambda x: x.clone(), lambda x: np.array(x, dtype=np.float64), lambda t: t.clone(),
           _typed(_unary_gen(_uniform))),
    # --------------------------------------------------------------------- dtypes
    OpInfo("to_float64", lambda x: x.to(np.float64), lambda x: np.asarray(x, np.float64),
           lambda t: t.to(_torch_dtype(np.float64)), _typed(_cast_gen), out_dtype=F64,
           aliases={"double": lambda x: x.double(), "to_str": lambda x: x.to("float64")}),
    OpInfo("to_float32", lambda x: x.to(np.float32), lambda x: np.asarray(x, np.float64),
           lambda t: t.to(_torch_dtype(np.float32)), _typed(_cast_gen), out_dtype=F32,
           aliases={"float": lambda x: x.float()},
           # The output is float32, so with eps=1e-6 the finite differences would measure float32
           # rounding. The samples are multiples of 1/64 and eps = 2**-10, so x +- eps and the
           # float32 cast are exact and the numerical gradient is exact.
           gradcheck_kwargs={"eps": 2.0 ** -10}),
]

OPS_BY_NAME = {op.name: op for op in op_db}
