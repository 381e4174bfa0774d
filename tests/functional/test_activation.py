"""Activation functions: scalar-formula references, gradcheck (incl. learnable parameters), PyTorch parity."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import cnnkit
import cnnkit.functional as F

from . import references as R
from .helpers import ck, gradcheck, parity

DTYPES = [np.float64, np.float32]
SHAPE = (2, 3, 4, 5)
SMALL = (2, 3, 5)


def away_from(shape, seed, kinks=(0.0,), low=-4.0, high=4.0, margin=0.05):
    """Uniform values in [low, high] kept at least ``margin`` (≥ 1e-3) from every kink."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(low, high, shape)
    for k in kinks:
        close = np.abs(x - k) < margin
        x[close] = k + np.where(x[close] >= k, margin, -margin) * 2
    return x


# ----------------------------------------------------------------------------- elementwise table
# name: (cnnkit call, scalar reference, torch call or None, kinks)


def _table():
    t = {}
    t["relu"] = (F.relu, R.s_relu, lambda T, x: T.nn.functional.relu(x), (0.0,))
    t["sigmoid"] = (F.sigmoid, R.s_sigmoid, lambda T, x: T.sigmoid(x), ())
    t["tanh"] = (F.tanh, R.s_tanh, lambda T, x: T.tanh(x), ())
    t["leaky_relu"] = (F.leaky_relu, R.s_leaky_relu, lambda T, x: T.nn.functional.leaky_relu(x), (0.0,))
    t["leaky_relu_0.2"] = (lambda x: F.leaky_relu(x, 0.2), lambda v: R.s_leaky_relu(v, 0.2),
                           lambda T, x: T.nn.functional.leaky_relu(x, 0.2), (0.0,))
    t["leaky_relu_kw"] = (lambda x: F.leaky_relu(x, negative_slope=1.5), lambda v: R.s_leaky_relu(v, 1.5),
                          lambda T, x: T.nn.functional.leaky_relu(x, negative_slope=1.5), (0.0,))
    t["rrelu_eval"] = (F.rrelu, lambda v: R.s_leaky_relu(v, (1 / 8 + 1 / 3) / 2),
                       lambda T, x: T.nn.functional.rrelu(x), (0.0,))
    t["rrelu_eval_bounds"] = (lambda x: F.rrelu(x, 0.1, 0.5, training=False), lambda v: R.s_leaky_relu(v, 0.3),
                              lambda T, x: T.nn.functional.rrelu(x, 0.1, 0.5, training=False), (0.0,))
    t["elu"] = (F.elu, R.s_elu, lambda T, x: T.nn.functional.elu(x), (0.0,))
    t["elu_0.5"] = (lambda x: F.elu(x, 0.5), lambda v: R.s_elu(v, 0.5),
                    lambda T, x: T.nn.functional.elu(x, 0.5), (0.0,))
    t["elu_2"] = (lambda x: F.elu(x, alpha=2.0), lambda v: R.s_elu(v, 2.0),
                  lambda T, x: T.nn.functional.elu(x, alpha=2.0), (0.0,))
    t["selu"] = (F.selu, R.s_selu, lambda T, x: T.nn.functional.selu(x), (0.0,))
    t["isrlu"] = (F.isrlu, R.s_isrlu, None, (0.0,))
    t["isrlu_0.5"] = (lambda x: F.isrlu(x, 0.5), lambda v: R.s_isrlu(v, 0.5), None, (0.0,))
    t["isrlu_3"] = (lambda x: F.isrlu(x, alpha=3.0), lambda v: R.s_isrlu(v, 3.0), None, (0.0,))
    t["softplus"] = (F.softplus, R.s_softplus, lambda T, x: T.nn.functional.softplus(x), ())
    t["softplus_beta2"] = (lambda x: F.softplus(x, 2.0), lambda v: R.s_softplus(v, 2.0),
                           lambda T, x: T.nn.functional.softplus(x, 2.0), ())
    t["softplus_beta0.5_thr1"] = (lambda x: F.softplus(x, beta=0.5, threshold=1.0),
                                  lambda v: R.s_softplus(v, 0.5, 1.0),
                                  lambda T, x: T.nn.functional.softplus(x, beta=0.5, threshold=1.0), (2.0,))
    t["softplus_thr3"] = (lambda x: F.softplus(x, 1.0, 3.0), lambda v: R.s_softplus(v, 1.0, 3.0),
                          lambda T, x: T.nn.functional.softplus(x, 1.0, 3.0), (3.0,))
    t["bent_identity"] = (F.bent_identity, R.s_bent_identity, None, ())
    t["gelu"] = (F.gelu, R.s_gelu, lambda T, x: T.nn.functional.gelu(x), ())
    t["gelu_tanh"] = (lambda x: F.gelu(x, approximate="tanh"), R.s_gelu_tanh,
                      lambda T, x: T.nn.functional.gelu(x, approximate="tanh"), ())
    t["silu"] = (F.silu, R.s_silu, lambda T, x: T.nn.functional.silu(x), ())
    t["hardtanh"] = (F.hardtanh, R.s_hardtanh, lambda T, x: T.nn.functional.hardtanh(x), (-1.0, 1.0))
    t["hardtanh_-2_0.5"] = (lambda x: F.hardtanh(x, -2.0, 0.5), lambda v: R.s_hardtanh(v, -2.0, 0.5),
                            lambda T, x: T.nn.functional.hardtanh(x, -2.0, 0.5), (-2.0, 0.5))
    t["mish"] = (F.mish, R.s_mish, lambda T, x: T.nn.functional.mish(x), ())
    return t


TABLE = _table()
NAMES = list(TABLE)
TORCH_NAMES = [n for n in NAMES if TABLE[n][2] is not None]


@pytest.mark.parametrize("name", NAMES)
def test_elementwise_forward(name):
    fn, ref, _, kinks = TABLE[name]
    x = away_from(SHAPE, 0, kinks)
    want = R.elementwise(ref, x)
    for dtype in DTYPES:
        R.assert_forward(fn(ck(x, dtype=dtype)).numpy(), want, dtype)


@pytest.mark.parametrize("name", NAMES)
def test_elementwise_gradcheck(name):
    fn, _, _, kinks = TABLE[name]
    gradcheck(fn, ck(away_from(SMALL, 1, kinks), True))


@pytest.mark.parity
@pytest.mark.parametrize("name", TORCH_NAMES)
def test_elementwise_parity(name, torch):
    fn, _, t_fn, kinks = TABLE[name]
    parity(torch, fn, lambda x: t_fn(torch, x), [away_from(SHAPE, 2, kinks)])


EXTREME = np.array([-1000.0, -100.0, -30.0, -20.5, -1e-3, 1e-3, 20.5, 30.0, 100.0, 1000.0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_extreme_inputs_are_finite(name, dtype):
    fn, ref, _, _ = TABLE[name]
    x = ck(EXTREME, True, dtype)
    out = fn(x)
    assert np.isfinite(out.numpy()).all(), out.numpy()
    out.backward(cnnkit.ones_like(out))
    assert x.grad is not None and np.isfinite(x.grad.numpy()).all(), x.grad.numpy()
    want = R.elementwise(ref, EXTREME)
    # atol: float32 loses absolute precision ~1e-8 where a formula cancels (bent identity at ±1e-3)
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-5 if dtype == np.float32 else 1e-7,
                               atol=1e-7 if dtype == np.float32 else 1e-15)


@pytest.mark.parity
@pytest.mark.parametrize("name", TORCH_NAMES)
def test_extreme_inputs_parity(name, torch):
    fn, _, t_fn, _ = TABLE[name]
    parity(torch, fn, lambda x: t_fn(torch, x), [EXTREME])


def test_selu_constants():
    assert F.selu(ck(np.array([1.0]))).item() == pytest.approx(1.0507009873554805, rel=1e-15)
    assert F.selu(ck(np.array([-1000.0]))).item() == pytest.approx(-1.0507009873554805 * 1.6732632423543772,
                                                                   rel=1e-15)
    assert F.selu(ck(np.array([-1.0]))).item() == pytest.approx(
        1.0507009873554805 * 1.6732632423543772 * (math.exp(-1) - 1), rel=1e-14)


# ----------------------------------------------------------------------------- gradients at kinks (PyTorch's rules)

KINKS = {
    "relu at 0": (F.relu, lambda T, x: T.nn.functional.relu(x), [0.0]),
    "leaky_relu at 0": (lambda x: F.leaky_relu(x, 0.2), lambda T, x: T.nn.functional.leaky_relu(x, 0.2), [0.0]),
    "elu at 0": (lambda x: F.elu(x, 0.5), lambda T, x: T.nn.functional.elu(x, 0.5), [0.0]),
    "selu at 0": (F.selu, lambda T, x: T.nn.functional.selu(x), [0.0]),
    "rrelu(eval) at 0": (F.rrelu, lambda T, x: T.nn.functional.rrelu(x), [0.0]),
    "softplus at threshold": (lambda x: F.softplus(x, 2.0, 4.0), lambda T, x: T.nn.functional.softplus(x, 2.0, 4.0),
                              [2.0]),
    "hardtanh at ±1": (F.hardtanh, lambda T, x: T.nn.functional.hardtanh(x), [-1.0, 1.0]),
}


@pytest.mark.parity
@pytest.mark.parametrize("name", list(KINKS))
def test_gradient_at_kinks_matches_torch(name, torch):
    fn, t_fn, points = KINKS[name]
    parity(torch, fn, lambda x: t_fn(torch, x), [np.array(points + [-0.5, 0.5])])


# ----------------------------------------------------------------------------- prelu


@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (4, 3), (2, 3, 6)])
def test_prelu_forward(per_channel, shape):
    x = away_from(shape, 3)
    w = np.array([0.1, -0.3, 0.7])[: 3 if per_channel else 1]
    want = R.prelu_ref(x, w)
    for dtype in DTYPES:
        R.assert_forward(F.prelu(ck(x, dtype=dtype), ck(w, dtype=dtype)).numpy(), want, dtype)


@pytest.mark.parametrize("per_channel", [False, True])
def test_prelu_gradcheck_input_and_weight(per_channel):
    x = ck(away_from(SMALL, 4), True)
    w = ck(np.array([0.1, -0.3, 0.7])[: 3 if per_channel else 1], True)
    gradcheck(F.prelu, x, w)


@pytest.mark.parity
@pytest.mark.parametrize("per_channel", [False, True])
def test_prelu_parity(per_channel, torch):
    w = np.array([0.1, -0.3, 0.7])[: 3 if per_channel else 1]
    parity(torch, F.prelu, torch.nn.functional.prelu, [away_from(SHAPE, 5), w])


# ----------------------------------------------------------------------------- rrelu in training


def test_rrelu_training_slopes_in_bounds_and_seeded():
    x = away_from((200, 50), 6, low=-3, high=3)
    cnnkit.manual_seed(123)
    a = F.rrelu(ck(x), 0.1, 0.4, training=True).numpy()
    cnnkit.manual_seed(123)
    b = F.rrelu(ck(x), 0.1, 0.4, training=True).numpy()
    np.testing.assert_array_equal(a, b)
    c = F.rrelu(ck(x), 0.1, 0.4, training=True).numpy()  # next draw: different slopes
    assert not np.array_equal(a, c)
    neg = x < 0
    np.testing.assert_array_equal(a[~neg], x[~neg])
    slopes = a[neg] / x[neg]
    assert slopes.min() >= 0.1 - 1e-12 and slopes.max() <= 0.4 + 1e-12
    # uniform on [0.1, 0.4]: mean 0.25 within 4σ, and the whole range is used
    n = slopes.size
    assert abs(slopes.mean() - 0.25) < 4 * (0.3 / math.sqrt(12)) / math.sqrt(n)
    assert slopes.min() < 0.11 and slopes.max() > 0.39


def test_rrelu_training_generator_and_gradient():
    x = ck(away_from((3, 40), 7), True)
    out = F.rrelu(x, 0.2, 0.3, training=True, generator=np.random.default_rng(5))
    again = F.rrelu(x, 0.2, 0.3, training=True, generator=np.random.default_rng(5))
    np.testing.assert_array_equal(out.numpy(), again.numpy())
    out.backward(cnnkit.ones_like(out))
    # the gradient is the slope that was used: 1 for x ≥ 0, out/x for x < 0
    xv = x.numpy()
    np.testing.assert_allclose(x.grad.numpy(), np.where(xv >= 0, 1.0, out.numpy() / xv), rtol=1e-12)


def test_rrelu_training_lower_equals_upper_is_leaky_relu():
    x = away_from(SHAPE, 8)
    out = F.rrelu(ck(x), 0.25, 0.25, training=True).numpy()
    np.testing.assert_allclose(out, R.elementwise(R.s_leaky_relu, x, 0.25), rtol=1e-12)


# ----------------------------------------------------------------------------- srelu


SRELU_PARAMS = {
    "shared": ([-0.5], [0.2], [1.0], [1.5]),
    "per_channel": ([-1.0, -0.5, 0.2], [0.1, 0.3, -0.2], [0.5, 1.0, 2.0], [2.0, 0.5, 1.2]),
}


@pytest.mark.parametrize("kind", list(SRELU_PARAMS))
@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (5, 3)])
def test_srelu_forward(kind, shape):
    tl, al, tr, ar = (np.array(p) for p in SRELU_PARAMS[kind])
    x = away_from(shape, 9, kinks=tuple(tl) + tuple(tr))
    want = R.srelu_ref(x, tl, al, tr, ar)
    for dtype in DTYPES:
        got = F.srelu(ck(x, dtype=dtype), *(ck(p, dtype=dtype) for p in (tl, al, tr, ar)))
        R.assert_forward(got.numpy(), want, dtype)


@pytest.mark.parametrize("kind", list(SRELU_PARAMS))
def test_srelu_gradcheck_input_and_all_parameters(kind):
    tl, al, tr, ar = (np.array(p) for p in SRELU_PARAMS[kind])
    x = away_from(SMALL, 10, kinks=tuple(tl) + tuple(tr), low=-3, high=3)
    gradcheck(F.srelu, ck(x, True), *(ck(p, True) for p in (tl, al, tr, ar)))


def test_srelu_parameters_receive_gradients_from_their_regions():
    x = ck(np.array([[-3.0, 0.0, 3.0]]), True)
    params = [ck(np.array([v]), True) for v in (-1.0, 0.5, 1.0, 2.0)]
    F.srelu(x, *params).sum().backward()
    # left: t_l + a_l(x − t_l) → ∂/∂t_l = 1 − a_l, ∂/∂a_l = x − t_l; right likewise
    assert params[0].grad.item() == pytest.approx(1 - 0.5)
    assert params[1].grad.item() == pytest.approx(-3.0 + 1.0)
    assert params[2].grad.item() == pytest.approx(1 - 2.0)
    assert params[3].grad.item() == pytest.approx(3.0 - 1.0)
    np.testing.assert_allclose(x.grad.numpy(), [[0.5, 1.0, 2.0]])


# ----------------------------------------------------------------------------- apl


APL_PARAMS = {
    "per_channel": (np.array([[0.2, -0.5, 1.0], [0.3, 0.1, -0.4]]), np.array([[0.5, -1.0, 1.5], [-0.7, 2.0, 0.3]])),
    "shared": (np.array([[0.4], [-0.2]]), np.array([[1.0], [-0.5]])),
    "one_hinge": (np.array([[0.6, 0.2, -0.1]]), np.array([[0.0, 1.0, -1.0]])),
}


def _apl_x(shape, seed, b):
    return away_from(shape, seed, kinks=(0.0,) + tuple(np.unique(b)), low=-3, high=3)


@pytest.mark.parametrize("kind", list(APL_PARAMS))
@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (6, 3)])
def test_apl_forward(kind, shape):
    a, b = APL_PARAMS[kind]
    x = _apl_x(shape, 11, b)
    want = R.apl_ref(x, a, b)
    for dtype in DTYPES:
        R.assert_forward(F.apl(ck(x, dtype=dtype), ck(a, dtype=dtype), ck(b, dtype=dtype)).numpy(), want, dtype)


@pytest.mark.parametrize("kind", list(APL_PARAMS))
def test_apl_gradcheck_input_a_b(kind):
    a, b = APL_PARAMS[kind]
    gradcheck(F.apl, ck(_apl_x(SMALL, 12, b), True), ck(a, True), ck(b, True))


# ----------------------------------------------------------------------------- softmax / log_softmax


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("dim", [0, 1, 2, -1, -3])
def test_softmax_forward(log, dim):
    x = np.random.default_rng(13).standard_normal((2, 3, 4)) * 3
    fn = F.log_softmax if log else F.softmax
    want = R.softmax_ref(x, dim, log)
    for dtype in DTYPES:
        R.assert_forward(fn(ck(x, dtype=dtype), dim=dim).numpy(), want, dtype)


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_gradcheck(log, dim):
    fn = F.log_softmax if log else F.softmax
    gradcheck(lambda a: fn(a, dim), ck(np.random.default_rng(14).standard_normal(SMALL), True))


@pytest.mark.parity
@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("dim", [0, 1, 2, 3, -1])
def test_softmax_parity(log, dim, torch):
    name = "log_softmax" if log else "softmax"
    parity(torch, lambda a: getattr(F, name)(a, dim), lambda a: getattr(torch.nn.functional, name)(a, dim),
           [np.random.default_rng(15).standard_normal(SHAPE) * 3])


@pytest.mark.parametrize("log", [False, True])
def test_softmax_extreme_logits(log):
    x = np.array([[-1000.0, 0.0, 1000.0], [1000.0, 1000.0, -1000.0], [-1000.0, -1000.0, -1000.0]])
    want = R.softmax_ref(x, 1, log)
    for dtype in DTYPES:
        t = ck(x, True, dtype)
        out = (F.log_softmax if log else F.softmax)(t, dim=1)
        assert np.isfinite(out.numpy()).all()
        np.testing.assert_allclose(out.numpy(), want, rtol=1e-6)
        out.backward(cnnkit.tensor(np.random.default_rng(0).standard_normal(x.shape).astype(dtype)))
        assert np.isfinite(t.grad.numpy()).all()


@pytest.mark.parity
@pytest.mark.parametrize("ndim", [1, 2, 3, 4])
@pytest.mark.parametrize("log", [False, True])
def test_softmax_default_dim_matches_torch(ndim, log, torch):
    """dim=None: PyTorch's (deprecated, warned) implicit choice is 0 for 0/1/3-D inputs and 1 otherwise."""
    x = np.random.default_rng(16).standard_normal(SHAPE[4 - ndim:]).astype(np.float32)
    name = "log_softmax" if log else "softmax"
    with pytest.warns(UserWarning):
        want = getattr(torch.nn.functional, name)(torch.tensor(x)).numpy()
    with warnings.catch_warnings():  # cnnkit may warn about the implicit dim too, as PyTorch does
        warnings.simplefilter("ignore")
        got = getattr(F, name)(ck(x)).numpy()
    assert R.rel_err(got, want) <= 1e-5


# ----------------------------------------------------------------------------- misc


def test_sigmoid_tanh_relu_are_exported_at_top_level():
    x = ck(np.array([-1.0, 0.5]))
    for name in ("relu", "sigmoid", "tanh"):
        np.testing.assert_array_equal(getattr(cnnkit, name)(x).numpy(), getattr(F, name)(x).numpy())


@pytest.mark.parametrize("call", [lambda x: F.gelu(x, approximate="erf"), lambda x: F.softplus(x, beta=0.0),
                                  lambda x: F.hardtanh(x, 1.0, -1.0), lambda x: F.rrelu(x, 0.5, 0.1),
                                  lambda x: F.isrlu(x, -1.0)])
def test_bad_arguments_raise(call):
    with pytest.raises(ValueError):
        call(ck(np.ones(3)))


# ----------------------------------------------------------------------------- signatures, NaN, non-contiguous

ACT_NAMES = ["relu", "sigmoid", "tanh", "leaky_relu", "prelu", "rrelu", "elu", "selu", "softplus", "softmax",
             "log_softmax", "gelu", "silu", "hardtanh", "mish"]


@pytest.mark.parity
@pytest.mark.parametrize("name", ACT_NAMES)
def test_signature_matches_torch(name, torch):
    assert R.signature_mismatches(getattr(F, name), R.torch_signature(torch, name)) == []


@pytest.mark.parity
@pytest.mark.parametrize("name", TORCH_NAMES)
def test_nan_propagates_like_torch(name, torch):
    fn, _, t_fn, _ = TABLE[name]
    x = np.array([np.nan, -1.5, 0.5, np.nan], dtype=np.float32)
    got = fn(ck(x)).numpy()
    want = t_fn(torch, torch.tensor(x)).numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))


@pytest.mark.parametrize("name", ["relu", "elu", "gelu", "mish", "softplus", "hardtanh", "isrlu"])
def test_elementwise_on_non_contiguous_views(name):
    fn, ref, _, kinks = TABLE[name]
    base = away_from((4, 6, 5), 17, kinks)
    view = base.transpose(2, 0, 1)[:, ::2, ::-1]
    assert not view.flags["C_CONTIGUOUS"]
    R.assert_forward(fn(cnnkit.tensor(view)).numpy(), R.elementwise(ref, view), np.float64)
    gradcheck(lambda a: fn(a.transpose(0, 2)[::2]), ck(away_from((3, 4, 5), 18, kinks), True))


def test_softmax_and_prelu_on_non_contiguous_views():
    base = np.random.default_rng(19).standard_normal((3, 4, 5))
    view = base.transpose(1, 2, 0)  # (4, 5, 3)
    R.assert_forward(F.softmax(cnnkit.tensor(view), dim=1).numpy(), R.softmax_ref(view, 1), np.float64)
    R.assert_forward(F.log_softmax(cnnkit.tensor(view), dim=-1).numpy(), R.softmax_ref(view, -1, True), np.float64)
    w = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    R.assert_forward(F.prelu(cnnkit.tensor(view), ck(w)).numpy(), R.prelu_ref(view, w), np.float64)
