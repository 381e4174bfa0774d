"""Learning-rate schedulers: the lr (and momentum) sequences of ``torch.optim.lr_scheduler``,
state-dict round trips, ``get_last_lr`` and argument errors.

Parity runs drive a cnnkit and a torch optimizer (two parameter groups with different rates)
side by side for at least 40 steps, calling ``optimizer.step()`` then ``scheduler.step()`` as a
training loop does, and compare every group's rate (and SGD momentum / Adam β₁ for OneCycleLR)
after each step with a relative tolerance of 1e-12.
"""

from __future__ import annotations

import math
import types

import numpy as np
import pytest

import cnnkit
from cnnkit.optim import lr_scheduler as sched

N = 60
RTOL = 1e-12
LRS = (0.1, 0.03)


# ------------------------------------------------------------------------------- helpers
def ck_optimizer(name="SGD", lrs=LRS, **kw):
    groups = [{"params": [cnnkit.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs]
    return getattr(cnnkit.optim, name)(groups, **kw)


def torch_optimizer(torch, name="SGD", lrs=LRS, **kw):
    groups = [{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs]
    return getattr(torch.optim, name)(groups, **kw)


def momentum_of(group):
    return group["betas"][0] if "betas" in group else group.get("momentum")


def record(opt, scheduler, steps, metrics=None):
    """Per step: (get_last_lr(), the groups' lrs, the groups' momenta)."""
    out = []
    for t in range(steps):
        out.append((list(scheduler.get_last_lr()), [g["lr"] for g in opt.param_groups],
                    [momentum_of(g) for g in opt.param_groups]))
        opt.step()
        if metrics is None:
            scheduler.step()
        else:
            scheduler.step(metrics[t])
    out.append((list(scheduler.get_last_lr()), [g["lr"] for g in opt.param_groups],
                [momentum_of(g) for g in opt.param_groups]))
    return out


def assert_sequences_close(got, want, rtol=RTOL):
    assert len(got) == len(want)
    for t, ((glast, glr, gmom), (wlast, wlr, wmom)) in enumerate(zip(got, want)):
        np.testing.assert_allclose(glast, wlast, rtol=rtol, atol=0, err_msg=f"get_last_lr at step {t}")
        np.testing.assert_allclose(glr, wlr, rtol=rtol, atol=0, err_msg=f"group lr at step {t}")
        if any(m is not None for m in wmom):
            np.testing.assert_allclose(gmom, wmom, rtol=rtol, atol=0, err_msg=f"momentum at step {t}")


def parity(torch, cls_name, kwargs, opt_name="SGD", opt_kw=None, steps=N, metrics=None, tkwargs=None):
    opt_kw = opt_kw or {}
    opt = ck_optimizer(opt_name, **opt_kw)
    topt = torch_optimizer(torch, opt_name, **opt_kw)
    ours = getattr(sched, cls_name)(opt, **kwargs)
    theirs = getattr(torch.optim.lr_scheduler, cls_name)(topt, **(tkwargs or kwargs))
    got = record(opt, ours, steps, metrics)
    want = record(topt, theirs, steps, metrics)
    assert_sequences_close(got, want)
    return got, ours, theirs


# ------------------------------------------------------------------------------- epoch schedules
EPOCH_CASES = [
    ("StepLR", dict(step_size=7, gamma=0.5)),
    ("StepLR", dict(step_size=1, gamma=0.9)),
    ("StepLR", dict(step_size=10)),
    ("MultiStepLR", dict(milestones=[5, 12, 30], gamma=0.3)),
    ("MultiStepLR", dict(milestones=[30, 5, 12, 12], gamma=0.5)),  # unsorted, a repeated milestone decays twice
    ("ExponentialLR", dict(gamma=0.93)),
    ("ExponentialLR", dict(gamma=1.05)),
    ("CosineAnnealingLR", dict(T_max=15, eta_min=0.001)),  # 60 steps: four half-periods past T_max
    ("CosineAnnealingLR", dict(T_max=10)),
    ("CosineAnnealingLR", dict(T_max=40, eta_min=0.02)),
    ("LinearLR", dict()),
    ("LinearLR", dict(start_factor=0.25, end_factor=1.0, total_iters=8)),
    ("LinearLR", dict(start_factor=1.0, end_factor=0.1, total_iters=45)),
    ("LinearLR", dict(start_factor=0.5, end_factor=0.0, total_iters=20)),
]


@pytest.mark.parity
@pytest.mark.parametrize("cls_name, kwargs", EPOCH_CASES,
                         ids=[f"{c}-{','.join(f'{k}={v}' for k, v in kw.items())}" for c, kw in EPOCH_CASES])
def test_epoch_schedule_parity(torch, cls_name, kwargs):
    parity(torch, cls_name, kwargs)


@pytest.mark.parity
def test_lambda_lr_parity_single_and_per_group(torch):
    parity(torch, "LambdaLR", dict(lr_lambda=lambda e: 0.95 ** e))
    lambdas = [lambda e: 1.0 / (1 + e), lambda e: 0.5 if e % 3 else 1.0 + e / 10]
    parity(torch, "LambdaLR", dict(lr_lambda=lambdas))


@pytest.mark.parity
def test_schedules_work_with_adam(torch):
    parity(torch, "CosineAnnealingLR", dict(T_max=12, eta_min=1e-4), opt_name="Adam")
    parity(torch, "StepLR", dict(step_size=4, gamma=0.7), opt_name="RMSprop")


def test_cosine_annealing_is_periodic_beyond_t_max():
    opt = ck_optimizer(lrs=(1.0,))
    s = sched.CosineAnnealingLR(opt, T_max=5, eta_min=0.1)
    lrs = [s.get_last_lr()[0]] + [s.step() or s.get_last_lr()[0] for _ in range(20)]
    assert lrs[0] == 1.0 and lrs[5] == pytest.approx(0.1, abs=1e-15)
    assert lrs[10] == pytest.approx(1.0, abs=1e-15) and lrs[15] == pytest.approx(0.1, abs=1e-15)
    np.testing.assert_allclose(lrs[:10], lrs[10:20], rtol=1e-12)
    expected = [0.1 + 0.9 * (1 + math.cos(math.pi * e / 5)) / 2 for e in range(21)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-15)


def test_step_lr_by_hand():
    opt = ck_optimizer(lrs=(1.0, 0.5))
    s = sched.StepLR(opt, step_size=3, gamma=0.1)
    seen = []
    for _ in range(7):
        seen.append(s.get_last_lr())
        s.step()
    np.testing.assert_allclose([x[0] for x in seen], [1, 1, 1, 0.1, 0.1, 0.1, 0.01], rtol=1e-15)
    np.testing.assert_allclose([x[1] for x in seen], [0.5, 0.5, 0.5, 0.05, 0.05, 0.05, 0.005], rtol=1e-15)


# ------------------------------------------------------------------------------- OneCycleLR
ONE_CYCLE_CASES = [
    pytest.param("SGD", dict(momentum=0.9), dict(max_lr=0.5, total_steps=50), id="sgd-cos-two-phase"),
    pytest.param("SGD", dict(momentum=0.9), dict(max_lr=[0.5, 0.2], total_steps=45, pct_start=0.25,
                                                 anneal_strategy="linear"), id="sgd-linear-per-group"),
    pytest.param("SGD", dict(momentum=0.9), dict(max_lr=1.0, total_steps=60, three_phase=True), id="sgd-cos-three"),
    pytest.param("SGD", dict(momentum=0.9), dict(max_lr=1.0, total_steps=48, three_phase=True,
                                                 anneal_strategy="linear", base_momentum=0.8, max_momentum=0.99,
                                                 div_factor=10.0, final_div_factor=100.0),
                 id="sgd-linear-three-custom"),
    pytest.param("Adam", {}, dict(max_lr=0.01, total_steps=50), id="adam-beta1-cos"),
    pytest.param("AdamW", {}, dict(max_lr=0.01, total_steps=41, three_phase=True, pct_start=0.2,
                                   anneal_strategy="linear"), id="adamw-beta1-linear-three"),
    pytest.param("Adam", {}, dict(max_lr=0.01, epochs=5, steps_per_epoch=10), id="adam-epochs-steps"),
    pytest.param("SGD", dict(momentum=0.9), dict(max_lr=0.3, epochs=4, steps_per_epoch=12, pct_start=0.5),
                 id="sgd-epochs-steps"),
    pytest.param("SGD", {}, dict(max_lr=0.3, total_steps=40, cycle_momentum=False), id="sgd-no-cycle"),
    pytest.param("Adagrad", {}, dict(max_lr=0.3, total_steps=40, cycle_momentum=False), id="adagrad-no-cycle"),
]


@pytest.mark.parity
@pytest.mark.parametrize("opt_name, opt_kw, kwargs", ONE_CYCLE_CASES)
def test_one_cycle_parity(torch, opt_name, opt_kw, kwargs):
    total = kwargs.get("total_steps") or kwargs["epochs"] * kwargs["steps_per_epoch"]
    # construction is step 0; ``total`` more steps are allowed, the next one raises
    got, ours, theirs = parity(torch, "OneCycleLR", kwargs, opt_name=opt_name, opt_kw=opt_kw, steps=total)
    assert len(got) == total + 1
    if kwargs.get("cycle_momentum", True):
        momenta = [m[0] for _, _, m in got]
        assert min(momenta) < max(momenta)  # it really cycles
    with pytest.raises(ValueError, match=f"tried to step {total + 1} times, but total_steps is {total}"):
        ours.step()
    with pytest.raises(ValueError):
        theirs.step()


def test_one_cycle_endpoints():
    opt = ck_optimizer(lrs=(1.0,), momentum=0.9)
    s = sched.OneCycleLR(opt, max_lr=2.0, total_steps=10, pct_start=0.5, anneal_strategy="linear",
                         div_factor=4.0, final_div_factor=5.0)
    lrs, moms = [], []
    for _ in range(10):  # warm-up ends at step 0.5 * 10 - 1 = 4, annealing at step 9
        lrs.append(s.get_last_lr()[0])
        moms.append(opt.param_groups[0]["momentum"])
        s.step()
    assert lrs[0] == pytest.approx(0.5) and moms[0] == pytest.approx(0.95)
    assert lrs[4] == max(lrs) == pytest.approx(2.0) and moms[4] == min(moms) == pytest.approx(0.85)
    np.testing.assert_allclose(lrs[:5], [0.5, 0.875, 1.25, 1.625, 2.0], rtol=1e-12)
    assert lrs[-1] == pytest.approx(0.5 / 5.0) and moms[-1] == pytest.approx(0.95)
    assert opt.param_groups[0]["initial_lr"] == 0.5 and opt.param_groups[0]["max_lr"] == 2.0
    assert opt.param_groups[0]["min_lr"] == pytest.approx(0.1)


def test_one_cycle_adam_cycles_only_beta1():
    opt = ck_optimizer("Adam", betas=(0.9, 0.777))
    s = sched.OneCycleLR(opt, max_lr=0.01, total_steps=20)
    for _ in range(10):
        s.step()
        for g in opt.param_groups:
            assert g["betas"][1] == 0.777 and 0.85 <= g["betas"][0] <= 0.95


# ------------------------------------------------------------------------------- ReduceLROnPlateau
def plateau_metrics(kind, n=N):
    rng = np.random.default_rng(42)
    if kind == "decreasing-with-plateaus":
        base = np.repeat(np.linspace(2.0, 0.5, n // 6), 6)[:n]
        return list(base + rng.normal(0, 1e-5, n))
    if kind == "noisy":
        return list(1.0 / np.arange(1, n + 1) + rng.normal(0, 0.05, n))
    if kind == "increasing":
        return list(np.repeat(np.linspace(-1.0, 3.0, n // 5), 5)[:n] + rng.normal(0, 1e-3, n))
    if kind == "mixed-sign":
        return list(np.sin(np.arange(n) / 4.0) * 0.2 + rng.normal(0, 1e-3, n))
    if kind == "flat":
        return [1.0] * n
    raise AssertionError(kind)


PLATEAU_CASES = [
    (dict(), "decreasing-with-plateaus"),
    (dict(patience=2), "decreasing-with-plateaus"),
    (dict(patience=0, factor=0.5), "noisy"),
    (dict(patience=3, cooldown=2, factor=0.5), "noisy"),
    (dict(patience=1, threshold=0.05, threshold_mode="rel"), "decreasing-with-plateaus"),
    (dict(patience=1, threshold=0.05, threshold_mode="abs"), "decreasing-with-plateaus"),
    (dict(patience=2, threshold=0.01, threshold_mode="abs", cooldown=3), "noisy"),
    (dict(mode="max", patience=2), "increasing"),
    (dict(mode="max", patience=1, threshold=0.1, threshold_mode="rel", factor=0.7), "increasing"),
    (dict(mode="max", patience=1, threshold=0.1, threshold_mode="abs", factor=0.7), "increasing"),
    (dict(mode="max", patience=2, threshold=0.2), "mixed-sign"),
    (dict(mode="min", patience=2, threshold=0.2), "mixed-sign"),
    (dict(patience=0, factor=0.5, min_lr=0.01), "flat"),
    (dict(patience=0, factor=0.5, min_lr=[0.02, 1e-3]), "flat"),
    (dict(patience=0, factor=0.9, eps=5e-3), "flat"),  # reductions smaller than eps are skipped
    (dict(patience=1, factor=0.5, cooldown=1, eps=1e-3, min_lr=[0.0, 0.005]), "flat"),
]


@pytest.mark.parity
@pytest.mark.parametrize("kwargs, kind", PLATEAU_CASES,
                         ids=[f"{kind}-{','.join(f'{k}={v}' for k, v in kw.items())}" for kw, kind in PLATEAU_CASES])
def test_reduce_lr_on_plateau_parity(torch, kwargs, kind):
    metrics = plateau_metrics(kind)
    got, ours, theirs = parity(torch, "ReduceLROnPlateau", kwargs, metrics=metrics, steps=len(metrics))
    lrs = [lr for _, lr, _ in got]
    if kind == "flat":
        assert lrs[-1] != lrs[0]  # the case really reduces
    for attr in ("best", "num_bad_epochs", "cooldown_counter", "last_epoch"):
        assert getattr(ours, attr) == getattr(theirs, attr), attr


@pytest.mark.parity
def test_reduce_lr_on_plateau_accepts_zero_dim_tensors(torch):
    opt = ck_optimizer()
    s = sched.ReduceLROnPlateau(opt, patience=0)
    s.step(cnnkit.tensor(1.0))
    s.step(cnnkit.tensor(2.0))
    assert s.get_last_lr() == pytest.approx([0.01, 0.003])
    s.step(np.float32(0.5))
    assert s.best == 0.5


def test_reduce_lr_on_plateau_by_hand():
    opt = ck_optimizer(lrs=(1.0,))
    s = sched.ReduceLROnPlateau(opt, patience=2, factor=0.5, cooldown=1)
    lrs = []
    for m in [5, 4, 4, 4, 4, 4, 4, 4, 4, 3, 3]:
        s.step(m)
        lrs.append(s.get_last_lr()[0])
    # bad epochs after the 4: 1, 2, 3 -> reduce (step 5); cooldown eats step 6; 1, 2, 3 -> reduce (step 9)
    assert lrs == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25]


# ------------------------------------------------------------------------------- state dicts
def _fresh(kind):
    """A new optimizer and scheduler of ``kind`` (and the metrics ReduceLROnPlateau needs)."""
    if kind == "OneCycleLR-sgd":
        opt = ck_optimizer(momentum=0.9)
        return opt, sched.OneCycleLR(opt, max_lr=[0.5, 0.2], total_steps=40, three_phase=True)
    if kind == "OneCycleLR-adam":
        opt = ck_optimizer("Adam")
        return opt, sched.OneCycleLR(opt, max_lr=0.01, epochs=4, steps_per_epoch=10)
    opt = ck_optimizer(momentum=0.5)
    if kind == "StepLR":
        return opt, sched.StepLR(opt, step_size=4, gamma=0.5)
    if kind == "MultiStepLR":
        return opt, sched.MultiStepLR(opt, milestones=[3, 17, 22], gamma=0.5)
    if kind == "ExponentialLR":
        return opt, sched.ExponentialLR(opt, gamma=0.9)
    if kind == "CosineAnnealingLR":
        return opt, sched.CosineAnnealingLR(opt, T_max=9, eta_min=0.001)
    if kind == "LinearLR":
        return opt, sched.LinearLR(opt, start_factor=0.1, total_iters=25)
    if kind == "LambdaLR":
        return opt, sched.LambdaLR(opt, [lambda e: 0.9 ** e, lambda e: 1 / (e + 1)])
    if kind == "ReduceLROnPlateau":
        return opt, sched.ReduceLROnPlateau(opt, patience=1, factor=0.5, cooldown=2)
    raise AssertionError(kind)


RESUME_KINDS = ["StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR", "LambdaLR",
                "OneCycleLR-sgd", "OneCycleLR-adam", "ReduceLROnPlateau"]


@pytest.mark.parametrize("kind", RESUME_KINDS)
def test_state_dict_resume_mid_schedule_gives_the_same_sequence(kind):
    metrics = plateau_metrics("noisy", 40)
    steps = 40

    def advance(opt, s, start, stop):
        seq = []
        for t in range(start, stop):
            opt.step()
            s.step(metrics[t]) if kind == "ReduceLROnPlateau" else s.step()
            seq.append((s.get_last_lr(), [momentum_of(g) for g in opt.param_groups]))
        return seq

    opt, s = _fresh(kind)
    full = advance(opt, s, 0, steps)

    opt, s = _fresh(kind)
    head = advance(opt, s, 0, 15)
    opt_sd, s_sd = opt.state_dict(), s.state_dict()
    assert "optimizer" not in s_sd
    advance(opt, s, 15, 20)  # the original goes on; the saved dicts must not follow

    opt2, s2 = _fresh(kind)  # construct the scheduler first, then restore both
    opt2.load_state_dict(opt_sd)
    s2.load_state_dict(s_sd)
    assert s2.get_last_lr() == head[-1][0]
    tail = advance(opt2, s2, 15, steps)
    assert head + tail == full


@pytest.mark.parity
@pytest.mark.parametrize("cls_name, kwargs", [("StepLR", dict(step_size=3)), ("CosineAnnealingLR", dict(T_max=5))])
def test_state_dict_keys_match_torch(torch, cls_name, kwargs):
    ours = getattr(sched, cls_name)(ck_optimizer(), **kwargs)
    theirs = getattr(torch.optim.lr_scheduler, cls_name)(torch_optimizer(torch), **kwargs)
    ours.step()
    theirs.optimizer.step()
    theirs.step()
    sd, tsd = ours.state_dict(), theirs.state_dict()
    for key in ("base_lrs", "last_epoch", "_last_lr", *kwargs):
        assert key in sd and key in tsd, key
        assert sd[key] == pytest.approx(tsd[key], rel=1e-12), key


def test_resume_with_last_epoch_needs_initial_lr():
    opt = ck_optimizer()
    with pytest.raises(KeyError, match="param group 0 has no 'initial_lr'"):
        sched.StepLR(opt, step_size=2, last_epoch=5)


def test_resume_with_last_epoch_continues_the_schedule():
    opt = ck_optimizer()
    s = sched.StepLR(opt, step_size=3, gamma=0.5)
    for _ in range(7):
        s.step()
    expected = s.get_last_lr()
    opt2 = ck_optimizer()
    opt2.load_state_dict(opt.state_dict())
    s2 = sched.StepLR(opt2, step_size=3, gamma=0.5, last_epoch=6)  # its own step() makes it epoch 7
    assert s2.last_epoch == 7
    assert s2.get_last_lr() == pytest.approx(expected, rel=1e-15)


# ------------------------------------------------------------------------------- get_last_lr
def test_get_last_lr_matches_the_groups_and_is_a_copy():
    opt = ck_optimizer()
    s = sched.ExponentialLR(opt, gamma=0.5)
    assert s.get_last_lr() == [0.1, 0.03]
    s.step()
    last = s.get_last_lr()
    assert last == [g["lr"] for g in opt.param_groups] == pytest.approx([0.05, 0.015])
    last[0] = 99.0
    assert s.get_last_lr()[0] == pytest.approx(0.05) and opt.param_groups[0]["lr"] == pytest.approx(0.05)
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.03]


def test_plateau_get_last_lr_before_any_step():
    opt = ck_optimizer()
    assert sched.ReduceLROnPlateau(opt).get_last_lr() == [0.1, 0.03]


# ------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("step_size", [0, -3, 2.5])
def test_step_lr_step_size_must_be_positive_int(step_size):
    with pytest.raises(ValueError, match="StepLR: step_size must be a positive integer"):
        sched.StepLR(ck_optimizer(), step_size=step_size)


@pytest.mark.parametrize("t_max", [0, -1])
def test_cosine_t_max_must_be_positive(t_max):
    with pytest.raises(ValueError, match="CosineAnnealingLR: T_max must be positive"):
        sched.CosineAnnealingLR(ck_optimizer(), T_max=t_max)


@pytest.mark.parametrize("factor", [1.0, 1.5])
def test_plateau_factor_must_be_below_one(factor):
    with pytest.raises(ValueError, match=r"ReduceLROnPlateau: factor must be < 1\.0"):
        sched.ReduceLROnPlateau(ck_optimizer(), factor=factor)


def test_plateau_mode_errors():
    with pytest.raises(ValueError, match="mode must be 'min'/'max'"):
        sched.ReduceLROnPlateau(ck_optimizer(), mode="maximum")
    with pytest.raises(ValueError, match="threshold_mode 'rel'/'abs'"):
        sched.ReduceLROnPlateau(ck_optimizer(), threshold_mode="relative")


@pytest.mark.parametrize("kwargs", [dict(), dict(epochs=5), dict(steps_per_epoch=10), dict(epochs=0, steps_per_epoch=3)])
def test_one_cycle_needs_total_steps_or_epochs_and_steps_per_epoch(kwargs):
    with pytest.raises(ValueError, match="OneCycleLR: give total_steps, or both epochs and steps_per_epoch"):
        sched.OneCycleLR(ck_optimizer(momentum=0.9), max_lr=0.1, **kwargs)


@pytest.mark.parametrize("kwargs", [dict(total_steps=0), dict(total_steps=10, pct_start=1.5),
                                    dict(total_steps=10, anneal_strategy="exp")])
def test_one_cycle_bad_arguments(kwargs):
    with pytest.raises(ValueError, match="OneCycleLR: need total_steps > 0"):
        sched.OneCycleLR(ck_optimizer(momentum=0.9), max_lr=0.1, **kwargs)


def test_one_cycle_momentum_needs_momentum_or_betas():
    with pytest.raises(ValueError, match="cycle_momentum needs an optimizer with 'momentum' or 'betas'"):
        sched.OneCycleLR(ck_optimizer("Adagrad"), max_lr=0.1, total_steps=10)


def test_lambda_lr_needs_one_function_per_group():
    with pytest.raises(ValueError, match="expected 2 lr_lambdas"):
        sched.LambdaLR(ck_optimizer(), [lambda e: 1.0])


def _not_an_optimizer(kind):
    if kind == "object":
        return object()
    # duck-typed look-alike (e.g. a model or another library's optimizer): has param_groups and defaults
    return types.SimpleNamespace(param_groups=[{"lr": 0.1, "momentum": 0.9}], defaults={"lr": 0.1, "momentum": 0.9})


NON_OPTIMIZER_CASES = [
    ("StepLR", dict(step_size=2), "object", None),
    ("StepLR", dict(step_size=2), "lookalike", None),
    ("MultiStepLR", dict(milestones=[2]), "object", None),
    ("ExponentialLR", dict(gamma=0.9), "lookalike", None),
    ("CosineAnnealingLR", dict(T_max=3), "object", None),
    ("LinearLR", dict(), "lookalike", None),
    ("LambdaLR", dict(lr_lambda=lambda e: 1.0), "lookalike", None),
    ("LambdaLR", dict(lr_lambda=lambda e: 1.0), "object", None),
    ("OneCycleLR", dict(max_lr=0.1, total_steps=10), "object", None),
    ("OneCycleLR", dict(max_lr=0.1, total_steps=10), "lookalike", None),
    ("ReduceLROnPlateau", dict(), "object", None),
    ("ReduceLROnPlateau", dict(), "lookalike", None),
]


@pytest.mark.parametrize("cls_name, kwargs, kind", [
    pytest.param(c, kw, k, marks=[pytest.mark.xfail(strict=True, reason=bug)] if bug else [], id=f"{c}-{k}")
    for c, kw, k, bug in NON_OPTIMIZER_CASES])
def test_non_optimizer_argument_raises_type_error(cls_name, kwargs, kind):
    with pytest.raises(TypeError, match="needs a cnnkit.optim.Optimizer"):
        getattr(sched, cls_name)(_not_an_optimizer(kind), **kwargs)


def test_non_optimizer_names_the_type():
    with pytest.raises(TypeError, match="got dict"):
        sched.ExponentialLR({"param_groups": []}, gamma=0.5)


def test_one_cycle_max_lr_list_of_wrong_length_raises_value_error():
    with pytest.raises(ValueError, match="max_lr"):
        sched.OneCycleLR(ck_optimizer(momentum=0.9), max_lr=[0.5], total_steps=10)


def test_plateau_min_lr_list_of_wrong_length_raises_value_error():
    with pytest.raises(ValueError, match="min_lr"):
        sched.ReduceLROnPlateau(ck_optimizer(), min_lr=[0.5])


@pytest.mark.parity
def test_plateau_reduces_a_group_added_later(torch):
    opt, topt = ck_optimizer(), torch_optimizer(torch)
    s = sched.ReduceLROnPlateau(opt, patience=0)
    ts = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, patience=0)
    opt.add_param_group({"params": [cnnkit.zeros(1, requires_grad=True)], "lr": 1.0})
    topt.add_param_group({"params": [torch.zeros(1, requires_grad=True)], "lr": 1.0})
    for m in (1.0, 2.0):
        s.step(m)
        ts.step(m)
    np.testing.assert_allclose(s.get_last_lr(), ts.get_last_lr(), rtol=RTOL)
