"""Optimizers: parity with ``torch.optim``, hand-computed updates, and the ``Optimizer`` API.

* Parity (``@pytest.mark.parity``): every option combination of SGD, Adam, AdamW, RMSprop and
  Adagrad runs 50 steps on the same float32 weights with the same gradients assigned to
  ``.grad``; the weights must agree with PyTorch's to a float32 relative error of 1e-5 after
  every 10 steps. Also two parameter groups, gradients that are ``None`` on some steps, and
  gradients from a real backward pass through the same small CNN in both libraries.
* Independent references: three steps of every rule written out in NumPy float64 from the
  documented formulas (no torch), compared with cnnkit run on float64 parameters.
* API: parameter groups, ``add_param_group``, ``zero_grad``, ``step(closure)``, state dicts
  (bit-exact resume, PyTorch's layout, mismatch errors) and argument errors.
"""

from __future__ import annotations

import contextlib
import itertools
import types

import numpy as np
import pytest

import cnnkit
from cnnkit import nn

SHAPES = [(3, 4), (5,), (2, 3, 2)]
STEPS = 50
CHECK_EVERY = 10
RTOL = 1e-5

NAMES = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"]


# ------------------------------------------------------------------------------- data
def make_weights(seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in SHAPES]


def make_grads(seed=1, steps=STEPS, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(steps)]


def rel_err(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.max(np.abs(got - want)) / max(float(np.max(np.abs(want))), 1e-30))


def assert_weights_close(got, want, rtol=RTOL, where=""):
    for i, (g, w) in enumerate(zip(got, want)):
        assert g.shape == w.shape
        err = rel_err(g, w)
        assert err <= rtol, f"{where} tensor {i}: relative error {err:.3g} > {rtol}"


# ------------------------------------------------------------------------------- backends
class CnnkitBackend:
    name = "cnnkit"

    @staticmethod
    def param(a):
        return cnnkit.tensor(a.copy(), requires_grad=True)

    @staticmethod
    def grad(a):
        return cnnkit.tensor(a.copy())

    @staticmethod
    def optim(name, params, kw):
        return getattr(cnnkit.optim, name)(params, **kw)

    @staticmethod
    def value(p):
        return p.data.copy()


def torch_backend(torch):
    def optim(name, params, kw):
        return getattr(torch.optim, name)(params, foreach=False, **kw)

    return types.SimpleNamespace(
        name="torch",
        param=lambda a: torch.tensor(a.copy(), requires_grad=True),
        grad=lambda a: torch.tensor(a.copy()),
        optim=optim,
        value=lambda p: p.detach().numpy().copy(),
    )


def build(backend, name, kw, weights, groups=None):
    """Parameters and an optimizer; ``groups`` is a list of (indices, overrides)."""
    params = [backend.param(w) for w in weights]
    if groups is None:
        spec = params
    else:
        spec = [dict(params=[params[i] for i in idx], **over) for idx, over in groups]
    return params, backend.optim(name, spec, kw)


def run(backend, name, kw, weights, grads, groups=None, mask=None, every=CHECK_EVERY):
    """Step through ``grads``; ``mask[t][i]`` False leaves ``.grad`` None. Snapshots every ``every`` steps."""
    params, opt = build(backend, name, kw, weights, groups)
    snaps = []
    for t, step_grads in enumerate(grads):
        for i, (p, g) in enumerate(zip(params, step_grads)):
            p.grad = backend.grad(g) if mask is None or mask[t][i] else None
        opt.step()
        if (t + 1) % every == 0:
            snaps.append([backend.value(p) for p in params])
    return snaps


def compare(torch, name, kw, groups=None, mask=None, weights=None, grads=None):
    weights = make_weights() if weights is None else weights
    grads = make_grads() if grads is None else grads
    got = run(CnnkitBackend, name, kw, weights, grads, groups, mask)
    want = run(torch_backend(torch), name, kw, weights, grads, groups, mask)
    assert len(got) == len(want) == len(grads) // CHECK_EVERY
    for k, (g, w) in enumerate(zip(got, want)):
        for a in g:
            assert a.dtype == np.float32
        assert_weights_close(g, w, where=f"{name}({kw}) after {(k + 1) * CHECK_EVERY} steps:")


# ------------------------------------------------------------------------------- option grids
def grid(**axes):
    keys = list(axes)
    return [dict(zip(keys, values)) for values in itertools.product(*axes.values())]


def kw_id(kw):
    return ",".join(f"{k}={v}" for k, v in kw.items())


SGD_GRID = [kw for kw in grid(lr=[0.05], momentum=[0.0, 0.9], dampening=[0.0, 0.3], nesterov=[False, True],
                              weight_decay=[0.0, 0.05], maximize=[False, True])
            if not (kw["nesterov"] and (kw["momentum"] == 0 or kw["dampening"] != 0))]
ADAM_GRID = grid(lr=[0.01], betas=[(0.9, 0.999), (0.5, 0.8)], eps=[1e-8, 1e-3], weight_decay=[0.0, 0.1],
                 amsgrad=[False, True], maximize=[False, True])
RMSPROP_GRID = grid(lr=[0.01], alpha=[0.99, 0.8], eps=[1e-8, 1e-2], weight_decay=[0.0, 0.1],
                    momentum=[0.0, 0.9], centered=[False, True], maximize=[False, True])
ADAGRAD_GRID = grid(lr=[0.1], lr_decay=[0.0, 0.02], weight_decay=[0.0, 0.1], initial_accumulator_value=[0.0, 0.5],
                    eps=[1e-10, 1e-3], maximize=[False, True])

CASES = ([pytest.param("SGD", kw, id="SGD-" + kw_id(kw)) for kw in SGD_GRID]
         + [pytest.param(n, kw, id=f"{n}-" + kw_id(kw)) for n in ("Adam", "AdamW") for kw in ADAM_GRID]
         + [pytest.param("RMSprop", kw, id="RMSprop-" + kw_id(kw)) for kw in RMSPROP_GRID]
         + [pytest.param("Adagrad", kw, id="Adagrad-" + kw_id(kw)) for kw in ADAGRAD_GRID])

# one representative, state-heavy configuration per optimizer
RICH = {
    "SGD": dict(lr=0.05, momentum=0.9, dampening=0.0, nesterov=True, weight_decay=0.01),
    "Adam": dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05, amsgrad=True),
    "AdamW": dict(lr=0.01, betas=(0.85, 0.95), weight_decay=0.1, amsgrad=True),
    "RMSprop": dict(lr=0.01, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.01),
    "Adagrad": dict(lr=0.1, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1),
}


def test_grids_cover_every_option():
    assert len(SGD_GRID) == 20 and len(ADAM_GRID) == 32 and len(RMSPROP_GRID) == 64 and len(ADAGRAD_GRID) == 32


# ------------------------------------------------------------------------------- parity
@pytest.mark.parity
@pytest.mark.parametrize("name, kw", CASES)
def test_parity_every_option_combination(torch, name, kw):
    compare(torch, name, kw)


@pytest.mark.parity
@pytest.mark.parametrize("name", NAMES)
def test_parity_two_param_groups(torch, name):
    kw = dict(RICH[name])
    groups = [([0, 2], {}), ([1], dict(lr=kw["lr"] * 3, weight_decay=0.2))]
    compare(torch, name, kw, groups=groups)


@pytest.mark.parity
@pytest.mark.parametrize("name", NAMES)
def test_parity_grad_none_on_some_steps_is_skipped(torch, name):
    rng = np.random.default_rng(5)
    mask = rng.random((STEPS, len(SHAPES))) > 0.3
    mask[:3, 1] = False  # parameter 1 gets its first gradient late
    compare(torch, name, RICH[name], mask=mask)


def test_grad_none_leaves_parameter_and_state_untouched():
    weights = make_weights()
    params, opt = build(CnnkitBackend, "Adam", dict(lr=0.1), weights)
    params[0].grad = cnnkit.tensor(np.ones(SHAPES[0], np.float32))
    opt.step()
    opt.step()
    np.testing.assert_array_equal(params[1].data, weights[1])
    np.testing.assert_array_equal(params[2].data, weights[2])
    assert opt.state_dict()["state"].keys() == {0}
    assert opt.state_dict()["state"][0]["step"] == 2


def _make_models(torch):
    cnnkit.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(64, 3))
    tmodel = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(64, 3))
    with torch.no_grad():
        for tp, p in zip(tmodel.parameters(), model.parameters(), strict=True):
            assert tuple(tp.shape) == p.shape
            tp.copy_(torch.from_numpy(p.data.copy()))
    return model, tmodel


@pytest.mark.parity
@pytest.mark.parametrize("name", NAMES)
def test_parity_gradients_from_a_real_backward(torch, name):
    rng = np.random.default_rng(3)
    images = rng.standard_normal((8, 1, 6, 6)).astype(np.float32)
    targets = rng.integers(0, 3, 8)
    model, tmodel = _make_models(torch)
    kw = dict(RICH[name])
    opt = getattr(cnnkit.optim, name)(model.parameters(), **kw)
    topt = getattr(torch.optim, name)(tmodel.parameters(), foreach=False, **kw)
    x, y = cnnkit.tensor(images), cnnkit.tensor(targets)
    tx, ty = torch.from_numpy(images), torch.from_numpy(targets)
    loss_fn, tloss_fn = nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    for t in range(STEPS):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        topt.zero_grad()
        tloss = tloss_fn(tmodel(tx), ty)
        tloss.backward()
        topt.step()
        if t == 0:
            assert abs(loss.item() - tloss.item()) <= 1e-5 * abs(tloss.item())
        if (t + 1) % CHECK_EVERY == 0:
            assert_weights_close([p.data for p in model.parameters()],
                                 [tp.detach().numpy() for tp in tmodel.parameters()], where=f"{name} step {t + 1}:")


# ------------------------------------------------------------------------------- hand-computed references
def ref_sgd(w, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False):
    w = w.copy()
    buf = None
    for g in grads:
        g = -g if maximize else g.copy()
        if weight_decay:
            g = g + weight_decay * w
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        w = w - lr * g
    return w


def ref_adam(w, grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, maximize=False,
             decoupled=False):
    w = w.copy()
    b1, b2 = betas
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    vmax = np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        g = -g if maximize else g.copy()
        if weight_decay and decoupled:
            w = w - lr * weight_decay * w
        elif weight_decay:
            g = g + weight_decay * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        m_hat = m / (1 - b1 ** t)
        if amsgrad:
            vmax = np.maximum(vmax, v)
            v_hat = vmax / (1 - b2 ** t)
        else:
            v_hat = v / (1 - b2 ** t)
        w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
    return w


def ref_rmsprop(w, grads, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                maximize=False):
    w = w.copy()
    v = np.zeros_like(w)
    g_ave = np.zeros_like(w)
    buf = np.zeros_like(w)
    for g in grads:
        g = -g if maximize else g.copy()
        if weight_decay:
            g = g + weight_decay * w
        v = alpha * v + (1 - alpha) * g ** 2
        v_tilde = v
        if centered:
            g_ave = alpha * g_ave + (1 - alpha) * g
            v_tilde = v - g_ave ** 2
        if momentum > 0:
            buf = momentum * buf + g / (np.sqrt(v_tilde) + eps)
            w = w - lr * buf
        else:
            w = w - lr * g / (np.sqrt(v_tilde) + eps)
    return w


def ref_adagrad(w, grads, lr, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10,
                maximize=False):
    w = w.copy()
    state_sum = np.full_like(w, initial_accumulator_value)
    for t, g in enumerate(grads, start=1):
        g = -g if maximize else g.copy()
        clr = lr / (1 + (t - 1) * lr_decay)
        if weight_decay:
            g = g + weight_decay * w
        state_sum = state_sum + g ** 2
        w = w - clr * g / (np.sqrt(state_sum) + eps)
    return w


REFERENCES = [
    ("SGD", dict(lr=0.1), ref_sgd),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.25, weight_decay=0.1), ref_sgd),
    ("SGD", dict(lr=0.1, momentum=0.8, nesterov=True, maximize=True), ref_sgd),
    ("Adam", dict(lr=0.1), ref_adam),
    ("Adam", dict(lr=0.1, betas=(0.5, 0.7), eps=1e-3, weight_decay=0.2, amsgrad=True, maximize=True), ref_adam),
    ("AdamW", dict(lr=0.1, weight_decay=0.3), lambda w, gs, **kw: ref_adam(w, gs, decoupled=True, **kw)),
    ("AdamW", dict(lr=0.1, betas=(0.6, 0.9), weight_decay=0.3, amsgrad=True, maximize=True),
     lambda w, gs, **kw: ref_adam(w, gs, decoupled=True, **kw)),
    ("RMSprop", dict(lr=0.05), ref_rmsprop),
    ("RMSprop", dict(lr=0.05, alpha=0.7, eps=1e-4, weight_decay=0.1, momentum=0.9, centered=True), ref_rmsprop),
    ("RMSprop", dict(lr=0.05, centered=True, maximize=True), ref_rmsprop),
    ("Adagrad", dict(lr=0.2), ref_adagrad),
    ("Adagrad", dict(lr=0.2, lr_decay=0.5, weight_decay=0.1, initial_accumulator_value=0.3, eps=1e-3,
                     maximize=True), ref_adagrad),
]


@pytest.mark.parametrize("name, kw, ref", REFERENCES, ids=[f"{n}-{kw_id(kw)}" for n, kw, _ in REFERENCES])
def test_three_steps_match_hand_computed_float64(name, kw, ref):
    rng = np.random.default_rng(11)
    w0 = rng.standard_normal((4, 3))
    grads = [rng.standard_normal((4, 3)) for _ in range(3)]
    p = cnnkit.tensor(w0.copy(), requires_grad=True)
    assert p.dtype == np.float64
    opt = getattr(cnnkit.optim, name)([p], **kw)
    for g in grads:
        p.grad = cnnkit.tensor(g.copy())
        opt.step()
    assert p.dtype == np.float64
    np.testing.assert_allclose(p.data, ref(w0, grads, **kw), rtol=1e-12, atol=1e-14)


def test_sgd_first_step_by_hand():
    w = cnnkit.tensor(np.array([1.0, -2.0]), requires_grad=True)
    opt = cnnkit.optim.SGD([w], lr=0.5, momentum=0.9, weight_decay=0.1)
    w.grad = cnnkit.tensor(np.array([0.2, 0.4]))
    opt.step()  # g = [0.2 + 0.1, 0.4 - 0.2] = [0.3, 0.2]; the buffer starts at g
    np.testing.assert_allclose(w.data, [1.0 - 0.15, -2.0 - 0.1], rtol=1e-15)
    np.testing.assert_allclose(opt.state_dict()["state"][0]["momentum_buffer"], [0.3, 0.2], rtol=1e-15)


def test_adam_first_step_is_lr_times_sign():
    # after bias correction the first Adam step is lr * g / (|g| + eps), i.e. lr * sign(g)
    w = cnnkit.tensor(np.array([1.0, 1.0, 1.0]), requires_grad=True)
    opt = cnnkit.optim.Adam([w], lr=0.1, eps=0.0)
    w.grad = cnnkit.tensor(np.array([3.0, -1e-3, 50.0]))
    opt.step()
    np.testing.assert_allclose(w.data, [0.9, 1.1, 0.9], rtol=1e-14)


# ------------------------------------------------------------------------------- API: groups, zero_grad, closure
def params3(dtype=np.float32):
    return [cnnkit.tensor(w.copy(), requires_grad=True) for w in make_weights(dtype=dtype)]


DEFAULTS = {
    "SGD": dict(lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False),
    "Adam": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, maximize=False),
    "AdamW": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, maximize=False),
    "RMSprop": dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False, maximize=False),
    "Adagrad": dict(lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10,
                    maximize=False),
}


@pytest.mark.parametrize("name", NAMES)
def test_param_groups_are_dicts_with_defaults_filled_in(name):
    ps = params3()
    opt = getattr(cnnkit.optim, name)(ps)
    assert isinstance(opt.param_groups, list) and len(opt.param_groups) == 1
    group = opt.param_groups[0]
    assert isinstance(group, dict)
    assert isinstance(group["params"], list) and len(group["params"]) == len(ps)
    assert all(a is b for a, b in zip(group["params"], ps))
    assert {k: v for k, v in group.items() if k != "params"} == DEFAULTS[name]
    assert opt.defaults == DEFAULTS[name]


@pytest.mark.parity
@pytest.mark.parametrize("name", NAMES)
def test_defaults_match_torch(torch, name):
    topt = getattr(torch.optim, name)([torch.zeros(1, requires_grad=True)])
    tgroup = topt.param_groups[0]
    for key, value in DEFAULTS[name].items():
        assert tgroup[key] == value, key


def test_per_group_overrides_and_defaults():
    a, b, c = params3()
    opt = cnnkit.optim.SGD([{"params": [a, b]}, {"params": c, "lr": 0.5, "momentum": 0.9}], lr=0.1, nesterov=False)
    g0, g1 = opt.param_groups
    assert len(g0["params"]) == 2 and g0["params"][0] is a and g0["params"][1] is b
    # a single Tensor becomes a one-element list
    assert isinstance(g1["params"], list) and len(g1["params"]) == 1 and g1["params"][0] is c
    assert g0["lr"] == 0.1 and g0["momentum"] == 0.0
    assert g1["lr"] == 0.5 and g1["momentum"] == 0.9 and g1["dampening"] == 0.0 and g1["weight_decay"] == 0.0


def test_add_param_group_fills_defaults_and_is_stepped():
    a, b, c = params3()
    opt = cnnkit.optim.SGD([a], lr=0.1, momentum=0.5)
    opt.add_param_group({"params": [b, c], "lr": 0.01})
    assert len(opt.param_groups) == 2
    assert opt.param_groups[1]["lr"] == 0.01 and opt.param_groups[1]["momentum"] == 0.5
    before = c.data.copy()
    c.grad = cnnkit.tensor(np.ones(c.shape, np.float32))
    opt.step()
    np.testing.assert_allclose(c.data, before - 0.01, rtol=1e-6)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    assert len(opt.param_groups) == 2
    with pytest.raises(TypeError, match="'params'"):
        opt.add_param_group({"lr": 0.1})


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad(set_to_none):
    ps = params3()
    opt = cnnkit.optim.SGD(ps, lr=0.1)
    grads = [cnnkit.tensor(np.ones(p.shape, np.float32)) for p in ps[:2]]
    ps[0].grad, ps[1].grad = grads
    opt.zero_grad(set_to_none=set_to_none)
    assert ps[2].grad is None
    for p, g in zip(ps[:2], grads):
        if set_to_none:
            assert p.grad is None
        else:
            assert p.grad is g  # zeroed in place, same tensor
            np.testing.assert_array_equal(p.grad.data, np.zeros(p.shape, np.float32))
    before = [p.data.copy() for p in ps]
    opt.step()  # nothing to do (or zero gradients)
    for p, w in zip(ps, before):
        np.testing.assert_array_equal(p.data, w)


def test_zero_grad_defaults_to_set_to_none():
    (p, *_) = params3()
    opt = cnnkit.optim.Adam([p])
    p.grad = cnnkit.tensor(np.ones(p.shape, np.float32))
    opt.zero_grad()
    assert p.grad is None


def test_step_with_closure_returns_its_loss_and_enables_grad():
    w = cnnkit.tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    opt = cnnkit.optim.SGD([w], lr=0.1)
    calls = []

    def closure():
        calls.append(cnnkit.is_grad_enabled())
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with cnnkit.no_grad():
        loss = opt.step(closure)
    assert calls == [True]
    assert isinstance(loss, cnnkit.Tensor) and loss.item() == pytest.approx(5.0)
    np.testing.assert_allclose(w.data, [0.8, 1.6], rtol=1e-6)
    assert opt.step() is None
    sentinel = object()
    assert opt.step(lambda: sentinel) is sentinel


# ------------------------------------------------------------------------------- state dicts
def _drive(opt, params, grads):
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = cnnkit.tensor(g.copy())
        opt.step()


def _two_groups(name, params):
    return [{"params": [params[0], params[2]]}, {"params": [params[1]], "lr": RICH[name]["lr"] * 2}]


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_resume_is_bit_exact(name):
    grads = make_grads()
    kw = RICH[name]
    full = params3()
    opt = getattr(cnnkit.optim, name)(_two_groups(name, full), **kw)
    _drive(opt, full, grads)

    first = params3()
    opt1 = getattr(cnnkit.optim, name)(_two_groups(name, first), **kw)
    _drive(opt1, first, grads[:20])
    saved = opt1.state_dict()
    weights20 = [p.data.copy() for p in first]
    _drive(opt1, first, grads[20:25])  # the original keeps going: the saved dict must not change

    resumed = [cnnkit.tensor(w.copy(), requires_grad=True) for w in weights20]
    other_kw = dict(kw, lr=123.0)  # hyper-parameters come from the state dict
    opt2 = getattr(cnnkit.optim, name)(_two_groups(name, resumed), **other_kw)
    opt2.load_state_dict(saved)
    assert [g["lr"] for g in opt2.param_groups] == [kw["lr"], kw["lr"] * 2]
    _drive(opt2, resumed, grads[20:])
    for a, b in zip(resumed, full):
        np.testing.assert_array_equal(a.data, b.data)

    # loading copied the state: stepping opt2 did not touch ``saved``; a second resume agrees too
    again = [cnnkit.tensor(w.copy(), requires_grad=True) for w in weights20]
    opt3 = getattr(cnnkit.optim, name)(_two_groups(name, again), **kw)
    opt3.load_state_dict(saved)
    _drive(opt3, again, grads[20:])
    for a, b in zip(again, full):
        np.testing.assert_array_equal(a.data, b.data)


STEP_COUNTED = {"Adam", "AdamW", "RMSprop", "Adagrad"}

STATE_KEYS = {
    "SGD": {"momentum_buffer"},
    "Adam": {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"},
    "AdamW": {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"},
    "RMSprop": {"step", "square_avg", "momentum_buffer", "grad_avg"},
    "Adagrad": {"step", "sum"},
}


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_layout(name):
    ps = params3()
    opt = getattr(cnnkit.optim, name)(_two_groups(name, ps), **RICH[name])
    _drive(opt, ps, make_grads()[:20])
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert sd["param_groups"][0]["params"] == [0, 1] and sd["param_groups"][1]["params"] == [2]
    assert all(isinstance(k, int) for k in sd["state"])
    assert set(sd["state"]) == {0, 1, 2}
    order = [ps[0], ps[2], ps[1]]  # indices follow the groups' order
    for idx, p in enumerate(order):
        st = sd["state"][idx]
        assert set(st) == STATE_KEYS[name]
        if name in STEP_COUNTED:
            assert int(st["step"]) == 20
        for key, value in st.items():
            if key != "step":
                assert isinstance(value, np.ndarray) and value.shape == p.shape and value.dtype == np.float32
    for packed, group in zip(sd["param_groups"], opt.param_groups):
        assert {k: v for k, v in packed.items() if k != "params"} == {k: v for k, v in group.items() if k != "params"}


def _torch_state_dict_case(torch, name, kw):
    weights, grads = make_weights(), make_grads()[:20]
    out = []
    for backend in (CnnkitBackend, torch_backend(torch)):
        params = [backend.param(w) for w in weights]
        spec = [{"params": [params[0], params[2]]}, {"params": [params[1]], "lr": kw["lr"] * 2, "weight_decay": 0.2}]
        opt = backend.optim(name, spec, kw)
        for step_grads in grads:
            for p, g in zip(params, step_grads):
                p.grad = backend.grad(g)
            opt.step()
        out.append(opt.state_dict())
    return out


LAYOUT_CASES = [pytest.param(n, RICH[n], id=n) for n in NAMES] + [
    pytest.param("SGD", dict(lr=0.1), id="SGD-no-momentum"),
    pytest.param("RMSprop", dict(lr=0.01), id="RMSprop-plain"),
    pytest.param("Adam", dict(lr=0.01), id="Adam-plain"),
]


@pytest.mark.parity
@pytest.mark.parametrize("name, kw", LAYOUT_CASES)
def test_state_dict_layout_matches_torch(torch, name, kw):
    ours, theirs = _torch_state_dict_case(torch, name, kw)
    assert set(ours) == set(theirs) == {"state", "param_groups"}
    assert set(ours["state"]) == set(theirs["state"])
    for idx, tstate in theirs["state"].items():
        st = ours["state"][idx]
        assert set(st) == set(tstate), idx
        for key, tvalue in tstate.items():
            if key == "step":
                assert int(st[key]) == int(tvalue.item()) == 20
            else:
                assert rel_err(st[key], tvalue.numpy()) <= RTOL, key
    assert len(ours["param_groups"]) == len(theirs["param_groups"])
    for group, tgroup in zip(ours["param_groups"], theirs["param_groups"]):
        assert group["params"] == tgroup["params"]
        for key, value in group.items():
            assert key in tgroup, key
            assert tgroup[key] == value, key


def test_load_state_dict_mismatched_group_count_raises():
    ps = params3()
    opt = cnnkit.optim.Adam(_two_groups("Adam", ps), lr=0.01)
    _drive(opt, ps, make_grads()[:2])
    saved = opt.state_dict()
    other = cnnkit.optim.Adam(params3(), lr=0.01)
    with pytest.raises(ValueError, match=r"saved state has 2 parameter groups, this optimizer has 1"):
        other.load_state_dict(saved)


def test_load_state_dict_mismatched_group_sizes_raises():
    ps = params3()
    opt = cnnkit.optim.SGD(_two_groups("SGD", ps), lr=0.01, momentum=0.9)
    _drive(opt, ps, make_grads()[:2])
    saved = opt.state_dict()
    qs = params3()
    other = cnnkit.optim.SGD([{"params": qs[:1]}, {"params": qs[1:]}], lr=0.01, momentum=0.9)
    with pytest.raises(ValueError, match=r"group 0 holds 2 parameters in the saved state but 1 here"):
        other.load_state_dict(saved)
    # nothing was changed by the failed load
    assert other.state == {} and [g["lr"] for g in other.param_groups] == [0.01, 0.01]


def test_state_dict_params_are_indices_in_group_order():
    ps = params3()
    opt = cnnkit.optim.SGD([{"params": [ps[2]]}, {"params": [ps[0], ps[1]]}], lr=0.1)
    assert [g["params"] for g in opt.state_dict()["param_groups"]] == [[0], [1, 2]]


# ------------------------------------------------------------------------------- argument errors
def test_empty_params_raises():
    for name in NAMES:
        with pytest.raises(ValueError, match=f"{name} got an empty parameter list"):
            getattr(cnnkit.optim, name)([])


@pytest.mark.parametrize("name", NAMES)
def test_negative_lr_raises(name):
    with pytest.raises(ValueError, match=r"invalid learning rate -0\.1; it must be a number >= 0"):
        getattr(cnnkit.optim, name)(params3(), lr=-0.1)
    with pytest.raises(ValueError, match="invalid learning rate"):
        getattr(cnnkit.optim, name)([{"params": params3(), "lr": -1.0}])


@pytest.mark.parametrize("name", NAMES)
def test_negative_weight_decay_raises(name):
    with pytest.raises(ValueError, match=r"invalid weight_decay -0\.01; it must be >= 0"):
        getattr(cnnkit.optim, name)(params3(), weight_decay=-0.01)


@pytest.mark.parametrize("kw", [dict(nesterov=True), dict(nesterov=True, momentum=0.0),
                                dict(nesterov=True, momentum=0.9, dampening=0.1)])
def test_nesterov_without_momentum_or_with_dampening_raises(kw):
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum > 0 and zero dampening"):
        cnnkit.optim.SGD(params3(), lr=0.1, **kw)


def test_sgd_negative_momentum_raises():
    with pytest.raises(ValueError, match="invalid momentum"):
        cnnkit.optim.SGD(params3(), lr=0.1, momentum=-0.5)


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
@pytest.mark.parametrize("betas", [(1.0, 0.999), (0.9, 1.0), (-0.1, 0.999), (0.9, -0.5), (1.5, 2.0)])
def test_betas_outside_unit_interval_raise(name, betas):
    with pytest.raises(ValueError, match=r"betas must be in \[0, 1\)"):
        getattr(cnnkit.optim, name)(params3(), betas=betas)


def test_other_hyperparameter_errors():
    with pytest.raises(ValueError, match="invalid eps"):
        cnnkit.optim.Adam(params3(), eps=-1e-8)
    with pytest.raises(ValueError, match="0 <= alpha <= 1"):
        cnnkit.optim.RMSprop(params3(), alpha=1.5)
    with pytest.raises(ValueError, match="momentum >= 0"):
        cnnkit.optim.RMSprop(params3(), momentum=-0.1)
    with pytest.raises(ValueError, match="lr_decay, initial_accumulator_value and eps must be >= 0"):
        cnnkit.optim.Adagrad(params3(), initial_accumulator_value=-1.0)


@pytest.mark.parametrize("name", NAMES)
def test_frozen_parameters_are_accepted_and_left_alone(name):
    """As torch.optim: a tensor that does not require grad (a frozen layer) has no gradient, so step skips it."""
    frozen = cnnkit.tensor(np.ones((2, 3), np.float32))
    params = params3()
    opt = getattr(cnnkit.optim, name)(params + [frozen])
    for p in params:
        p.grad = cnnkit.tensor(np.ones(p.shape, np.float32))
    opt.step()
    np.testing.assert_array_equal(frozen.numpy(), np.ones((2, 3), np.float32))


def test_non_leaf_tensors_cannot_be_optimised():
    w = cnnkit.tensor(np.ones(3, np.float32), requires_grad=True)
    with pytest.raises(ValueError, match=r"can only optimise leaf tensors"):
        cnnkit.optim.SGD([w * 2], lr=0.1)


def test_non_tensor_parameter_raises():
    with pytest.raises(TypeError, match="can only optimise Tensors, got ndarray"):
        cnnkit.optim.SGD([np.ones(3, np.float32)], lr=0.1)


def test_same_parameter_in_two_groups_raises():
    a, b, c = params3()
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        cnnkit.optim.Adam([{"params": [a, b]}, {"params": [b, c]}])


@pytest.mark.parametrize("name", NAMES)
def test_grad_of_the_wrong_shape_raises(name):
    p = cnnkit.tensor(np.ones(3, np.float32), requires_grad=True)
    opt = getattr(cnnkit.optim, name)([p], lr=0.1)
    p.grad = cnnkit.tensor(np.ones(2, np.float32))
    with pytest.raises(ValueError, match=r"a gradient of shape \(2,\) was assigned to a parameter of shape \(3,\)"):
        opt.step()
    p.grad = cnnkit.tensor(np.ones((1, 3), np.float32))  # no silent broadcasting either
    with pytest.raises(ValueError, match=r"gradient of shape \(1, 3\)"):
        opt.step()
    np.testing.assert_array_equal(p.data, np.ones(3, np.float32))


@pytest.mark.parametrize("lr", [
    0.1, 1, np.float64(0.1),
    np.float32(0.1), np.int64(1),
])
def test_numeric_lr_types_are_accepted(lr):
    p = cnnkit.tensor(np.ones(2, np.float32), requires_grad=True)
    opt = cnnkit.optim.SGD([p], lr=lr)
    p.grad = cnnkit.tensor(np.ones(2, np.float32))
    opt.step()
    np.testing.assert_allclose(p.data, 1 - float(lr), rtol=1e-6)


@pytest.mark.parametrize("options", [dict(momentum=0.9), dict(momentum=0.9, nesterov=True, weight_decay=1e-3),
                                     dict(momentum=0.5, dampening=0.3, maximize=True), dict()])
def test_sgd_split_over_threads_matches_one_pass(monkeypatch, options):
    """A large parameter's update runs in chunks on cnnkit's threads; the result must equal the
    same rule run in one piece (reference path) and the formula written out in NumPy."""
    from cnnkit.backend import fastpath, parallel

    monkeypatch.setenv("CNNKIT_THREADS", "3")
    monkeypatch.setattr(parallel, "active", lambda: True)  # as after the first split pinned BLAS
    rng = np.random.default_rng(11)
    start = rng.standard_normal((700, 500)).astype(np.float32)  # 350k elements: split
    grads = [rng.standard_normal(start.shape).astype(np.float32) for _ in range(3)]
    finals = []
    for reference in (False, True):
        w = cnnkit.tensor(start.copy(), requires_grad=True)
        opt = cnnkit.optim.SGD([w], lr=0.1, **options)
        for g in grads:
            w.grad = cnnkit.tensor(g)
            if reference:
                with fastpath.reference_only():
                    opt.step()
            else:
                opt.step()
        finals.append(w.numpy())
    np.testing.assert_array_equal(finals[0], finals[1])
    p, buf = start.astype(np.float64), None
    mu, damp, decay = options.get("momentum", 0), options.get("dampening", 0), options.get("weight_decay", 0)
    for g in grads:
        g = -g.astype(np.float64) if options.get("maximize") else g.astype(np.float64)
        g = g + decay * p
        if mu:
            buf = g.copy() if buf is None else mu * buf + (1 - damp) * g
            g = g + mu * buf if options.get("nesterov") else buf
        p = p - 0.1 * g
    np.testing.assert_allclose(finals[0], p, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name, options", [("Adam", dict()), ("Adam", dict(amsgrad=True, weight_decay=1e-2)),
                                           ("AdamW", dict(maximize=True))])
def test_adam_split_over_threads_matches_one_pass(monkeypatch, name, options):
    """As for SGD: the chunked update equals the one-piece reference path bit for bit."""
    from cnnkit.backend import fastpath, parallel

    monkeypatch.setenv("CNNKIT_THREADS", "2")
    monkeypatch.setattr(parallel, "active", lambda: True)
    rng = np.random.default_rng(12)
    start = rng.standard_normal((600, 500)).astype(np.float32)
    grads = [rng.standard_normal(start.shape).astype(np.float32) for _ in range(3)]
    finals = []
    for reference in (False, True):
        w = cnnkit.tensor(start.copy(), requires_grad=True)
        opt = getattr(cnnkit.optim, name)([w], lr=0.01, **options)
        for g in grads:
            w.grad = cnnkit.tensor(g)
            with fastpath.reference_only() if reference else contextlib.nullcontext():
                opt.step()
        finals.append(w.numpy())
    np.testing.assert_array_equal(finals[0], finals[1])
    assert not np.array_equal(finals[0], start)
