"""Every op in the OpInfo database: forward vs NumPy, gradients vs finite differences and PyTorch.

Test kinds (the names used by ``OpInfo.xfails``): ``forward64``, ``forward32``, ``gradcheck``,
``grad_fd`` (own finite differences of the NumPy reference), ``parity``, ``noncontig``, ``alias``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import cnnkit

from .opinfo import F32, F64, GRADCHECK_KW, OpInfo, SampleInput, _f64, as_list, bind, leaf, op_db

MAX_ELEMENTS = 60  # per input: gradcheck is elementwise, so keep the suite fast


def _cases(kind: str, dtype: Any = F64, torch_only: bool = False, strided_only: bool = False) -> list:
    params = []
    for op in op_db:
        if torch_only and op.torch_fn is None:
            continue
        for s in op.samples(dtype):
            if torch_only and not s.torch:
                continue
            if strided_only and all(a.size < 2 for a in s.arrays()):
                continue  # 0-d / one-element inputs have no non-contiguous layout
            reason = op.xfail_reason(kind, s.desc)
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            params.append(pytest.param(op, s, id=f"{op.name}-{s.desc}", marks=marks))
    return params


def _alias_cases() -> list:
    params = []
    for op in op_db:
        for name, alias in op.aliases.items():
            for s in op.samples(F64):
                reason = op.xfail_reason("alias", s.desc)
                marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
                params.append(pytest.param(op, alias, s, id=f"{op.name}-{name}-{s.desc}", marks=marks))
    return params


def _run(op_fn: Any, sample: SampleInput, arrays: list, upstream_seed: int = 1) -> tuple:
    """Forward with leaves wrapping ``arrays``, backward with a random upstream gradient."""
    tensors = [leaf(a) for a in arrays]
    outs = as_list(bind(op_fn, sample)(*tensors))
    rng = np.random.default_rng(upstream_seed)
    upstream = [rng.standard_normal(o.shape).astype(o.dtype) for o in outs]
    cnnkit.autograd.backward(outs, upstream)
    return tensors, outs, upstream


def _grad(t: cnnkit.Tensor) -> np.ndarray:
    assert t.grad is not None, "an input of the op received no gradient"
    assert t.grad.shape == t.shape and t.grad.dtype == t.dtype, (t.grad.shape, t.grad.dtype, t.shape, t.dtype)
    return t.grad.data


# ------------------------------------------------------------------------------- the samples
@pytest.mark.parametrize("op", op_db, ids=[op.name for op in op_db])
def test_samples_are_well_formed(op: OpInfo) -> None:
    for dtype in (F64, F32):
        samples = op.samples(dtype)
        assert len(samples) >= 3
        descs = [s.desc for s in samples]
        assert len(set(descs)) == len(descs), "sample descriptions must be unique (they are test ids)"
        for s in samples:
            assert s.arrays(), s.desc
            for a in s.arrays():
                assert a.dtype == dtype and a.size <= MAX_ELEMENTS, (s.desc, a.dtype, a.shape)
            if op.domain is not None:
                assert op.domain(s), f"sample {s.desc} violates the op's domain"


# ---------------------------------------------------------------------------------- forward
def _check_forward(op: OpInfo, sample: SampleInput, dtype: np.dtype) -> None:
    originals = [a.copy() for a in sample.arrays()]
    outs = as_list(bind(op.fn, sample)(*[leaf(a) for a in sample.arrays()]))
    expected = as_list(op.ref(*_f64(*sample.inputs), **sample.kwargs))
    assert len(outs) == len(expected)
    rtol, atol = op.tol(dtype)
    for out, exp in zip(outs, expected):
        assert isinstance(out, cnnkit.Tensor)
        assert out.shape == np.shape(exp)
        assert out.dtype == op.expected_dtype(dtype), f"dtype {out.dtype} for {dtype} inputs"
        np.testing.assert_allclose(out.data, exp, rtol=rtol, atol=atol)
    for a, original in zip(sample.arrays(), originals):
        np.testing.assert_array_equal(a, original)  # forward never writes to its inputs


@pytest.mark.parametrize("op,sample", _cases("forward64", F64))
def test_forward_float64(op: OpInfo, sample: SampleInput) -> None:
    _check_forward(op, sample, F64)


@pytest.mark.parametrize("op,sample", _cases("forward32", F32))
def test_forward_float32(op: OpInfo, sample: SampleInput) -> None:
    _check_forward(op, sample, F32)


# --------------------------------------------------------------------------------- backward
@pytest.mark.parametrize("op,sample", _cases("gradcheck", F64))
def test_gradcheck(op: OpInfo, sample: SampleInput) -> None:
    tensors = [cnnkit.Tensor(a, requires_grad=True) for a in sample.arrays()]
    result = cnnkit.gradcheck(bind(op.fn, sample), tensors, **{**GRADCHECK_KW, **op.gradcheck_kwargs})
    assert result.passed, str(result)


def _numerical_grads(op: OpInfo, sample: SampleInput, arrays: list, upstream: list, eps: float = 1e-6) -> list:
    """Central differences of ``<ref(arrays), upstream>``: independent of cnnkit and its gradcheck."""

    def objective(values: list) -> float:
        outs = as_list(op.ref(*sample.with_arrays(values).inputs, **sample.kwargs))
        return sum(float(np.vdot(np.asarray(o, np.float64), v)) for o, v in zip(outs, upstream))

    grads = []
    for i, a in enumerate(arrays):
        g = np.zeros(a.shape)
        for k in range(a.size):
            work = [x.copy() for x in arrays]
            work[i].reshape(-1)[k] += eps
            plus = objective(work)
            work[i].reshape(-1)[k] -= 2 * eps
            minus = objective(work)
            g.reshape(-1)[k] = (plus - minus) / (2 * eps)
        grads.append(g)
    return grads


@pytest.mark.parametrize("op,sample", _cases("grad_fd", F64))
def test_grad_vs_reference_finite_differences(op: OpInfo, sample: SampleInput) -> None:
    arrays = [np.array(a, dtype=np.float64) for a in sample.arrays()]
    originals = [a.copy() for a in arrays]
    tensors, outs, upstream = _run(op.fn, sample, arrays)
    for a, original in zip(arrays, originals):
        np.testing.assert_array_equal(a, original)  # backward never writes to the inputs either
    numerical = _numerical_grads(op, sample, originals, [u.astype(np.float64) for u in upstream])
    for t, num in zip(tensors, numerical):
        np.testing.assert_allclose(_grad(t), num, rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------------------------- PyTorch
@pytest.mark.parity
@pytest.mark.parametrize("op,sample", _cases("parity", F32, torch_only=True))
def test_torch_parity(op: OpInfo, sample: SampleInput, torch: Any) -> None:
    arrays = [a.copy() for a in sample.arrays()]
    tensors, outs, upstream = _run(op.fn, sample, arrays)
    t_in = [torch.from_numpy(a.copy()).requires_grad_(True) for a in arrays]
    t_outs = as_list(bind(op.torch_fn, sample)(*t_in))
    assert len(outs) == len(t_outs)
    for out, t_out in zip(outs, t_outs):
        assert out.shape == tuple(t_out.shape)
        assert str(out.dtype) == str(t_out.dtype).replace("torch.", "")
        np.testing.assert_allclose(out.data, t_out.detach().numpy(), rtol=1e-5, atol=1e-6)
    pairs = [(o, torch.from_numpy(u.copy())) for o, u in zip(t_outs, upstream) if o.requires_grad]
    torch.autograd.backward([o for o, _ in pairs], [u for _, u in pairs])
    for t, tt in zip(tensors, t_in):
        expected = np.zeros(tt.shape, np.float32) if tt.grad is None else tt.grad.numpy()
        np.testing.assert_allclose(_grad(t), expected, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------- memory layout
def _noncontiguous(a: np.ndarray, flavour: int) -> np.ndarray:
    """The same values as a non-C-contiguous view: a transposed copy's view or a strided slice."""
    if a.ndim >= 2 and flavour % 2 == 0 and min(a.shape[-2:]) > 1:
        view = np.swapaxes(np.ascontiguousarray(np.swapaxes(a, -1, -2)), -1, -2)
    else:
        big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
        big[..., ::2] = a
        view = big[..., ::2]
    assert not view.flags.c_contiguous
    np.testing.assert_array_equal(view, a)
    return view


@pytest.mark.parametrize("op,sample", _cases("noncontig", F64, strided_only=True))
def test_noncontiguous_inputs(op: OpInfo, sample: SampleInput) -> None:
    contiguous = [np.array(a) for a in sample.arrays()]
    strided = [a if a.ndim == 0 or a.size < 2 else _noncontiguous(a, i) for i, a in enumerate(contiguous)]
    snapshot = [s.copy() for s in strided]
    t_ref, o_ref, _ = _run(op.fn, sample, contiguous)
    t_nc, o_nc, _ = _run(op.fn, sample, strided)
    for a, b in zip(o_ref, o_nc):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(b.data, a.data, rtol=1e-12, atol=1e-12)
    for a, b in zip(t_ref, t_nc):
        np.testing.assert_allclose(_grad(b), _grad(a), rtol=1e-12, atol=1e-12)
    for s, snap in zip(strided, snapshot):
        np.testing.assert_array_equal(s, snap)


# ------------------------------------------------------------------------------------ aliases
@pytest.mark.parametrize("op,alias,sample", _alias_cases())
def test_alias_matches(op: OpInfo, alias: Any, sample: SampleInput) -> None:
    """Other spellings (methods, cnnkit.*, functional, NumPy names) give identical results."""
    arrays = [np.array(a, dtype=np.float64) for a in sample.arrays()]
    t_main, o_main, _ = _run(op.fn, sample, arrays)
    t_alias, o_alias, _ = _run(alias, sample, [a.copy() for a in arrays])
    assert len(o_main) == len(o_alias)
    for a, b in zip(o_main, o_alias):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_array_equal(b.data, a.data)
    for a, b in zip(t_main, t_alias):
        np.testing.assert_array_equal(_grad(b), _grad(a))


# =========================================================================== dedicated cases
TIES = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0], [5.0, 1.0, 5.0, 5.0]], dtype=np.float32)


@pytest.mark.parametrize("method,tname", [("max", "amax"), ("min", "amin")])
@pytest.mark.parametrize("kw", [{}, {"dim": 1}, {"dim": 0, "keepdim": True}, {"dim": (0, 1)}, {"dim": -1, "keepdim": True}],
                         ids=["all", "dim1", "dim0_keepdim", "dims_tuple", "neg_keepdim"])
@pytest.mark.parity
def test_reduction_ties_split_gradient_evenly(method: str, tname: str, kw: dict, torch: Any) -> None:
    x = cnnkit.Tensor(TIES.copy(), requires_grad=True)
    out = getattr(x, method)(**kw)
    up = np.random.default_rng(3).standard_normal(out.shape).astype(np.float32)
    out.backward(up)
    tx = torch.from_numpy(TIES.copy()).requires_grad_(True)
    t_out = getattr(torch, tname)(tx, dim=kw.get("dim", (0, 1)), keepdim=kw.get("keepdim", False))
    t_out.backward(torch.from_numpy(up))
    np.testing.assert_allclose(out.data, t_out.detach().numpy())
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-6, atol=1e-7)
    # The gradient is conserved: the shares of each window sum to its upstream value.
    np.testing.assert_allclose(x.grad.data.sum(), up.sum(), rtol=1e-5)


def test_max_ties_explicit_values() -> None:
    x = cnnkit.tensor(TIES.copy(), requires_grad=True)
    x.max(dim=1).backward(cnnkit.tensor([1.0, 2.0, 3.0]))
    expected = [[0, 0.5, 0.5, 0], [0.5, 0.5, 0.5, 0.5], [1, 0, 1, 1]]
    np.testing.assert_allclose(x.grad.data, expected)
    y = cnnkit.tensor(TIES.copy(), requires_grad=True)
    y.max().backward()  # the global maximum 5 appears three times
    np.testing.assert_allclose(y.grad.data, np.where(TIES == 5, 1 / 3, 0), rtol=1e-6)


@pytest.mark.parametrize("name", ["maximum", "minimum"])
@pytest.mark.parametrize("shapes", [((6,), (6,)), ((3, 1), (1, 3))], ids=["same", "bcast"])
@pytest.mark.parity
def test_binary_extremum_ties_give_half_to_each(name: str, shapes: tuple, torch: Any) -> None:
    rng = np.random.default_rng(5)
    a = rng.integers(-2, 3, size=shapes[0]).astype(np.float32)  # small integers: many ties
    b = rng.integers(-2, 3, size=shapes[1]).astype(np.float32)
    assert np.any(np.broadcast_to(a, np.broadcast_shapes(a.shape, b.shape)) == b)
    ta, tb = cnnkit.Tensor(a.copy(), requires_grad=True), cnnkit.Tensor(b.copy(), requires_grad=True)
    out = getattr(ta, name)(tb)
    up = rng.standard_normal(out.shape).astype(np.float32)
    out.backward(up)
    pa, pb = torch.from_numpy(a.copy()).requires_grad_(True), torch.from_numpy(b.copy()).requires_grad_(True)
    t_out = getattr(torch, name)(pa, pb)
    t_out.backward(torch.from_numpy(up))
    np.testing.assert_array_equal(out.data, t_out.detach().numpy())
    np.testing.assert_allclose(ta.grad.data, pa.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(tb.grad.data, pb.grad.numpy(), rtol=1e-6)


def test_maximum_equal_inputs_explicit() -> None:
    a = cnnkit.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = cnnkit.tensor([1.0, 5.0, 3.0], requires_grad=True)
    a.maximum(b).backward(cnnkit.tensor([2.0, 2.0, 4.0]))
    np.testing.assert_array_equal(a.grad.data, [1.0, 0.0, 2.0])
    np.testing.assert_array_equal(b.grad.data, [1.0, 2.0, 2.0])


ARG = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 1.0], [0.0, 0.0, 0.0]], dtype=np.float32)


@pytest.mark.parametrize("kw", [{}, {"dim": 1}, {"dim": 0}, {"dim": -1, "keepdim": True}, {"keepdim": True}],
                         ids=["flat", "dim1", "dim0", "neg_keepdim", "flat_keepdim"])
@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin_first_occurrence_int64_no_grad(name: str, kw: dict) -> None:
    x = cnnkit.tensor(ARG.copy(), requires_grad=True)
    out = getattr(x, name)(**kw)
    assert out.dtype == np.int64
    assert not out.requires_grad and out.creator is None
    ref = getattr(np, name)(ARG, axis=kw.get("dim"), keepdims=kw.get("keepdim", False))
    np.testing.assert_array_equal(out.data, ref)
    # First occurrence, spelled out.
    if name == "argmax" and kw.get("dim") == 1:
        np.testing.assert_array_equal(out.data, [1, 0, 0])
    if name == "argmin" and kw.get("dim") == 1:
        np.testing.assert_array_equal(out.data, [0, 2, 0])
    if not kw:
        assert out.item() == (1 if name == "argmax" else 6)


@pytest.mark.parity
@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin_match_torch(name: str, torch: Any) -> None:
    for dim in (None, 0, 1):
        ours = getattr(cnnkit.tensor(ARG), name)(dim=dim)
        theirs = getattr(torch.from_numpy(ARG.copy()), name)(dim=dim)
        np.testing.assert_array_equal(ours.data, theirs.numpy())


@pytest.mark.parity
def test_kink_conventions_match_torch(torch: Any) -> None:
    """relu'(0) = abs'(0) = 0; clamp passes the gradient at its bounds."""
    x = np.array([-1.0, 0.0, 0.5, 1.0, 2.0], dtype=np.float32)
    for f, tf in [(lambda t: t.relu(), torch.relu), (lambda t: t.abs(), torch.abs),
                  (lambda t: t.clamp(0.5, 1.0), lambda t: torch.clamp(t, 0.5, 1.0)),
                  (lambda t: t.clamp(min=0.0), lambda t: torch.clamp(t, min=0.0))]:
        ours = cnnkit.tensor(x.copy(), requires_grad=True)
        f(ours).sum().backward()
        theirs = torch.from_numpy(x.copy()).requires_grad_(True)
        tf(theirs).sum().backward()
        np.testing.assert_array_equal(ours.grad.data, theirs.grad.numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_large_inputs_do_not_overflow(dtype: Any) -> None:
    x = cnnkit.tensor(np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0], dtype=dtype), requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = x.sigmoid()
        y.sum().backward()
    assert y.dtype == dtype
    assert np.all(np.isfinite(y.data)) and np.all(np.isfinite(x.grad.data))
    np.testing.assert_allclose(y.data, [0.0, 1.928749847963918e-22, 0.5, 1.0, 1.0], rtol=1e-6, atol=0)
    np.testing.assert_allclose(x.grad.data, [0.0, 1.928749847963918e-22, 0.25, 0.0, 0.0], rtol=1e-5, atol=1e-30)


def test_dtype_promotion_and_gradient_dtypes() -> None:
    a = cnnkit.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    b = cnnkit.tensor(np.full((3,), 2.0), requires_grad=True)  # float64 array keeps its dtype
    out = a * b
    assert out.dtype == np.float64
    out.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    np.testing.assert_array_equal(a.grad.data, np.full((2, 3), 2.0))
    np.testing.assert_array_equal(b.grad.data, np.full((3,), 2.0))
    # Python scalars adopt the tensor's dtype, on either side and for every operator.
    for f in (lambda t: t * 2.5, lambda t: 2.5 - t, lambda t: 2 ** t, lambda t: t ** 2, lambda t: 3 / t,
              lambda t: t.maximum(0.5), lambda t: cnnkit.where(t.data > 0, t, 0.0)):
        assert f(a).dtype == np.float32
    # Integer division gives float32.
    assert (cnnkit.tensor(np.array([1, 2])) / cnnkit.tensor(np.array([2, 4]))).dtype == np.float32


def test_var_of_one_element_is_nan_like_torch() -> None:
    x = cnnkit.tensor(np.array([[1.5], [2.5]]), requires_grad=True)
    with np.errstate(all="ignore"):
        v = x.var(dim=1)
    assert np.all(np.isnan(v.data))
    np.testing.assert_array_equal(x.var(dim=1, correction=0).data, [0.0, 0.0])


# ================================================================ graph-recording variations
def _multi_input_cases() -> list:
    params = []
    for op in op_db:
        for s in op.samples(F64):
            if len(s.arrays()) >= 2:
                reason = op.xfail_reason("partial", s.desc)
                marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
                params.append(pytest.param(op, s, id=f"{op.name}-{s.desc}", marks=marks))
    return params


@pytest.mark.parametrize("op,sample", _multi_input_cases())
def test_partial_requires_grad(op: OpInfo, sample: SampleInput) -> None:
    """With one input requiring grad, it gets the same gradient; the others get none."""
    arrays = [np.array(a, dtype=np.float64) for a in sample.arrays()]
    full, _, _ = _run(op.fn, sample, arrays)
    for chosen in range(len(arrays)):
        tensors = [leaf(a) if i == chosen else cnnkit.Tensor(a) for i, a in enumerate(arrays)]
        outs = as_list(bind(op.fn, sample)(*tensors))
        rng = np.random.default_rng(1)
        upstream = [rng.standard_normal(o.shape) for o in outs]
        assert all(o.requires_grad for o in outs)
        cnnkit.autograd.backward(outs, upstream)
        for i, t in enumerate(tensors):
            if i == chosen:
                np.testing.assert_allclose(_grad(t), _grad(full[i]), rtol=1e-13, atol=1e-15)
            else:
                assert t.grad is None


@pytest.mark.parametrize("op,sample", _cases("no_grad", F64))
def test_no_graph_without_grad(op: OpInfo, sample: SampleInput) -> None:
    """Inside no_grad, or when no input requires grad, nothing is recorded; values are the same."""
    arrays = [np.array(a, dtype=np.float64) for a in sample.arrays()]
    expected = [o.data.copy() for o in as_list(bind(op.fn, sample)(*[leaf(a) for a in arrays]))]
    with cnnkit.no_grad():
        inside = as_list(bind(op.fn, sample)(*[leaf(a) for a in arrays]))
    plain = as_list(bind(op.fn, sample)(*[cnnkit.Tensor(a) for a in arrays]))
    for outs in (inside, plain):
        for o, e in zip(outs, expected):
            assert o.creator is None
            np.testing.assert_array_equal(o.data, e)
    assert not any(o.requires_grad for o in plain)
    assert not any(o.requires_grad and not o.is_leaf for o in inside)


def _same_input_cases() -> list:
    params = []
    for op in op_db:
        for s in op.samples(F64):
            arrays = s.arrays()
            if len(arrays) == 2 and arrays[0].shape == arrays[1].shape:
                reason = op.xfail_reason("same_input", s.desc)
                marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
                params.append(pytest.param(op, s, id=f"{op.name}-{s.desc}", marks=marks))
    return params


@pytest.mark.parametrize("op,sample", _same_input_cases())
def test_same_tensor_as_both_operands(op: OpInfo, sample: SampleInput) -> None:
    """``f(x, x)``: both gradient contributions accumulate (maximum(x, x) is a tie everywhere)."""
    x = np.array(sample.arrays()[0], dtype=np.float64)
    t = leaf(x)
    outs = as_list(bind(op.fn, sample)(t, t))
    rng = np.random.default_rng(2)
    upstream = [rng.standard_normal(o.shape) for o in outs]
    cnnkit.autograd.backward(outs, upstream)

    def objective(v: np.ndarray) -> float:
        refs = as_list(op.ref(*sample.with_arrays([v, v]).inputs, **sample.kwargs))
        return sum(float(np.vdot(r, u)) for r, u in zip(refs, upstream))

    num = np.zeros(x.shape)
    for k in range(x.size):
        w = x.copy()
        w.reshape(-1)[k] += 1e-6
        plus = objective(w)
        w.reshape(-1)[k] -= 2e-6
        num.reshape(-1)[k] = (plus - objective(w)) / 2e-6
    np.testing.assert_allclose(_grad(t), num, rtol=1e-5, atol=1e-7)


# ===================================================================== NumPy operands, pow at 0
@pytest.mark.parametrize("expr", ["a + t", "a - t", "a * t", "a / t", "m @ t", "t @ m.T", "t + a", "t ** a"])
def test_numpy_array_operands(expr: str) -> None:
    """An ndarray on either side of an operator defers to the Tensor (which keeps the graph)."""
    a = np.array([0.5, 2.0, 3.0])
    m = np.arange(6.0).reshape(2, 3)
    t = cnnkit.tensor(np.array([1.0, 2.0, 4.0]), requires_grad=True)
    out = eval(expr, {"a": a, "m": m, "t": t})
    assert isinstance(out, cnnkit.Tensor) and out.requires_grad
    ref_t = np.array([1.0, 2.0, 4.0])
    np.testing.assert_allclose(out.data, eval(expr, {"a": a, "m": m, "t": ref_t}))
    result = cnnkit.gradcheck(lambda x: eval(expr, {"a": a, "m": m, "t": x}), [t], **GRADCHECK_KW)
    assert result.passed, str(result)


@pytest.mark.parity
def test_pow_tensor_exponent_gradient_at_zero_base(torch: Any) -> None:
    base = np.array([0.0, 0.0, 0.0, 2.0])
    expo = np.array([2.0, 0.0, 1.0, 1.5])
    a, b = cnnkit.tensor(base, requires_grad=True), cnnkit.tensor(expo, requires_grad=True)
    with np.errstate(all="ignore"):
        (a ** b).backward(np.ones(4))
    ta = torch.tensor(base, requires_grad=True)
    tb = torch.tensor(expo, requires_grad=True)
    (ta ** tb).backward(torch.ones(4))
    np.testing.assert_array_equal(b.grad.data, tb.grad.numpy())
    np.testing.assert_array_equal(a.grad.data, ta.grad.numpy())  # [0, 0, 1, 1.5 * sqrt(2)]


@pytest.mark.parity
@pytest.mark.parametrize("p", [0, 1, 2, 3, 0.5, -1])
def test_pow_scalar_exponent_at_zero_base_matches_torch(p: float, torch: Any) -> None:
    x = cnnkit.tensor(np.array([0.0, 1.5]), requires_grad=True)
    with np.errstate(all="ignore"):
        (x ** p).backward(np.ones(2))
    tx = torch.tensor([0.0, 1.5], dtype=torch.float64, requires_grad=True)
    (tx ** p).backward(torch.ones(2, dtype=torch.float64))
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy())


# ============================================================================ empty tensors
@pytest.mark.parity
@pytest.mark.parametrize("call", [
    pytest.param(lambda t: t.chunk(2), id="chunk"),
    pytest.param(lambda t: t.split(2), id="split"),
    pytest.param(lambda t: t.split([0, 0]), id="split_sections"),
    pytest.param(lambda t: (t.sum(dim=0), t.mean(dim=1)), id="sum_mean"),
    pytest.param(lambda t: (t * 2 + 1).reshape(2, 0), id="arith_reshape"),
])
def test_empty_tensors_match_torch(call: Any, torch: Any) -> None:
    ours = as_list(call(cnnkit.zeros(0, 2)))
    theirs = as_list(call(torch.zeros(0, 2)))
    assert [o.shape for o in ours] == [tuple(t.shape) for t in theirs]
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.data, t.numpy())


# ================================================================ integer tensors, float operands
def _int_case(expr: str, reason: str = "") -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(expr, id=expr, marks=marks)


@pytest.mark.parity
@pytest.mark.parametrize("expr", [
    _int_case("i * 2.5"), _int_case("2.5 - i"), _int_case("i / 2"), _int_case("2.5 ** i"), _int_case("i + f"),
    _int_case("M.maximum(i, f)"), _int_case("i ** f"), _int_case("i ** 2"),
    _int_case("i ** 0.5"),
    _int_case("M.where(i > 1, i, 0.5)"),
    _int_case("M.cat([i, f])"),
    _int_case("i.clamp(0.5, 2.5)"),
])
def test_integer_tensor_with_float_operands_match_torch(expr: str, torch: Any) -> None:
    """Integer tensors combined with Python floats or float tensors follow PyTorch's promotion."""
    ours = eval(expr, {"i": cnnkit.tensor(np.array([0, 1, 3])), "f": cnnkit.tensor([0.5, 1.5, 2.5]), "M": cnnkit})
    theirs = eval(expr, {"i": torch.tensor([0, 1, 3]), "f": torch.tensor([0.5, 1.5, 2.5]), "M": torch})
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-6)
