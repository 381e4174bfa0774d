"""Property tests (hypothesis): broadcasting, reductions, gradient conservation, round trips.

Shapes come from ``hypothesis.extra.numpy``; every test is derandomized (a fixed seed) and kept
to at most 50 examples so the suite stays fast and deterministic.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import cnnkit

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, database=None)
FEW = settings(max_examples=25, deadline=None, derandomize=True, database=None)

values = st.floats(-3, 3, allow_nan=False, allow_infinity=False, width=64)
pair_shapes = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=1, max_side=4)
shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=4)
seeds = st.integers(0, 2**32 - 1)


def _leaf(a: np.ndarray) -> cnnkit.Tensor:
    return cnnkit.Tensor(np.array(a, dtype=np.float64), requires_grad=True)


def _unbroadcast_loop(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``g`` into ``shape`` element by element: out[i mod shape] += g[i]."""
    out = np.zeros(shape)
    offset = g.ndim - len(shape)
    for idx in np.ndindex(*g.shape):
        src = tuple(0 if n == 1 else i for i, n in zip(idx[offset:], shape))
        out[src] += g[idx]
    return out


BINARY: dict = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / b, np.divide),
    "maximum": (lambda a, b: a.maximum(b), np.maximum),
    "minimum": (lambda a, b: a.minimum(b), np.minimum),
    "pow": (lambda a, b: a ** b, np.power),
}


# ------------------------------------------------------------------------------- broadcasting
@pytest.mark.parametrize("name", list(BINARY))
@SETTINGS
@given(shapes=pair_shapes, seed=seeds)
def test_binary_ops_broadcast_like_numpy(name: str, shapes: Any, seed: int) -> None:
    fn, np_fn = BINARY[name]
    (sa, sb), out_shape = shapes.input_shapes, shapes.result_shape
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 2, sa) if name in ("div", "pow") else rng.uniform(-2, 2, sa)
    b = rng.uniform(0.5, 2, sb) * rng.choice([-1, 1], sb) if name == "div" else rng.uniform(-2, 2, sb)
    ta, tb = _leaf(a), _leaf(b)
    out = fn(ta, tb)
    assert out.shape == out_shape == np.broadcast_shapes(sa, sb)
    np.testing.assert_allclose(out.data, np_fn(a, b), rtol=1e-15, atol=0)
    g = rng.standard_normal(out_shape)
    out.backward(g)
    assert ta.grad.shape == sa and tb.grad.shape == sb
    # Directional derivatives: <grad, d> equals a central difference along a random d.
    for t, x, other_first in ((ta, a, True), (tb, b, False)):
        d = rng.standard_normal(x.shape)

        def objective(v: np.ndarray) -> float:
            args = (v, b) if other_first else (a, v)
            return float(np.vdot(np_fn(*args), g))

        eps = 1e-6
        num = (objective(x + eps * d) - objective(x - eps * d)) / (2 * eps)
        if name in ("maximum", "minimum") and np.any(np.abs(np.subtract(a, b)) < 1e-4):
            continue  # a near-tie: the derivative is not defined there
        assert math.isclose(float(np.vdot(t.grad.data, d)), num, rel_tol=1e-6, abs_tol=1e-7)


@pytest.mark.parametrize("name", ["add", "sub", "mul"])
@SETTINGS
@given(shapes=pair_shapes, data=st.data())
def test_binary_gradients_are_unbroadcast_sums(name: str, shapes: Any, data: Any) -> None:
    """The gradient is the upstream gradient (times the other operand) summed over broadcast copies."""
    (sa, sb), out_shape = shapes.input_shapes, shapes.result_shape
    a = data.draw(hnp.arrays(np.float64, sa, elements=values), label="a")
    b = data.draw(hnp.arrays(np.float64, sb, elements=values), label="b")
    g = data.draw(hnp.arrays(np.float64, out_shape, elements=values), label="upstream")
    ta, tb = _leaf(a), _leaf(b)
    BINARY[name][0](ta, tb).backward(g)
    if name == "add":
        ga, gb = g, g
    elif name == "sub":
        ga, gb = g, -g
    else:
        ga, gb = g * np.broadcast_to(b, out_shape), g * np.broadcast_to(a, out_shape)
    np.testing.assert_allclose(ta.grad.data, _unbroadcast_loop(ga, sa), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tb.grad.data, _unbroadcast_loop(gb, sb), rtol=1e-12, atol=1e-12)


@SETTINGS
@given(shapes=pair_shapes)
def test_sum_of_sum_gradient_counts_broadcast_copies(shapes: Any) -> None:
    """d/da sum(a + b) is the number of copies of each element of a in the broadcast result."""
    (sa, sb), out_shape = shapes.input_shapes, shapes.result_shape
    ta, tb = _leaf(np.zeros(sa)), _leaf(np.zeros(sb))
    (ta + tb).sum().backward()
    n_out = math.prod(out_shape)
    np.testing.assert_array_equal(ta.grad.data, np.full(sa, n_out // math.prod(sa)))
    np.testing.assert_array_equal(tb.grad.data, np.full(sb, n_out // math.prod(sb)))
    # Conservation: every upstream unit lands on exactly one element of each input.
    assert ta.grad.data.sum() == tb.grad.data.sum() == n_out


@SETTINGS
@given(shapes=hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=3, max_side=4), seed=seeds)
def test_matmul_matches_numpy_with_batch_broadcasting(shapes: Any, seed: int) -> None:
    (sa, sb), out_shape = shapes.input_shapes, shapes.result_shape
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    ta, tb = _leaf(a), _leaf(b)
    out = ta @ tb
    assert out.shape == out_shape
    np.testing.assert_allclose(out.data, np.matmul(a, b), rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(out_shape)
    out.backward(g)
    assert ta.grad.shape == sa and tb.grad.shape == sb
    # The product is bilinear: <grad_a, a> = <grad_b, b> = <a @ b, g>.
    total = float(np.vdot(np.matmul(a, b), g))
    assert math.isclose(float(np.vdot(ta.grad.data, a)), total, rel_tol=1e-9, abs_tol=1e-9)
    assert math.isclose(float(np.vdot(tb.grad.data, b)), total, rel_tol=1e-9, abs_tol=1e-9)


# --------------------------------------------------------------------------------- reductions
@st.composite
def reduction_args(draw: Any, int_values: bool = False) -> tuple:
    shape = draw(shapes)
    ndim = len(shape)
    dims = draw(st.lists(st.integers(0, max(ndim - 1, 0)), unique=True, max_size=ndim)) if ndim else []
    dims = [d - ndim if draw(st.booleans()) else d for d in dims]  # some negative spellings
    dim: Any = None if not dims else (dims[0] if len(dims) == 1 and draw(st.booleans()) else tuple(dims))
    keepdim = draw(st.booleans())
    elements = st.integers(-2, 2).map(float) if int_values else values
    x = draw(hnp.arrays(np.float64, shape, elements=elements))
    return x, dim, keepdim


def _np_axis(dim: Any) -> Any:
    return dim if dim is None or isinstance(dim, tuple) else (dim,)


REDUCTIONS: dict = {
    "sum": (lambda t, **kw: t.sum(**kw), np.sum),
    "mean": (lambda t, **kw: t.mean(**kw), np.mean),
    "max": (lambda t, **kw: t.max(**kw), np.max),
    "min": (lambda t, **kw: t.min(**kw), np.min),
    "var0": (lambda t, **kw: t.var(correction=0, **kw), np.var),
}


@pytest.mark.parametrize("name", list(REDUCTIONS))
@SETTINGS
@given(args=reduction_args())
def test_reductions_match_numpy(name: str, args: tuple) -> None:
    x, dim, keepdim = args
    fn, np_fn = REDUCTIONS[name]
    spelling = {"dim": dim, "keepdim": keepdim} if isinstance(dim, int) or dim is None else {"axis": dim, "keepdims": keepdim}
    out = fn(_leaf(x), **spelling)
    expected = np_fn(x, axis=_np_axis(dim), keepdims=keepdim)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", list(REDUCTIONS))
@SETTINGS
@given(args=reduction_args(int_values=True), seed=seeds)
def test_reduction_gradients_conserve_the_upstream(name: str, args: tuple, seed: int) -> None:
    """Small integer values (many ties): per window, the gradient shares add up as they should."""
    x, dim, keepdim = args
    t = _leaf(x)
    out = REDUCTIONS[name][0](t, dim=dim, keepdim=keepdim)
    g = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(g)
    axis = _np_axis(dim)
    window = x.size if axis is None else math.prod(x.shape[d] for d in axis)
    per_window = t.grad.data.sum(axis=axis, keepdims=True)
    g_kept = np.reshape(g, per_window.shape)  # reinsert the reduced dims
    if name == "sum":
        np.testing.assert_allclose(per_window, g_kept * window, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(t.grad.data, np.broadcast_to(g_kept, x.shape), rtol=0, atol=0)
    elif name == "mean":
        np.testing.assert_allclose(per_window, g_kept, rtol=1e-12, atol=1e-12)
    elif name in ("max", "min"):
        np.testing.assert_allclose(per_window, g_kept, rtol=1e-12, atol=1e-12)
        extreme = (np.max if name == "max" else np.min)(x, axis=axis, keepdims=True)
        assert np.all(t.grad.data[x != extreme] == 0)  # only the winners get a share
        counts = np.sum(x == extreme, axis=axis, keepdims=True)
        winners = np.broadcast_to(g_kept / counts, x.shape)
        np.testing.assert_allclose(t.grad.data[x == extreme], winners[x == extreme], rtol=1e-12)
    else:  # the variance is shift-invariant: its gradient sums to zero in every window
        np.testing.assert_allclose(per_window, 0, atol=1e-12)


# -------------------------------------------------------------------------------- round trips
@SETTINGS
@given(x=hnp.arrays(np.float64, shapes, elements=values), data=st.data())
def test_permute_round_trip(x: np.ndarray, data: Any) -> None:
    order = data.draw(st.permutations(range(x.ndim)))
    inverse = tuple(int(i) for i in np.argsort(order))
    t = _leaf(x)
    y = t.permute(*order)
    np.testing.assert_array_equal(y.data, np.transpose(x, order))
    back = y.permute(*inverse)
    np.testing.assert_array_equal(back.data, x)
    g = np.arange(x.size, dtype=np.float64).reshape(x.shape)
    back.backward(g)
    np.testing.assert_array_equal(t.grad.data, g)


@SETTINGS
@given(x=hnp.arrays(np.float64, shapes, elements=values), data=st.data())
def test_reshape_round_trip(x: np.ndarray, data: Any) -> None:
    # A target shape with the same number of elements: shuffle the sizes and maybe use -1.
    sizes = list(data.draw(st.permutations(list(x.shape)))) + [1] * data.draw(st.integers(0, 2))
    sizes = data.draw(st.permutations(sizes))
    if sizes and data.draw(st.booleans()):
        sizes[data.draw(st.integers(0, len(sizes) - 1))] = -1
    t = _leaf(x)
    y = t.reshape(*sizes)
    np.testing.assert_array_equal(y.data, x.reshape(sizes))
    back = y.reshape(x.shape)
    np.testing.assert_array_equal(back.data, x)
    g = np.arange(x.size, dtype=np.float64).reshape(x.shape)
    back.backward(g)
    np.testing.assert_array_equal(t.grad.data, g)


@SETTINGS
@given(x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=4, max_side=4), elements=values), data=st.data())
def test_flatten_unsqueeze_squeeze_transpose_round_trips(x: np.ndarray, data: Any) -> None:
    nd = x.ndim
    start = data.draw(st.integers(-nd, nd - 1))
    end = data.draw(st.integers(start % nd, nd - 1))
    pos = data.draw(st.integers(-nd - 1, nd))
    d0, d1 = data.draw(st.integers(-nd, nd - 1)), data.draw(st.integers(-nd, nd - 1))
    t = _leaf(x)
    flat = t.flatten(start, end)
    assert flat.shape == x.shape[: start % nd] + (math.prod(x.shape[start % nd: end + 1]),) + x.shape[end + 1:]
    out = flat.reshape(x.shape).unsqueeze(pos).squeeze(pos).transpose(d0, d1).transpose(d0, d1)
    np.testing.assert_array_equal(out.data, x)
    g = np.random.default_rng(0).standard_normal(x.shape)
    out.backward(g)
    np.testing.assert_array_equal(t.grad.data, g)


@SETTINGS
@given(x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=5), elements=values), data=st.data())
def test_split_cat_round_trip(x: np.ndarray, data: Any) -> None:
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
    size = data.draw(st.integers(1, x.shape[dim] + 1))
    t = _leaf(x)
    parts = t.split(size, dim=dim)
    assert sum(p.shape[dim] for p in parts) == x.shape[dim]
    assert all(p.shape[dim] == size for p in parts[:-1])
    back = cnnkit.cat(parts, dim=dim)
    np.testing.assert_array_equal(back.data, x)
    g = np.random.default_rng(1).standard_normal(x.shape)
    back.backward(g)
    np.testing.assert_array_equal(t.grad.data, g)


@SETTINGS
@given(x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, max_side=4), elements=values), data=st.data())
def test_stack_gradients_are_the_slices(x: np.ndarray, data: Any) -> None:
    n = data.draw(st.integers(1, 3))
    dim = data.draw(st.integers(-x.ndim - 1, x.ndim))
    leaves = [_leaf(x * (k + 1)) for k in range(n)]
    out = cnnkit.stack(leaves, dim=dim)
    np.testing.assert_array_equal(out.data, np.stack([x * (k + 1) for k in range(n)], axis=dim))
    g = np.random.default_rng(2).standard_normal(out.shape)
    out.backward(g)
    for k, leaf in enumerate(leaves):
        np.testing.assert_array_equal(leaf.grad.data, np.take(g, k, axis=dim % out.ndim))


@SETTINGS
@given(shapes=hnp.broadcastable_shapes(shape=(3, 1, 2), min_dims=0, max_dims=3, min_side=1, max_side=3), seed=seeds)
def test_broadcast_to_gradient_sums_the_copies(shapes: tuple, seed: int) -> None:
    """broadcast_to(x, S) for every x broadcastable to S: gradient = unbroadcast sum of upstream."""
    target = (3, 1, 2)
    if np.broadcast_shapes(shapes, target) != target:
        return  # broadcastable, but only by growing the target
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shapes)
    t = _leaf(x)
    out = t.broadcast_to(target)
    np.testing.assert_array_equal(out.data, np.broadcast_to(x, target))
    g = rng.standard_normal(target)
    out.backward(g)
    np.testing.assert_allclose(t.grad.data, _unbroadcast_loop(g, shapes), rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------- indexing
@SETTINGS
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), data=st.data())
def test_integer_array_indexing_scatter_adds(shape: tuple, data: Any) -> None:
    """Repeated indices accumulate: d/dx sum(x[idx] * g) = bincount of idx weighted by g."""
    idx = np.array(data.draw(st.lists(st.integers(-shape[0], shape[0] - 1), min_size=1, max_size=8)))
    x = np.random.default_rng(3).standard_normal(shape)
    t = _leaf(x)
    out = t[idx]
    np.testing.assert_array_equal(out.data, x[idx])
    g = np.random.default_rng(4).standard_normal(out.shape)
    out.backward(g)
    expected = np.zeros(shape)
    for k, i in enumerate(idx):
        expected[i] += g[k]
    np.testing.assert_allclose(t.grad.data, expected, rtol=1e-12, atol=1e-12)
    # Conservation: each upstream element lands on exactly one input element.
    assert math.isclose(t.grad.data.sum(), g.sum(), rel_tol=1e-9, abs_tol=1e-9)


@SETTINGS
@given(x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), elements=values),
       data=st.data())
def test_boolean_mask_gradient_is_the_mask(x: np.ndarray, data: Any) -> None:
    mask = data.draw(hnp.arrays(np.bool_, x.shape))
    t = _leaf(x)
    out = t[mask]
    np.testing.assert_array_equal(out.data, x[mask])
    out.sum().backward()
    np.testing.assert_array_equal(t.grad.data, mask.astype(np.float64))


@FEW
@given(x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), elements=values),
       data=st.data())
def test_slicing_matches_numpy(x: np.ndarray, data: Any) -> None:
    index = data.draw(hnp.basic_indices(x.shape, allow_newaxis=True, allow_ellipsis=True))
    t = _leaf(x)
    out = t[index]
    np.testing.assert_array_equal(out.data, x[index])
    g = np.random.default_rng(5).standard_normal(out.shape)
    out.backward(g)
    expected = np.zeros(x.shape)
    expected[index] += g  # basic indices never repeat an element
    np.testing.assert_array_equal(t.grad.data, expected)


# ---------------------------------------------------------------------------------- where/pad
@SETTINGS
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=3), seed=seeds)
def test_where_broadcasts_and_routes_gradients(shapes: Any, seed: int) -> None:
    sc, sa, sb = shapes.input_shapes
    rng = np.random.default_rng(seed)
    cond = rng.random(sc) < 0.5
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    ta, tb = _leaf(a), _leaf(b)
    out = cnnkit.where(cond, ta, tb)
    assert out.shape == shapes.result_shape
    np.testing.assert_array_equal(out.data, np.where(cond, a, b))
    g = rng.standard_normal(out.shape)
    out.backward(g)
    full = np.broadcast_to(cond, out.shape)
    np.testing.assert_allclose(ta.grad.data, _unbroadcast_loop(np.where(full, g, 0), sa), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tb.grad.data, _unbroadcast_loop(np.where(full, 0, g), sb), rtol=1e-12, atol=1e-12)


@SETTINGS
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), data=st.data())
def test_pad_then_crop_is_identity(shape: tuple, data: Any) -> None:
    """pad by p then pad by -p gives the input back; the gradient passes through unchanged."""
    k = data.draw(st.integers(1, len(shape)))
    widths = data.draw(st.lists(st.integers(0, 2), min_size=2 * k, max_size=2 * k))
    value = data.draw(st.floats(-2, 2, allow_nan=False))
    x = np.random.default_rng(6).standard_normal(shape)
    t = _leaf(x)
    padded = cnnkit.functional.pad(t, widths, value=value)
    expected_shape = list(shape)
    for j in range(k):
        expected_shape[-1 - j] += widths[2 * j] + widths[2 * j + 1]
    assert padded.shape == tuple(expected_shape)
    assert math.isclose(float(padded.data.sum()), x.sum() + value * (padded.size - x.size), rel_tol=1e-9, abs_tol=1e-9)
    back = cnnkit.functional.pad(padded, [-w for w in widths])
    np.testing.assert_array_equal(back.data, x)
    g = np.random.default_rng(7).standard_normal(shape)
    back.backward(g)
    np.testing.assert_array_equal(t.grad.data, g)


# ---------------------------------------------------------------------------- unary identities
UNARY_IDENTITIES: dict = {
    "tanh_odd": (lambda t: t.tanh() + (-t).tanh(), lambda x: np.zeros_like(x)),
    "sigmoid_symmetry": (lambda t: t.sigmoid() + (-t).sigmoid(), lambda x: np.ones_like(x)),
    "exp_log": (lambda t: t.exp().log(), lambda x: x),
    "sqrt_square": (lambda t: (t * t).sqrt(), np.abs),
    "relu_decomposition": (lambda t: t.relu() - (-t).relu(), lambda x: x),
    "clamp_is_min_max": (lambda t: t.clamp(-0.5, 0.5) - t.maximum(-0.5).minimum(0.5), lambda x: np.zeros_like(x)),
}


@pytest.mark.parametrize("name", list(UNARY_IDENTITIES))
@FEW
@given(x=hnp.arrays(np.float64, shapes, elements=st.floats(-20, 20, allow_nan=False)))
def test_unary_identities(name: str, x: np.ndarray) -> None:
    fn, expected = UNARY_IDENTITIES[name]
    np.testing.assert_allclose(fn(cnnkit.tensor(x)).data, expected(x), rtol=1e-12, atol=1e-12)
