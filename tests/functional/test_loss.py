"""Loss functions: per-sample loop references, gradcheck (input and soft targets), PyTorch parity."""

from __future__ import annotations

import numpy as np
import pytest

import cnnkit
import cnnkit.functional as F

from . import references as R
from .helpers import ck, gradcheck, parity

DTYPES = [np.float64, np.float32]
REDUCTIONS = ["mean", "sum", "none"]


def labelled(label, check):
    try:
        check()
    except AssertionError as error:
        raise AssertionError(label + str(error)) from None


def check_value(got, want, dtype):
    R.assert_forward(np.asarray(got.numpy()), np.asarray(want), dtype)


# ----------------------------------------------------------------------------- cross-entropy data

C = 4
LAYOUTS = {  # input shape, target shape
    "NC": ((5, C), (5,)),
    "NCd": ((2, C, 5), (2, 5)),
    "NCHW": ((2, C, 3, 2), (2, 3, 2)),
    "C_unbatched": ((C,), ()),
}
WEIGHT = np.array([0.5, 2.0, 1.0, 1.5])


def ce_data(layout, seed, ignore_index=None):
    in_shape, t_shape = LAYOUTS[layout]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(in_shape) * 2
    labels = rng.integers(0, C, t_shape)
    if ignore_index is not None and labels.ndim:
        flat = labels.reshape(-1)
        flat[::3] = ignore_index  # every third target ignored (but never all of them)
    return x, labels.astype(np.int64)


def soft_targets(shape, seed):
    """Rows of class probabilities along dim 1 (dim 0 for an unbatched (C,) input)."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.05, 1.0, shape)
    axis = 0 if len(shape) == 1 else 1
    return p / p.sum(axis=axis, keepdims=True)


CE_INDEX = [(layout, w, ig, ls) for layout in LAYOUTS for w in (False, True) for ig in (None, -100, 1)
            for ls in (0.0, 0.1, 0.5) if not (layout == "C_unbatched" and ig is not None)]
CE_INDEX_IDS = [f"{l}-w{int(w)}-ig{ig}-ls{ls}" for l, w, ig, ls in CE_INDEX]


@pytest.mark.parametrize("layout,use_w,ignore,ls", CE_INDEX, ids=CE_INDEX_IDS)
def test_cross_entropy_class_indices_forward(layout, use_w, ignore, ls):
    x, y = ce_data(layout, 0, ignore)
    w = WEIGHT if use_w else None
    kw = {} if ignore is None else {"ignore_index": ignore}
    for reduction in REDUCTIONS:
        want = R.cross_entropy_ref(x, y, w, ignore if ignore is not None else -100, reduction, ls)
        for dtype in DTYPES:
            got = F.cross_entropy(ck(x, dtype=dtype), ck(y), None if w is None else ck(w, dtype=dtype),
                                  reduction=reduction, label_smoothing=ls, **kw)
            labelled(f"[{reduction}, {np.dtype(dtype).name}] ", lambda: check_value(got, want, dtype))


@pytest.mark.parity
@pytest.mark.parametrize("layout,use_w,ignore,ls", CE_INDEX, ids=CE_INDEX_IDS)
def test_cross_entropy_class_indices_parity(layout, use_w, ignore, ls, torch):
    x, y = ce_data(layout, 0, ignore)
    w = WEIGHT.astype(np.float32) if use_w else None
    kw = {} if ignore is None else {"ignore_index": ignore}
    for reduction in REDUCTIONS:
        labelled(f"[{reduction}] ", lambda: parity(
            torch,
            lambda a, t, ww: F.cross_entropy(a, t, ww, reduction=reduction, label_smoothing=ls, **kw),
            lambda a, t, ww: torch.nn.functional.cross_entropy(a, t, ww, reduction=reduction, label_smoothing=ls,
                                                               **kw),
            [x], fixed=(y, w)))


@pytest.mark.parametrize("layout,use_w,ignore,ls", [("NC", False, None, 0.0), ("NC", True, 1, 0.1),
                                                    ("NCHW", True, -100, 0.5), ("NCd", False, 2, 0.2),
                                                    ("C_unbatched", True, None, 0.3)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_class_indices_gradcheck(layout, use_w, ignore, ls, reduction):
    x, y = ce_data(layout, 1, ignore)
    w = WEIGHT if use_w else None
    kw = {} if ignore is None else {"ignore_index": ignore}
    gradcheck(lambda a: F.cross_entropy(a, ck(y), None if w is None else ck(w), reduction=reduction,
                                        label_smoothing=ls, **kw), ck(x, True))


def test_cross_entropy_mean_normalises_by_summed_weights_of_counted_targets():
    """By hand: two counted targets (classes 0 and 1), one ignored; mean = Σ w_y·nll / (w_0 + w_1)."""
    x = np.array([[1.0, 2.0, 0.5, -1.0], [0.0, 0.0, 0.0, 0.0], [3.0, -2.0, 1.0, 0.0]])
    y = np.array([0, 1, 3])
    logp = x - np.log(np.exp(x).sum(1, keepdims=True))
    nll = np.array([-WEIGHT[0] * logp[0, 0], -WEIGHT[1] * logp[1, 1]])
    got = F.cross_entropy(ck(x), ck(y), ck(WEIGHT), ignore_index=3).item()
    assert got == pytest.approx(nll.sum() / (WEIGHT[0] + WEIGHT[1]), rel=1e-12)
    # with smoothing the smoothing term uses the same denominator
    eps = 0.2
    smooth = [-(WEIGHT * logp[i]).sum() for i in (0, 1)]
    want = ((1 - eps) * nll.sum() + eps / C * sum(smooth)) / (WEIGHT[0] + WEIGHT[1])
    got = F.cross_entropy(ck(x), ck(y), ck(WEIGHT), ignore_index=3, label_smoothing=eps).item()
    assert got == pytest.approx(want, rel=1e-12)


def test_cross_entropy_ignored_targets_get_zero_loss_and_gradient():
    x, y = ce_data("NC", 2, ignore_index=-100)
    t = ck(x, True)
    per = F.cross_entropy(t, ck(y), reduction="none", label_smoothing=0.3)
    ignored = y == -100
    assert (per.numpy()[ignored] == 0).all()
    per.sum().backward()
    assert (t.grad.numpy()[ignored] == 0).all()
    assert (t.grad.numpy()[~ignored] != 0).any()


# ----------------------------------------------------------------------------- cross-entropy, probability targets

CE_PROB = [(layout, w, ls) for layout in LAYOUTS for w in (False, True) for ls in (0.0, 0.25)]


@pytest.mark.parametrize("layout,use_w,ls", CE_PROB)
def test_cross_entropy_probabilities_forward(layout, use_w, ls):
    in_shape, _ = LAYOUTS[layout]
    x = np.random.default_rng(3).standard_normal(in_shape)
    p = soft_targets(in_shape, 4)
    w = WEIGHT if use_w else None
    for reduction in REDUCTIONS:
        want = R.cross_entropy_ref(x, p, w, reduction=reduction, label_smoothing=ls)
        for dtype in DTYPES:
            got = F.cross_entropy(ck(x, dtype=dtype), ck(p, dtype=dtype), None if w is None else ck(w, dtype=dtype),
                                  reduction=reduction, label_smoothing=ls)
            labelled(f"[{reduction}] ", lambda: check_value(got, want, dtype))


@pytest.mark.parity
@pytest.mark.parametrize("layout,use_w,ls", CE_PROB)
def test_cross_entropy_probabilities_parity_including_target_gradient(layout, use_w, ls, torch):
    in_shape, _ = LAYOUTS[layout]
    x = np.random.default_rng(3).standard_normal(in_shape)
    p = soft_targets(in_shape, 4)
    w = WEIGHT.astype(np.float32) if use_w else None
    for reduction in REDUCTIONS:
        labelled(f"[{reduction}] ", lambda: parity(
            torch, lambda a, t, ww: F.cross_entropy(a, t, ww, reduction=reduction, label_smoothing=ls),
            lambda a, t, ww: torch.nn.functional.cross_entropy(a, t, ww, reduction=reduction, label_smoothing=ls),
            [x, p], fixed=(w,)))


@pytest.mark.parametrize("layout,use_w,ls", [("NC", False, 0.0), ("NCHW", True, 0.25), ("C_unbatched", True, 0.1)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_probabilities_gradcheck_input_and_target(layout, use_w, ls, reduction):
    in_shape, _ = LAYOUTS[layout]
    x = np.random.default_rng(5).standard_normal(in_shape)
    p = soft_targets(in_shape, 6)
    w = None if not use_w else ck(WEIGHT)
    gradcheck(lambda a, t: F.cross_entropy(a, t, w, reduction=reduction, label_smoothing=ls), ck(x, True),
              ck(p, True))


def test_cross_entropy_extreme_logits_are_finite():
    x = np.array([[1000.0, -1000.0, 0.0, 500.0], [-1000.0, -1000.0, -1000.0, -1000.0]])
    y = np.array([1, 2])
    for dtype in DTYPES:
        t = ck(x, True, dtype)
        loss = F.cross_entropy(t, ck(y), label_smoothing=0.1)
        assert np.isfinite(loss.item())
        loss.backward()
        assert np.isfinite(t.grad.numpy()).all()
        assert loss.item() == pytest.approx(R.cross_entropy_ref(x, y, label_smoothing=0.1), rel=1e-6)


# ----------------------------------------------------------------------------- nll_loss

NLL = [(layout, w, ig) for layout in LAYOUTS for w in (False, True) for ig in (None, 0, -100)
       if not (layout == "C_unbatched" and ig is not None)]


def nll_data(layout, seed, ignore):
    x, y = ce_data(layout, seed, ignore)
    axis = 0 if x.ndim == 1 else 1
    return x - np.log(np.exp(x).sum(axis=axis, keepdims=True)), y


@pytest.mark.parametrize("layout,use_w,ignore", NLL)
def test_nll_loss_forward(layout, use_w, ignore):
    x, y = nll_data(layout, 7, ignore)
    w = WEIGHT if use_w else None
    kw = {} if ignore is None else {"ignore_index": ignore}
    for reduction in REDUCTIONS:
        want = R.nll_loss_ref(x, y, w, ignore if ignore is not None else -100, reduction)
        for dtype in DTYPES:
            got = F.nll_loss(ck(x, dtype=dtype), ck(y), None if w is None else ck(w, dtype=dtype),
                             reduction=reduction, **kw)
            labelled(f"[{reduction}] ", lambda: check_value(got, want, dtype))


@pytest.mark.parity
@pytest.mark.parametrize("layout,use_w,ignore", NLL)
def test_nll_loss_parity(layout, use_w, ignore, torch):
    x, y = nll_data(layout, 7, ignore)
    w = WEIGHT.astype(np.float32) if use_w else None
    kw = {} if ignore is None else {"ignore_index": ignore}
    for reduction in REDUCTIONS:
        labelled(f"[{reduction}] ", lambda: parity(
            torch, lambda a, t, ww: F.nll_loss(a, t, ww, reduction=reduction, **kw),
            lambda a, t, ww: torch.nn.functional.nll_loss(a, t, ww, reduction=reduction, **kw), [x], fixed=(y, w)))


@pytest.mark.parametrize("layout,use_w,ignore", [("NC", True, 0), ("NCHW", False, None), ("C_unbatched", True, None)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_gradcheck(layout, use_w, ignore, reduction):
    x, y = nll_data(layout, 8, ignore)
    kw = {} if ignore is None else {"ignore_index": ignore}
    w = ck(WEIGHT) if use_w else None
    gradcheck(lambda a: F.nll_loss(a, ck(y), w, reduction=reduction, **kw), ck(x, True))


def test_cross_entropy_equals_nll_of_log_softmax():
    x, y = ce_data("NCHW", 9, ignore_index=2)
    a = F.cross_entropy(ck(x), ck(y), ck(WEIGHT), ignore_index=2).item()
    b = F.nll_loss(F.log_softmax(ck(x), dim=1), ck(y), ck(WEIGHT), ignore_index=2).item()
    assert a == pytest.approx(b, rel=1e-12)


@pytest.mark.parametrize("call", [
    lambda: F.cross_entropy(ck(np.zeros((2, 3))), ck(np.array([0, 3]))),
    lambda: F.cross_entropy(ck(np.zeros((2, 3))), ck(np.array([0, 1])), reduction="avg"),
    lambda: F.cross_entropy(ck(np.zeros((2, 3))), ck(np.array([0, 1])), label_smoothing=1.5),
    lambda: F.cross_entropy(ck(np.zeros((2, 3))), ck(np.array([0, 1])), weight=ck(np.ones(2))),
    lambda: F.nll_loss(ck(np.zeros((2, 3))), ck(np.array([-1, 0]))),
])
def test_class_index_losses_reject_bad_arguments(call):
    with pytest.raises(ValueError):
        call()


# ----------------------------------------------------------------------------- mse / l1 / huber

POINTWISE = {
    "mse": (F.mse_loss, R.mse_loss_ref, {}),
    "l1": (F.l1_loss, R.l1_loss_ref, {}),
    "huber": (F.huber_loss, R.huber_loss_ref, {}),
    "huber_0.5": (F.huber_loss, R.huber_loss_ref, {"delta": 0.5}),
    "huber_2": (F.huber_loss, R.huber_loss_ref, {"delta": 2.0}),
}


def regression_data(shape, seed, kinks=(0.0,)):
    """Inputs and targets whose differences keep ≥ 0.05 from the kinks (0 for L1, ±delta for Huber)."""
    rng = np.random.default_rng(seed)
    t = rng.standard_normal(shape)
    d = rng.uniform(-3, 3, shape)
    for k in kinks:
        for sign in (1, -1):
            close = np.abs(d - sign * k) < 0.05
            d[close] += 0.1
    return t + d, t


def _kinks(name):
    return (0.0, POINTWISE[name][2].get("delta", 1.0)) if name.startswith("huber") else (0.0,)


@pytest.mark.parametrize("name", list(POINTWISE))
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_pointwise_loss_forward(name, reduction):
    fn, ref, kw = POINTWISE[name]
    x, t = regression_data((3, 4, 5), 10, _kinks(name))
    want = ref(x, t, reduction, **kw)
    for dtype in DTYPES:
        check_value(fn(ck(x, dtype=dtype), ck(t, dtype=dtype), reduction=reduction, **kw), want, dtype)


@pytest.mark.parametrize("name", list(POINTWISE))
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_pointwise_loss_gradcheck_input_and_target(name, reduction):
    fn, _, kw = POINTWISE[name]
    x, t = regression_data((3, 2, 4), 11, _kinks(name))
    gradcheck(lambda a, b: fn(a, b, reduction=reduction, **kw), ck(x, True), ck(t, True))


@pytest.mark.parity
@pytest.mark.parametrize("name", list(POINTWISE))
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_pointwise_loss_parity(name, reduction, torch):
    fn, _, kw = POINTWISE[name]
    t_fn = {"mse": "mse_loss", "l1": "l1_loss"}.get(name, "huber_loss")
    x, t = regression_data((3, 4, 5), 12, _kinks(name))
    parity(torch, lambda a, b: fn(a, b, reduction=reduction, **kw),
           lambda a, b: getattr(torch.nn.functional, t_fn)(a, b, reduction=reduction, **kw), [x, t])


def test_mse_is_the_slides_quadratic_loss():
    """½(y − y*)² for one sample is 0.5·mse_loss(sum); its gradient is y − y*."""
    y = ck(np.array([0.7]), True)
    loss = 0.5 * F.mse_loss(y, ck(np.array([0.2])), reduction="sum")
    loss.backward()
    assert loss.item() == pytest.approx(0.5 * 0.25)
    assert y.grad.item() == pytest.approx(0.5)


def test_regression_losses_refuse_mismatched_shapes():
    for fn in (F.mse_loss, F.l1_loss, F.huber_loss):
        with pytest.raises(ValueError):
            fn(cnnkit.ones(3, 1), cnnkit.ones(3))


# ----------------------------------------------------------------------------- binary cross-entropy


def bce_data(shape, seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.03, 0.97, shape), rng.uniform(0.0, 1.0, shape)


BCE_WEIGHTS = {"none": None, "full": lambda s: np.random.default_rng(13).uniform(0.5, 2.0, s),
               "per_class": lambda s: np.array([0.5, 1.0, 2.0, 1.5])}


@pytest.mark.parametrize("wkind", list(BCE_WEIGHTS))
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_forward(wkind, reduction):
    x, t = bce_data((3, 4), 14)
    w = None if BCE_WEIGHTS[wkind] is None else BCE_WEIGHTS[wkind]((3, 4))
    want = R.bce_ref(x, t, w, reduction)
    for dtype in DTYPES:
        got = F.binary_cross_entropy(ck(x, dtype=dtype), ck(t, dtype=dtype), None if w is None else ck(w, dtype=dtype),
                                     reduction=reduction)
        check_value(got, want, dtype)


@pytest.mark.parametrize("wkind", list(BCE_WEIGHTS))
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_gradcheck_input_and_target(wkind, reduction):
    x, t = bce_data((3, 4), 15)
    w = None if BCE_WEIGHTS[wkind] is None else ck(BCE_WEIGHTS[wkind]((3, 4)))
    gradcheck(lambda a, b: F.binary_cross_entropy(a, b, w, reduction=reduction), ck(x, True), ck(t, True))


@pytest.mark.parity
@pytest.mark.parametrize("wkind", list(BCE_WEIGHTS))
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_parity(wkind, reduction, torch):
    x, t = bce_data((3, 4), 14)
    w = None if BCE_WEIGHTS[wkind] is None else BCE_WEIGHTS[wkind]((3, 4)).astype(np.float32)
    parity(torch, lambda a, b, ww: F.binary_cross_entropy(a, b, ww, reduction=reduction),
           lambda a, b, ww: torch.nn.functional.binary_cross_entropy(a, b, ww, reduction=reduction), [x, t],
           fixed=(w,))


def test_binary_cross_entropy_saturated_inputs_are_clamped():
    """x exactly 0 or 1: each log is floored at −100, so the loss is finite (0 or 100 per element)."""
    x = np.array([0.0, 1.0, 0.0, 1.0, 0.5])
    t = np.array([0.0, 1.0, 1.0, 0.0, 1.0])
    for dtype in DTYPES:
        xt = ck(x, True, dtype)
        per = F.binary_cross_entropy(xt, ck(t, dtype=dtype), reduction="none")
        np.testing.assert_allclose(per.numpy(), [0.0, 0.0, 100.0, 100.0, np.log(2.0)], rtol=1e-6)
        per.sum().backward()
        assert np.isfinite(xt.grad.numpy()).all()
    assert F.binary_cross_entropy(ck(x), ck(t)).item() == pytest.approx(R.bce_ref(x, t))


@pytest.mark.parity
def test_binary_cross_entropy_saturated_parity(torch):
    x = np.array([0.0, 1.0, 0.0, 1.0, 0.5, 1e-30])
    t = np.array([0.0, 1.0, 1.0, 0.0, 1.0, 0.3])
    # input gradient only: at x ∈ {0, 1} PyTorch's *target* gradient is ±inf (unclamped logs), cnnkit's finite
    parity(torch, lambda a, b: F.binary_cross_entropy(a, b, reduction="none"),
           lambda a, b: torch.nn.functional.binary_cross_entropy(a, b, reduction="none"), [x],
           fixed=(t.astype(np.float32),))


def test_binary_cross_entropy_rejects_non_probabilities():
    with pytest.raises(ValueError):
        F.binary_cross_entropy(ck(np.array([1.2, 0.5])), ck(np.array([1.0, 0.0])))


# ----------------------------------------------------------------------------- BCE with logits

BCEL = [(w, pw) for w in (None, "full", "per_class") for pw in (None, "per_class", "full")]


def bcel_args(wkind, pwkind, shape=(3, 4)):
    rng = np.random.default_rng(16)
    per_class_w, per_class_pw = np.array([0.5, 1.0, 2.0, 1.5]), np.array([3.0, 0.5, 1.0, 2.0])
    w = None if wkind is None else (rng.uniform(0.5, 2.0, shape) if wkind == "full" else per_class_w)
    pw = None if pwkind is None else (rng.uniform(0.5, 3.0, shape) if pwkind == "full" else per_class_pw)
    return w, pw


@pytest.mark.parametrize("wkind,pwkind", BCEL)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_forward(wkind, pwkind, reduction):
    rng = np.random.default_rng(17)
    z, t = rng.standard_normal((3, 4)) * 3, rng.uniform(0, 1, (3, 4))
    w, pw = bcel_args(wkind, pwkind)
    want = R.bce_logits_ref(z, t, w, pw, reduction)
    for dtype in DTYPES:
        got = F.binary_cross_entropy_with_logits(ck(z, dtype=dtype), ck(t, dtype=dtype),
                                                 None if w is None else ck(w, dtype=dtype), reduction=reduction,
                                                 pos_weight=None if pw is None else ck(pw, dtype=dtype))
        check_value(got, want, dtype)


@pytest.mark.parametrize("wkind,pwkind", BCEL)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_gradcheck_input_and_target(wkind, pwkind, reduction):
    rng = np.random.default_rng(18)
    z, t = rng.standard_normal((3, 4)) * 3, rng.uniform(0, 1, (3, 4))
    w, pw = bcel_args(wkind, pwkind)
    w = None if w is None else ck(w)
    pw = None if pw is None else ck(pw)
    gradcheck(lambda a, b: F.binary_cross_entropy_with_logits(a, b, w, reduction=reduction, pos_weight=pw),
              ck(z, True), ck(t, True))


@pytest.mark.parity
@pytest.mark.parametrize("wkind,pwkind", BCEL)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_parity(wkind, pwkind, reduction, torch):
    rng = np.random.default_rng(17)
    z, t = rng.standard_normal((3, 4)) * 3, rng.uniform(0, 1, (3, 4))
    w, pw = bcel_args(wkind, pwkind)
    w = None if w is None else w.astype(np.float32)
    pw = None if pw is None else pw.astype(np.float32)
    parity(torch,
           lambda a, b, ww, pp: F.binary_cross_entropy_with_logits(a, b, ww, reduction=reduction, pos_weight=pp),
           lambda a, b, ww, pp: torch.nn.functional.binary_cross_entropy_with_logits(a, b, ww, reduction=reduction,
                                                                                    pos_weight=pp),
           [z, t], fixed=(w, pw))


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_with_logits_is_stable_at_plus_minus_100(dtype):
    z = np.array([-100.0, 100.0, -100.0, 100.0, -1000.0, 1000.0])
    t = np.array([0.0, 1.0, 1.0, 0.0, 0.5, 0.5])
    pw = np.array([2.0] * 6)
    zt = ck(z, True, dtype)
    per = F.binary_cross_entropy_with_logits(zt, ck(t, dtype=dtype), reduction="none",
                                             pos_weight=ck(pw, dtype=dtype))
    assert np.isfinite(per.numpy()).all()
    np.testing.assert_allclose(per.numpy(), R.bce_logits_ref(z, t, None, pw, "none"), rtol=1e-6, atol=1e-30)
    np.testing.assert_allclose(per.numpy()[:4], [0.0, 0.0, 200.0, 100.0], atol=1e-6)
    per.sum().backward()
    assert np.isfinite(zt.grad.numpy()).all()


@pytest.mark.parity
def test_bce_with_logits_extreme_parity(torch):
    z = np.array([[-100.0, 100.0, -100.0, 100.0], [-30.0, 30.0, 0.0, 5.0]])
    t = np.array([[0.0, 1.0, 1.0, 0.0], [0.2, 0.9, 0.5, 1.0]])
    parity(torch, lambda a, b, p: F.binary_cross_entropy_with_logits(a, b, pos_weight=p),
           lambda a, b, p: torch.nn.functional.binary_cross_entropy_with_logits(a, b, pos_weight=p), [z, t],
           fixed=(np.array([2.0, 1.0, 0.5, 3.0], dtype=np.float32),))


def test_bce_with_logits_equals_bce_of_sigmoid():
    rng = np.random.default_rng(19)
    z, t = rng.standard_normal((4, 3)), rng.uniform(0, 1, (4, 3))
    a = F.binary_cross_entropy_with_logits(ck(z), ck(t)).item()
    b = F.binary_cross_entropy(F.sigmoid(ck(z)), ck(t)).item()
    assert a == pytest.approx(b, rel=1e-10)


# ----------------------------------------------------------------------------- signatures, kinks, edge cases

LOSS_NAMES = ["cross_entropy", "nll_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
              "mse_loss", "l1_loss", "huber_loss"]


@pytest.mark.parity
@pytest.mark.parametrize("name,kw", [("mse_loss", {}), ("l1_loss", {}), ("huber_loss", {"delta": 0.5})])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_weighted_regression_losses_match_torch(name, kw, reduction, torch):
    """torch 2.13's weight=: MSE/L1 average over Σw, Huber over the element count."""
    rng = np.random.default_rng(5)
    a, b, w = rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), rng.uniform(0.5, 2, (3, 4))
    x, tx = ck(a, True), torch.tensor(a, requires_grad=True)
    ours = getattr(F, name)(x, ck(b), reduction=reduction, weight=ck(w), **kw)
    theirs = getattr(torch.nn.functional, name)(tx, torch.tensor(b), reduction=reduction, weight=torch.tensor(w), **kw)
    g = rng.standard_normal(tuple(theirs.shape))
    ours.backward(g)
    theirs.backward(torch.tensor(g))
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


@pytest.mark.parity
@pytest.mark.parametrize("name", LOSS_NAMES)
def test_signature_matches_torch(name, torch):
    assert R.signature_mismatches(getattr(F, name), R.torch_signature(torch, name)) == []


@pytest.mark.parity
@pytest.mark.parametrize("name,kw", [("l1_loss", {}), ("mse_loss", {}), ("huber_loss", {}),
                                     ("huber_loss", {"delta": 0.5})])
def test_gradient_at_kinks_matches_torch(name, kw, torch):
    """d = 0 (|d|'s kink) and |d| = delta (Huber's switch) exactly."""
    x = np.array([1.0, 2.0, 0.5, -0.5, 0.25])
    t = np.array([1.0, 2.0, 0.0, 0.0, -0.25])  # d = 0, 0, ±0.5, 0.5
    parity(torch, lambda a, b: getattr(F, name)(a, b, **kw),
           lambda a, b: getattr(torch.nn.functional, name)(a, b, **kw), [x, t])


def test_all_targets_ignored_gives_nan_mean_like_torch():
    x, _ = ce_data("NC", 20)
    y = np.full(5, -100)
    with np.errstate(all="ignore"):
        assert np.isnan(F.cross_entropy(ck(x), ck(y)).item())
        assert np.isnan(F.nll_loss(ck(x), ck(y)).item())
    assert F.cross_entropy(ck(x), ck(y), reduction="sum").item() == 0.0
    np.testing.assert_array_equal(F.cross_entropy(ck(x), ck(y), reduction="none").numpy(), np.zeros(5))


def test_losses_on_non_contiguous_inputs():
    rng = np.random.default_rng(21)
    logits = rng.standard_normal((3, 2, C)).transpose(0, 2, 1)  # (3, C, 2), non-contiguous
    y = rng.integers(0, C, (2, 3)).T  # (3, 2), non-contiguous
    assert not logits.flags["C_CONTIGUOUS"] and not y.flags["C_CONTIGUOUS"]
    want = R.cross_entropy_ref(logits, y, WEIGHT, -100, "mean", 0.1)
    got = F.cross_entropy(cnnkit.tensor(logits), cnnkit.tensor(y), ck(WEIGHT), label_smoothing=0.1).item()
    assert got == pytest.approx(want, rel=1e-12)
    x, t = rng.standard_normal((4, 5)).T, rng.uniform(0, 1, (5, 4))[:, ::-1]
    assert F.mse_loss(cnnkit.tensor(x), cnnkit.tensor(t)).item() == pytest.approx(R.mse_loss_ref(x, t), rel=1e-12)
    assert F.binary_cross_entropy_with_logits(cnnkit.tensor(x), cnnkit.tensor(t)).item() == \
        pytest.approx(R.bce_logits_ref(x, t), rel=1e-12)
    gradcheck(lambda a: F.cross_entropy(a.transpose(1, 2), ck(y)), ck(rng.standard_normal((3, 2, C)), True))
