"""batch_norm / layer_norm / group_norm / dropout: loop references, gradcheck, PyTorch parity, statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest

import cnnkit
import cnnkit.functional as F

from . import references as R
from .helpers import ck, gradcheck, parity

DTYPES = [np.float64, np.float32]


def data(shape, seed, scale=2.0, shift=0.5):
    return np.random.default_rng(seed).standard_normal(shape) * scale + shift


BN_SHAPES = [(4, 3, 5, 6), (8, 3), (4, 3, 7), (2, 3, 2, 3, 2)]


# ----------------------------------------------------------------------------- batch_norm: training


@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("eps", [1e-5, 1e-1])
@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batch_norm_training_forward(shape, affine, eps):
    x = data(shape, 0)
    w, b = (data(3, 1), data(3, 2)) if affine else (None, None)
    want, _, _ = R.batch_norm_train_ref(x, w, b, eps)
    for dtype in DTYPES:
        wt = None if w is None else ck(w, dtype=dtype)
        bt = None if b is None else ck(b, dtype=dtype)
        out = F.batch_norm(ck(x, dtype=dtype), None, None, wt, bt, training=True, eps=eps)
        R.assert_forward(out.numpy(), want, dtype)
        # with running statistics present the training output is the same (batch statistics)
        rm, rv = ck(np.zeros(3), dtype=dtype), ck(np.ones(3), dtype=dtype)
        out2 = F.batch_norm(ck(x, dtype=dtype), rm, rv, wt, bt, training=True, eps=eps)
        R.assert_forward(out2.numpy(), want, dtype)


@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("shape", [(4, 3, 2, 2), (6, 3), (3, 3, 4)])
def test_batch_norm_training_gradcheck(shape, affine):
    x = ck(data(shape, 3), True)
    if affine:
        gradcheck(lambda a, w, b: F.batch_norm(a, None, None, w, b, training=True), x, ck(data(3, 4), True),
                  ck(data(3, 5), True))
    else:
        gradcheck(lambda a: F.batch_norm(a, ck(np.zeros(3)), ck(np.ones(3)), training=True), x)


def test_batch_norm_gradcheck_weight_only_and_bias_only():
    x = ck(data((4, 3, 3), 6), True)
    gradcheck(lambda a, w: F.batch_norm(a, None, None, weight=w, training=True), x, ck(data(3, 7), True))
    gradcheck(lambda a, b: F.batch_norm(a, None, None, bias=b, training=True), x, ck(data(3, 8), True))


@pytest.mark.parity
@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batch_norm_training_parity(shape, torch):
    x, w, b = data(shape, 9), data(3, 10), data(3, 11)
    parity(torch, lambda a, ww, bb: F.batch_norm(a, None, None, ww, bb, training=True),
           lambda a, ww, bb: torch.nn.functional.batch_norm(a, None, None, ww, bb, training=True), [x, w, b])


# ----------------------------------------------------------------------------- batch_norm: evaluation

RM, RV = np.array([0.3, -1.0, 2.0]), np.array([0.5, 2.0, 1.5])


@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("shape", BN_SHAPES + [(1, 3, 2, 2)])
def test_batch_norm_eval_uses_running_statistics(shape, affine):
    x = data(shape, 12)
    w, b = (data(3, 13), data(3, 14)) if affine else (None, None)
    want = R.batch_norm_eval_ref(x, RM, RV, w, b, eps=1e-3)
    for dtype in DTYPES:
        rm, rv = ck(RM, dtype=dtype), ck(RV, dtype=dtype)
        out = F.batch_norm(ck(x, dtype=dtype), rm, rv, None if w is None else ck(w, dtype=dtype),
                           None if b is None else ck(b, dtype=dtype), training=False, eps=1e-3)
        R.assert_forward(out.numpy(), want, dtype)
        np.testing.assert_array_equal(rm.numpy(), RM.astype(dtype))  # untouched in evaluation
        np.testing.assert_array_equal(rv.numpy(), RV.astype(dtype))


def test_batch_norm_eval_gradcheck():
    gradcheck(lambda a, w, b: F.batch_norm(a, ck(RM), ck(RV), w, b, training=False), ck(data((2, 3, 2, 2), 15), True),
              ck(data(3, 16), True), ck(data(3, 17), True))


@pytest.mark.parity
@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batch_norm_eval_parity(shape, torch):
    x, w, b = data(shape, 18), data(3, 19), data(3, 20)
    rm, rv = RM.astype(np.float32), RV.astype(np.float32)
    parity(torch, lambda a, ww, bb: F.batch_norm(a, ck(rm), ck(rv), ww, bb, training=False),
           lambda a, ww, bb: torch.nn.functional.batch_norm(a, torch.tensor(rm), torch.tensor(rv), ww, bb,
                                                            training=False), [x, w, b])


def test_batch_norm_without_running_stats_in_eval_uses_batch_statistics():
    x = data((5, 3, 2), 21)
    want, _, _ = R.batch_norm_train_ref(x)
    R.assert_forward(F.batch_norm(ck(x), None, None, training=False).numpy(), want, np.float64)


def test_batch_norm_training_needs_more_than_one_value_per_channel():
    with pytest.raises(ValueError):
        F.batch_norm(ck(np.ones((1, 3))), None, None, training=True)


# ----------------------------------------------------------------------------- batch_norm: running statistics


@pytest.mark.parametrize("momentum", [0.1, 0.3, 1.0, None])
def test_batch_norm_running_statistics_reference(momentum):
    """running = (1 − m)·running + m·batch, with the *unbiased* batch variance; m = 1/t for momentum=None."""
    rm, rv = ck(np.zeros(3)), ck(np.ones(3))
    nbt = cnnkit.tensor(np.array(0, dtype=np.int64))
    exp_m, exp_v = np.zeros(3), np.ones(3)
    for step in range(1, 5):
        x = data((4, 3, 2, 3), 30 + step, scale=step, shift=step - 2)
        F.batch_norm(ck(x), rm, rv, training=True, momentum=momentum, num_batches_tracked=nbt)
        _, mean, uvar = R.batch_norm_train_ref(x)
        factor = 1.0 / step if momentum is None else momentum
        exp_m = (1 - factor) * exp_m + factor * mean
        exp_v = (1 - factor) * exp_v + factor * uvar
        np.testing.assert_allclose(rm.numpy(), exp_m, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(rv.numpy(), exp_v, rtol=1e-10, atol=1e-12)
        assert int(nbt.item()) == step


@pytest.mark.parity
@pytest.mark.parametrize("momentum", [0.1, 0.3, None])
@pytest.mark.parametrize("shape", [(4, 3, 2, 3), (6, 3)])
def test_batch_norm_running_statistics_match_torch_module(momentum, shape, torch):
    module = (torch.nn.BatchNorm2d if len(shape) == 4 else torch.nn.BatchNorm1d)(3, momentum=momentum).train()
    rm = ck(np.zeros(3, np.float32))
    rv = ck(np.ones(3, np.float32))
    nbt = cnnkit.tensor(np.array(0, dtype=np.int64))
    for step in range(5):
        x = data(shape, 40 + step, scale=1 + step, shift=step).astype(np.float32)
        out = F.batch_norm(ck(x), rm, rv, training=True, momentum=momentum, num_batches_tracked=nbt)
        t_out = module(torch.tensor(x))
        assert R.rel_err(out.numpy(), t_out.detach().numpy()) <= 1e-5
        assert R.rel_err(rm.numpy(), module.running_mean.numpy()) <= 1e-5
        assert R.rel_err(rv.numpy(), module.running_var.numpy()) <= 1e-5
        assert int(nbt.item()) == int(module.num_batches_tracked.item())
    module.eval()
    x = data(shape, 50).astype(np.float32)
    out = F.batch_norm(ck(x), rm, rv, training=False)
    assert R.rel_err(out.numpy(), module(torch.tensor(x)).detach().numpy()) <= 1e-5


# ----------------------------------------------------------------------------- layer_norm

LN = [((2, 3, 4, 5), (5,)), ((2, 3, 4, 5), (4, 5)), ((2, 3, 4, 5), (3, 4, 5)), ((6, 7), (7,)), ((7,), (7,))]


@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("shape,norm_shape", LN)
def test_layer_norm_forward(shape, norm_shape, affine):
    x = data(shape, 60)
    w, b = (data(norm_shape, 61), data(norm_shape, 62)) if affine else (None, None)
    want = R.layer_norm_ref(x, norm_shape, w, b, eps=1e-5)
    for dtype in DTYPES:
        out = F.layer_norm(ck(x, dtype=dtype), norm_shape, None if w is None else ck(w, dtype=dtype),
                           None if b is None else ck(b, dtype=dtype))
        R.assert_forward(out.numpy(), want, dtype)


@pytest.mark.parametrize("shape,norm_shape", [((2, 3, 4), (4,)), ((2, 3, 4), (3, 4)), ((5,), (5,))])
def test_layer_norm_gradcheck(shape, norm_shape):
    gradcheck(lambda a, w, b: F.layer_norm(a, norm_shape, w, b, eps=1e-3), ck(data(shape, 63), True),
              ck(data(norm_shape, 64), True), ck(data(norm_shape, 65), True))
    gradcheck(lambda a: F.layer_norm(a, list(norm_shape)), ck(data(shape, 66), True))


@pytest.mark.parity
@pytest.mark.parametrize("shape,norm_shape", LN)
def test_layer_norm_parity(shape, norm_shape, torch):
    parity(torch, lambda a, w, b: F.layer_norm(a, norm_shape, w, b),
           lambda a, w, b: torch.nn.functional.layer_norm(a, norm_shape, w, b),
           [data(shape, 67), data(norm_shape, 68), data(norm_shape, 69)])


def test_layer_norm_rejects_wrong_trailing_shape():
    with pytest.raises(ValueError):
        F.layer_norm(ck(np.ones((2, 3, 4))), (3,))


# ----------------------------------------------------------------------------- group_norm

GN = [((2, 6, 3, 4), 1), ((2, 6, 3, 4), 2), ((2, 6, 3, 4), 3), ((2, 6, 3, 4), 6), ((3, 6), 2), ((2, 4, 5), 4)]


@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("shape,groups", GN)
def test_group_norm_forward(shape, groups, affine):
    c = shape[1]
    x = data(shape, 70)
    w, b = (data(c, 71), data(c, 72)) if affine else (None, None)
    want = R.group_norm_ref(x, groups, w, b, eps=1e-5)
    for dtype in DTYPES:
        out = F.group_norm(ck(x, dtype=dtype), groups, None if w is None else ck(w, dtype=dtype),
                           None if b is None else ck(b, dtype=dtype))
        R.assert_forward(out.numpy(), want, dtype)


@pytest.mark.parametrize("shape,groups", [((2, 4, 2, 3), 2), ((2, 4, 3), 4), ((3, 4), 1)])
def test_group_norm_gradcheck(shape, groups):
    c = shape[1]
    gradcheck(lambda a, w, b: F.group_norm(a, groups, w, b, eps=1e-3), ck(data(shape, 73), True),
              ck(data(c, 74), True), ck(data(c, 75), True))


@pytest.mark.parity
@pytest.mark.parametrize("shape,groups", GN)
def test_group_norm_parity(shape, groups, torch):
    c = shape[1]
    parity(torch, lambda a, w, b: F.group_norm(a, groups, w, b),
           lambda a, w, b: torch.nn.functional.group_norm(a, groups, w, b),
           [data(shape, 76), data(c, 77), data(c, 78)])


def test_group_norm_rejects_indivisible_channels():
    with pytest.raises(ValueError):
        F.group_norm(ck(np.ones((2, 6, 3))), 4)


# ----------------------------------------------------------------------------- dropout


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_statistics(p):
    n = 100_000
    cnnkit.manual_seed(7)
    x = ck(np.ones(n), True)
    out = F.dropout(x, p)
    values = out.numpy()
    zeroed = values == 0
    sigma = math.sqrt(p * (1 - p) / n)
    assert abs(zeroed.mean() - p) <= 3 * sigma
    np.testing.assert_allclose(values[~zeroed], 1.0 / (1.0 - p), rtol=1e-12)
    # gradient is the same mask and scale
    g = np.random.default_rng(0).standard_normal(n)
    out.backward(cnnkit.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), np.where(zeroed, 0.0, g / (1 - p)), rtol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_keeps_dtype_and_scales_values(dtype):
    x = data((50, 40), 80).astype(dtype)
    out = F.dropout(ck(x), 0.25).numpy()
    assert out.dtype == dtype
    kept = out != 0
    np.testing.assert_allclose(out[kept], x[kept] / 0.75, rtol=1e-6 if dtype == np.float32 else 1e-12)


def test_dropout_eval_and_p0_are_identity():
    x = data((4, 5), 81)
    np.testing.assert_array_equal(F.dropout(ck(x), 0.5, training=False).numpy(), x)
    np.testing.assert_array_equal(F.dropout(ck(x), 0.0).numpy(), x)


@pytest.mark.parametrize("fn", [F.dropout, F.dropout2d])
@pytest.mark.parametrize("training", [True, False])
def test_dropout_p1_is_rejected(fn, training):
    """The layers issue asks for p in [0, 1): p = 1 drops everything and 1/(1 − p) is undefined
    (PyTorch returns zeros instead)."""
    with pytest.raises(ValueError, match=r"dropout probability p must be in \[0, 1\), got 1\.0"):
        fn(ck(data((2, 3, 4), 81)), 1.0, training=training)


def test_dropout_eval_gradient_is_identity():
    t = ck(data((3, 4), 82), True)
    F.dropout(t, 0.7, training=False).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), np.ones((3, 4)))


def test_dropout_reproducible_under_manual_seed_and_generator():
    x = ck(np.ones((64, 64)))
    cnnkit.manual_seed(2024)
    a = F.dropout(x, 0.5).numpy()
    b = F.dropout(x, 0.5).numpy()
    cnnkit.manual_seed(2024)
    np.testing.assert_array_equal(F.dropout(x, 0.5).numpy(), a)
    np.testing.assert_array_equal(F.dropout(x, 0.5).numpy(), b)
    assert not np.array_equal(a, b)
    g1 = F.dropout(x, 0.5, generator=np.random.default_rng(3)).numpy()
    g2 = F.dropout(x, 0.5, generator=np.random.default_rng(3)).numpy()
    np.testing.assert_array_equal(g1, g2)


@pytest.mark.parametrize("p", [-0.1, 1.5, 2])
def test_dropout_rejects_bad_p(p):
    with pytest.raises(ValueError):
        F.dropout(ck(np.ones(3)), p)
    with pytest.raises(ValueError):
        F.dropout2d(ck(np.ones((1, 2, 2, 2))), p)


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_dropout2d_zeroes_whole_channels(p):
    cnnkit.manual_seed(11)
    n, c = 200, 100
    x = ck(data((n, c, 3, 4), 83, shift=5.0))  # no exact zeros in the input
    out = F.dropout2d(x, p).numpy()
    xv = x.numpy()
    zero_maps = (out == 0).all(axis=(2, 3))
    kept_maps = ~zero_maps
    # every map is either entirely zero or entirely scaled by 1/(1 − p)
    assert ((out == 0).any(axis=(2, 3)) == zero_maps).all()
    np.testing.assert_allclose(out[kept_maps], xv[kept_maps] / (1 - p), rtol=1e-12)
    sigma = math.sqrt(p * (1 - p) / (n * c))
    assert abs(zero_maps.mean() - p) <= 3 * sigma


def test_dropout2d_eval_p0_seeded_and_gradient():
    x = data((2, 3, 4, 4), 84)
    np.testing.assert_array_equal(F.dropout2d(ck(x), 0.5, training=False).numpy(), x)
    np.testing.assert_array_equal(F.dropout2d(ck(x), 0.0).numpy(), x)
    cnnkit.manual_seed(5)
    a = F.dropout2d(ck(x), 0.5).numpy()
    cnnkit.manual_seed(5)
    t = ck(x, True)
    out = F.dropout2d(t, 0.5)
    np.testing.assert_array_equal(out.numpy(), a)
    out.backward(cnnkit.ones_like(out))
    np.testing.assert_allclose(t.grad.numpy(), np.where(a == 0, 0.0, 2.0))


def test_dropout_channels_on_1d_and_3d_feature_maps():
    cnnkit.manual_seed(6)
    for shape in [(20, 30, 5), (10, 20, 2, 3, 2)]:
        out = F.dropout_channels(ck(data(shape, 85, shift=5.0)), 0.5).numpy()
        flat = out.reshape(shape[0], shape[1], -1)
        assert ((flat == 0).all(axis=2) == (flat == 0).any(axis=2)).all()
        assert 0.3 < (flat == 0).all(axis=2).mean() < 0.7


# ----------------------------------------------------------------------------- signatures, eps, partial affine, views


@pytest.mark.parity
@pytest.mark.parametrize("name", ["batch_norm", "layer_norm", "group_norm", "dropout", "dropout2d"])
def test_signature_matches_torch(name, torch):
    assert R.signature_mismatches(getattr(F, name), R.torch_signature(torch, name)) == []


@pytest.mark.parametrize("eps", [1e-3, 0.5])
def test_layer_and_group_norm_eps(eps):
    x = data((2, 4, 3), 90)
    R.assert_forward(F.layer_norm(ck(x), (4, 3), eps=eps).numpy(), R.layer_norm_ref(x, (4, 3), eps=eps), np.float64)
    R.assert_forward(F.group_norm(ck(x), 2, eps=eps).numpy(), R.group_norm_ref(x, 2, eps=eps), np.float64)


@pytest.mark.parity
@pytest.mark.parametrize("which", ["weight", "bias"])
def test_partial_affine_parity(which, torch):
    x, p = data((3, 4, 5), 91), data(5, 92)
    kw_c = lambda v: {which: v}  # noqa: E731
    parity(torch, lambda a, v: F.layer_norm(a, (5,), **kw_c(v)),
           lambda a, v: torch.nn.functional.layer_norm(a, (5,), **kw_c(v)), [x, p])
    if which == "weight":  # PyTorch 2.13's group_norm backward fails with a bias but no weight
        parity(torch, lambda a, v: F.group_norm(a, 2, **kw_c(v)),
               lambda a, v: torch.nn.functional.group_norm(a, 2, **kw_c(v)), [x, data(4, 93)])
    else:
        R.assert_forward(F.group_norm(ck(x), 2, bias=ck(data(4, 93))).numpy(),
                         R.group_norm_ref(x, 2, bias=data(4, 93)), np.float64)
        gradcheck(lambda a, v: F.group_norm(a, 2, bias=v), ck(x, True), ck(data(4, 93), True))
    parity(torch, lambda a, v: F.batch_norm(a, None, None, training=True, **kw_c(v)),
           lambda a, v: torch.nn.functional.batch_norm(a, None, None, training=True, **kw_c(v)), [x, data(4, 94)])


def test_norms_on_non_contiguous_inputs():
    base = data((3, 5, 4, 2), 95)
    view = base.transpose(0, 2, 1, 3)[:, :, ::-1]  # (3, 4, 5, 2)
    assert not view.flags["C_CONTIGUOUS"]
    want, _, _ = R.batch_norm_train_ref(view)
    R.assert_forward(F.batch_norm(cnnkit.tensor(view), None, None, training=True).numpy(), want, np.float64)
    R.assert_forward(F.layer_norm(cnnkit.tensor(view), (5, 2)).numpy(), R.layer_norm_ref(view, (5, 2)), np.float64)
    R.assert_forward(F.group_norm(cnnkit.tensor(view), 2).numpy(), R.group_norm_ref(view, 2), np.float64)
    gradcheck(lambda a: F.batch_norm(a.transpose(1, 2), None, None, training=True), ck(data((3, 2, 4), 96), True))
