"""A generic contract every layer exported from cnnkit.nn must meet.

For each case (shapes written by hand): output shape, parameter count, state_dict round trip,
repr, train/eval behaviour, determinism under cnnkit.manual_seed, and a float64 gradcheck of the
layer including its parameters. Plus lazy construction and the slides' size examples.
"""

from __future__ import annotations

import inspect
import math
import warnings
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
import pytest

import cnnkit
from cnnkit import nn


# --------------------------------------------------------------------------- input makers
def safe(shape, rng, dtype=np.float32):
    """Distinct values with |x| in [0.6, 0.9] ∪ [1.2, 2.0]: away from every kink the layers have
    (0 for ReLU-likes, ±1 for Hardtanh/SReLU, APL hinges in [−0.5, 0.5]) and no ties for max."""
    n = int(np.prod(shape))
    k = n // 2 + 1
    magnitudes = np.concatenate([np.linspace(0.6, 0.9, k), np.linspace(1.2, 2.0, k)])
    values = rng.permutation(magnitudes)[:n] * rng.choice([-1.0, 1.0], size=n)
    return cnnkit.tensor(values.reshape(shape).astype(dtype))


def positive(shape, rng, dtype=np.float32):
    return cnnkit.tensor(np.abs(safe(shape, rng).numpy()).astype(dtype))


def probabilities(shape, rng, dtype=np.float32):
    return cnnkit.tensor(rng.uniform(0.2, 0.8, shape).astype(dtype))


def class_targets(*labels):
    return cnnkit.tensor(np.array(labels, dtype=np.int64))


# ----------------------------------------------------------------------------- the cases
@dataclass
class Case:
    id: str
    make: Callable[[], nn.Module]
    in_shape: tuple
    out_shape: tuple
    n_params: int
    repr_has: tuple = ()
    mode_dependent: bool = False   # train and eval outputs differ (dropout, batch norm, rrelu)
    random_in_train: bool = False  # a fresh random draw each training call
    inputs: Optional[Callable] = None  # (rng, dtype) -> tuple of forward arguments
    loss: bool = False

    def args(self, rng, dtype=np.float32):
        if self.inputs is not None:
            return self.inputs(rng, dtype)
        return (safe(self.in_shape, rng, dtype),)


def ce_inputs(rng, dtype):
    return safe((4, 3), rng, dtype), class_targets(0, 2, 1, 2)


def nll_inputs(rng, dtype):
    return safe((4, 3), rng, dtype), class_targets(1, 0, 2, 2)


def regression_inputs(rng, dtype):
    return safe((2, 3), rng, dtype), cnnkit.zeros(2, 3, dtype=dtype)


def bce_inputs(rng, dtype):
    return probabilities((2, 3), rng, dtype), cnnkit.tensor(np.array([[0, 1, 1], [1, 0, 0]], dtype=dtype))


def bce_logits_inputs(rng, dtype):
    return safe((2, 3), rng, dtype), cnnkit.tensor(np.array([[0, 1, 0.5], [1, 0, 0.25]], dtype=dtype))


def positive_inputs(shape):
    return lambda rng, dtype: (positive(shape, rng, dtype),)


ACT = (2, 3, 4)
CASES = [
    # ------------------------------------------------------------------ linear and conv
    Case("Linear", lambda: nn.Linear(4, 3), (2, 4), (2, 3), 15, ("in_features=4", "out_features=3", "bias=True")),
    Case("Linear-nobias-batchdims", lambda: nn.Linear(4, 3, bias=False), (2, 5, 4), (2, 5, 3), 12, ("bias=False",)),
    Case("Conv1d", lambda: nn.Conv1d(2, 3, 3, stride=2, padding=1), (2, 2, 7), (2, 3, 4), 21,
         ("2, 3, kernel_size=(3,), stride=(2,), padding=(1,)",)),
    Case("Conv2d", lambda: nn.Conv2d(2, 4, 3, padding=1, bias=False), (1, 2, 4, 4), (1, 4, 4, 4), 72,
         ("2, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False",)),
    Case("Conv2d-groups", lambda: nn.Conv2d(2, 4, (2, 3), stride=(1, 2), groups=2), (1, 2, 3, 5), (1, 4, 2, 2),
         28, ("kernel_size=(2, 3)", "stride=(1, 2)", "groups=2")),
    Case("Conv2d-dilation", lambda: nn.Conv2d(1, 2, 2, dilation=2), (1, 1, 5, 5), (1, 2, 3, 3), 10,
         ("dilation=(2, 2)",)),
    Case("Conv2d-reflect", lambda: nn.Conv2d(1, 2, 3, padding=1, padding_mode="reflect"), (1, 1, 4, 4),
         (1, 2, 4, 4), 20, ("padding_mode=reflect",)),
    Case("Conv2d-same", lambda: nn.Conv2d(1, 2, 3, padding="same"), (1, 1, 5, 5), (1, 2, 5, 5), 20, ("same",)),
    Case("Conv2d-unbatched", lambda: nn.Conv2d(2, 3, 3), (2, 4, 4), (3, 2, 2), 57, ()),
    Case("Conv3d", lambda: nn.Conv3d(1, 2, 2), (1, 1, 3, 3, 3), (1, 2, 2, 2, 2), 18,
         ("1, 2, kernel_size=(2, 2, 2), stride=(1, 1, 1)",)),
    # ------------------------------------------------------------------------- pooling
    Case("MaxPool1d", lambda: nn.MaxPool1d(2), (1, 2, 6), (1, 2, 3), 0, ("kernel_size=(2,)",)),
    Case("MaxPool2d", lambda: nn.MaxPool2d(3, stride=2, padding=1), (1, 2, 5, 5), (1, 2, 3, 3), 0,
         ("kernel_size=(3, 3)", "stride=(2, 2)", "padding=(1, 1)")),
    Case("MaxPool2d-ceil", lambda: nn.MaxPool2d(2, ceil_mode=True), (1, 1, 5, 5), (1, 1, 3, 3), 0,
         ("ceil_mode=True",)),
    Case("MaxPool3d", lambda: nn.MaxPool3d(2), (1, 1, 4, 4, 4), (1, 1, 2, 2, 2), 0, ("kernel_size=(2, 2, 2)",)),
    Case("MinPool1d", lambda: nn.MinPool1d(3, stride=1), (1, 2, 5), (1, 2, 3), 0, ("stride=(1,)",)),
    Case("MinPool2d", lambda: nn.MinPool2d(2), (1, 2, 4, 4), (1, 2, 2, 2), 0, ("kernel_size=(2, 2)",)),
    Case("MinPool3d", lambda: nn.MinPool3d(2), (1, 1, 4, 4, 2), (1, 1, 2, 2, 1), 0, ("kernel_size=(2, 2, 2)",)),
    Case("AvgPool1d", lambda: nn.AvgPool1d(2), (1, 2, 6), (1, 2, 3), 0, ("kernel_size=(2,)",)),
    Case("AvgPool2d", lambda: nn.AvgPool2d(3, stride=1, padding=1), (1, 2, 4, 4), (1, 2, 4, 4), 0,
         ("stride=(1, 1)", "padding=(1, 1)")),
    Case("AvgPool3d", lambda: nn.AvgPool3d(2), (1, 1, 4, 4, 4), (1, 1, 2, 2, 2), 0, ("kernel_size=(2, 2, 2)",)),
    Case("LPPool1d", lambda: nn.LPPool1d(2, 3), (1, 2, 6), (1, 2, 2), 0, ("norm_type=2", "kernel_size=(3,)")),
    Case("LPPool2d", lambda: nn.LPPool2d(3, 2), (1, 2, 4, 4), (1, 2, 2, 2), 0, ("norm_type=3",),
         inputs=positive_inputs((1, 2, 4, 4))),
    Case("LPPool3d", lambda: nn.LPPool3d(2, 2), (1, 1, 4, 4, 2), (1, 1, 2, 2, 1), 0, ("norm_type=2",)),
    Case("AdaptiveAvgPool1d", lambda: nn.AdaptiveAvgPool1d(3), (1, 2, 7), (1, 2, 3), 0, ("output_size=3",)),
    Case("AdaptiveAvgPool2d", lambda: nn.AdaptiveAvgPool2d((2, 3)), (1, 2, 5, 7), (1, 2, 2, 3), 0,
         ("output_size=(2, 3)",)),
    Case("AdaptiveAvgPool3d", lambda: nn.AdaptiveAvgPool3d(2), (1, 1, 4, 5, 3), (1, 1, 2, 2, 2), 0,
         ("output_size=2",)),
    Case("AdaptiveMaxPool1d", lambda: nn.AdaptiveMaxPool1d(2), (1, 2, 7), (1, 2, 2), 0, ("output_size=2",)),
    Case("AdaptiveMaxPool2d", lambda: nn.AdaptiveMaxPool2d((3, None)), (1, 2, 7, 4), (1, 2, 3, 4), 0,
         ("output_size=(3, None)",)),
    Case("AdaptiveMaxPool3d", lambda: nn.AdaptiveMaxPool3d(1), (1, 2, 3, 3, 3), (1, 2, 1, 1, 1), 0,
         ("output_size=1",)),
    Case("GlobalAvgPool2d", lambda: nn.GlobalAvgPool2d(), (2, 3, 4, 4), (2, 3), 0, ()),
    Case("GlobalMaxPool2d", lambda: nn.GlobalMaxPool2d(keepdim=True), (2, 3, 3, 3), (2, 3, 1, 1), 0,
         ("keepdim=True",)),
    Case("ChannelPool", lambda: nn.ChannelPool(2), (2, 4, 3, 3), (2, 2, 3, 3), 0, ("kernel_size=2", "mode='max'")),
    Case("ChannelPool-l2", lambda: nn.ChannelPool(3, mode="l2"), (2, 6, 2, 2), (2, 2, 2, 2), 0, ("mode='l2'",)),
    Case("ChannelPool-avg", lambda: nn.ChannelPool(2, mode="avg"), (2, 4, 5), (2, 2, 5), 0, ("mode='avg'",)),
    Case("Maxout", lambda: nn.Maxout(3), (4, 6), (4, 2), 0, ("pieces=3",)),
    # ---------------------------------------------------------------------- activations
    Case("Sigmoid", lambda: nn.Sigmoid(), ACT, ACT, 0),
    Case("Tanh", lambda: nn.Tanh(), ACT, ACT, 0),
    Case("ReLU", lambda: nn.ReLU(), ACT, ACT, 0),
    Case("LeakyReLU", lambda: nn.LeakyReLU(0.2), ACT, ACT, 0, ("negative_slope=0.2",)),
    Case("PReLU", lambda: nn.PReLU(), ACT, ACT, 1, ("num_parameters=1",)),
    Case("PReLU-channels", lambda: nn.PReLU(3, init=0.1), ACT, ACT, 3, ("num_parameters=3",)),
    Case("RReLU", lambda: nn.RReLU(0.1, 0.3), ACT, ACT, 0, ("lower=0.1", "upper=0.3"),
         mode_dependent=True, random_in_train=True),
    Case("ELU", lambda: nn.ELU(alpha=0.5), ACT, ACT, 0, ("alpha=0.5",)),
    Case("SELU", lambda: nn.SELU(), ACT, ACT, 0),
    Case("SReLU", lambda: nn.SReLU(3), ACT, ACT, 12, ("num_parameters=3",)),
    Case("ISRLU", lambda: nn.ISRLU(alpha=0.5), ACT, ACT, 0, ("alpha=0.5",)),
    Case("APL", lambda: nn.APL(num_parameters=3, hinges=2), ACT, ACT, 12, ("num_parameters=3", "hinges=2")),
    Case("Softplus", lambda: nn.Softplus(beta=2, threshold=10), ACT, ACT, 0, ("beta=2", "threshold=10")),
    Case("BentIdentity", lambda: nn.BentIdentity(), ACT, ACT, 0),
    Case("Softmax", lambda: nn.Softmax(dim=1), ACT, ACT, 0, ("dim=1",)),
    Case("LogSoftmax", lambda: nn.LogSoftmax(dim=-1), ACT, ACT, 0, ("dim=-1",)),
    Case("GELU", lambda: nn.GELU(), ACT, ACT, 0, ("approximate='none'",)),
    Case("GELU-tanh", lambda: nn.GELU(approximate="tanh"), ACT, ACT, 0, ("approximate='tanh'",)),
    Case("SiLU", lambda: nn.SiLU(), ACT, ACT, 0),
    Case("Hardtanh", lambda: nn.Hardtanh(-2.5, 2.5), ACT, ACT, 0, ("min_val=-2.5", "max_val=2.5")),
    Case("Hardtanh-default", lambda: nn.Hardtanh(), ACT, ACT, 0, ("min_val=-1.0", "max_val=1.0")),
    Case("Mish", lambda: nn.Mish(), ACT, ACT, 0),
    # ------------------------------------------------------------------- normalisation
    Case("BatchNorm1d", lambda: nn.BatchNorm1d(3), (4, 3), (4, 3), 6,
         ("3, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True",), mode_dependent=True),
    Case("BatchNorm1d-3d", lambda: nn.BatchNorm1d(3, momentum=0.3), (4, 3, 5), (4, 3, 5), 6,
         ("momentum=0.3",), mode_dependent=True),
    Case("BatchNorm2d", lambda: nn.BatchNorm2d(3, eps=1e-3), (2, 3, 3, 3), (2, 3, 3, 3), 6, ("eps=0.001",),
         mode_dependent=True),
    Case("BatchNorm3d", lambda: nn.BatchNorm3d(2, affine=False), (2, 2, 2, 2, 2), (2, 2, 2, 2, 2), 0,
         ("affine=False",), mode_dependent=True),
    Case("LayerNorm", lambda: nn.LayerNorm(4), ACT, ACT, 8, ("(4,), eps=1e-05, elementwise_affine=True",)),
    Case("LayerNorm-2d", lambda: nn.LayerNorm((3, 4), eps=1e-3), ACT, ACT, 24, ("(3, 4)", "eps=0.001")),
    Case("GroupNorm", lambda: nn.GroupNorm(2, 4), (2, 4, 3, 3), (2, 4, 3, 3), 8, ("2, 4, eps=1e-05, affine=True",)),
    # ------------------------------------------------------------------------- dropout
    Case("Dropout", lambda: nn.Dropout(0.3), ACT, ACT, 0, ("p=0.3",), mode_dependent=True, random_in_train=True),
    Case("Dropout1d", lambda: nn.Dropout1d(), (2, 4, 5), (2, 4, 5), 0, ("p=0.5",), mode_dependent=True,
         random_in_train=True),
    Case("Dropout2d", lambda: nn.Dropout2d(0.4), (2, 4, 3, 3), (2, 4, 3, 3), 0, ("p=0.4",), mode_dependent=True,
         random_in_train=True),
    Case("Dropout3d", lambda: nn.Dropout3d(0.5), (2, 3, 2, 2, 2), (2, 3, 2, 2, 2), 0, ("p=0.5",),
         mode_dependent=True, random_in_train=True),
    # ----------------------------------------------------------------------- structural
    Case("Flatten", lambda: nn.Flatten(), ACT, (2, 12), 0, ("start_dim=1, end_dim=-1",)),
    Case("Flatten-0-1", lambda: nn.Flatten(0, 1), ACT, (6, 4), 0, ("start_dim=0, end_dim=1",)),
    Case("Unflatten", lambda: nn.Unflatten(1, (3, 4)), (2, 12), ACT, 0, ("dim=1, unflattened_size=(3, 4)",)),
    Case("Identity", lambda: nn.Identity(), (2, 3), (2, 3), 0),
    # --------------------------------------------------------------------------- losses
    Case("CrossEntropyLoss", lambda: nn.CrossEntropyLoss(), (4, 3), (), 0, inputs=ce_inputs, loss=True),
    Case("CrossEntropyLoss-sum-smooth", lambda: nn.CrossEntropyLoss(reduction="sum", label_smoothing=0.1),
         (4, 3), (), 0, ("reduction='sum'",), inputs=ce_inputs, loss=True),
    Case("CrossEntropyLoss-weight", lambda: nn.CrossEntropyLoss(weight=[1.0, 2.0, 0.5]), (4, 3), (), 0,
         inputs=ce_inputs, loss=True),
    Case("NLLLoss", lambda: nn.NLLLoss(reduction="none"), (4, 3), (4,), 0, ("reduction='none'",),
         inputs=nll_inputs, loss=True),
    Case("MSELoss", lambda: nn.MSELoss(), (2, 3), (), 0, inputs=regression_inputs, loss=True),
    Case("L1Loss", lambda: nn.L1Loss(reduction="sum"), (2, 3), (), 0, ("reduction='sum'",),
         inputs=regression_inputs, loss=True),
    Case("HuberLoss", lambda: nn.HuberLoss(delta=0.5), (2, 3), (), 0, inputs=regression_inputs, loss=True),
    Case("BCELoss", lambda: nn.BCELoss(), (2, 3), (), 0, inputs=bce_inputs, loss=True),
    Case("BCEWithLogitsLoss", lambda: nn.BCEWithLogitsLoss(pos_weight=[1.0, 2.0, 3.0]), (2, 3), (), 0,
         inputs=bce_logits_inputs, loss=True),
]
IDS = [c.id for c in CASES]
by_case = pytest.mark.parametrize("case", CASES, ids=IDS)


@pytest.fixture(autouse=True)
def _no_stray_warnings():
    """Every case tiles its input exactly: any warning (e.g. a size-rule warning) is a failure."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def run(layer, args):
    return layer(*args)


def n_params(layer):
    return sum(int(p.size) for p in layer.parameters())


# ------------------------------------------------------------------------------ coverage
CONTAINERS = {nn.Module, nn.Sequential, nn.ModuleList, nn.ModuleDict}


def test_every_exported_layer_has_a_case():
    exported = {obj for _, obj in inspect.getmembers(nn, inspect.isclass)
                if issubclass(obj, nn.Module) and obj not in CONTAINERS}
    covered = {type(c.make()) for c in CASES}
    assert exported - covered == set(), "layers without a contract case"
    assert covered <= exported


# ------------------------------------------------------------------------------ contract
@by_case
def test_output_shape_and_dtype(case, rng):
    layer = case.make()
    out = run(layer, case.args(rng))
    assert isinstance(out, cnnkit.Tensor)
    assert out.shape == case.out_shape
    assert out.dtype == np.float32
    assert np.isfinite(out.numpy()).all()


@by_case
def test_parameter_count(case):
    layer = case.make()
    assert n_params(layer) == case.n_params
    for name, p in layer.named_parameters():
        assert isinstance(p, nn.Parameter) and p.requires_grad and p.dtype == np.float32, name


@by_case
def test_backward_fills_every_parameter_grad(case, rng):
    layer = case.make()
    args = case.args(rng)
    x = args[0].requires_grad_()
    out = run(layer, args)
    out.sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape
    for name, p in layer.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape, name


def _perturb(layer, rng):
    """Move every float entry of the state away from its initial value (variances stay positive)."""
    with cnnkit.no_grad():
        for name, t in layer.state_dict(keep_vars=True).items():
            if t.dtype.kind != "f":
                t.data = t.data + 3
                continue
            noise = rng.uniform(0.8, 1.2, t.shape) if name.endswith("var") else rng.normal(0, 0.1, t.shape)
            t.data = (t.data * noise if name.endswith("var") else t.data + noise).astype(t.dtype)


@by_case
def test_state_dict_round_trip(case, rng):
    cnnkit.manual_seed(1)
    src = case.make()
    _perturb(src, rng)
    cnnkit.manual_seed(2)
    dst = case.make()
    state = src.state_dict()
    assert list(dst.state_dict()) == list(state)
    assert dst.load_state_dict(state) == ([], [])
    for key, value in state.items():
        np.testing.assert_array_equal(dst.state_dict()[key].numpy(), value.numpy(), err_msg=key)
    src.eval()
    dst.eval()
    args = case.args(rng)
    np.testing.assert_array_equal(run(dst, args).numpy(), run(src, args).numpy())


@by_case
def test_repr(case):
    layer = case.make()
    name = type(layer).__name__
    text = repr(layer)
    assert text.startswith(name + "(") and text.endswith(")")
    assert "\n" not in text
    for fragment in case.repr_has:
        assert fragment in text, f"{fragment!r} not in {text!r}"


@by_case
def test_train_and_eval(case, rng):
    layer = case.make()
    args = case.args(rng)
    assert layer.training
    cnnkit.manual_seed(3)
    train_out = run(layer, args).numpy()
    assert layer.eval() is layer and not layer.training
    eval_out = run(layer, args).numpy()
    eval_again = run(layer, args).numpy()
    np.testing.assert_array_equal(eval_out, eval_again)  # eval is deterministic for every layer
    if case.mode_dependent:
        assert not np.array_equal(train_out, eval_out)
    else:
        np.testing.assert_array_equal(train_out, eval_out)


@by_case
def test_deterministic_under_manual_seed(case, rng):
    args = case.args(rng)
    outputs, states = [], []
    for _ in range(2):
        cnnkit.manual_seed(0)
        layer = case.make()
        states.append({k: v.numpy().copy() for k, v in layer.state_dict().items()})
        outputs.append([run(layer, args).numpy() for _ in range(2)])  # train mode: masks repeat
    assert states[0].keys() == states[1].keys()
    for key in states[0]:
        np.testing.assert_array_equal(states[0][key], states[1][key], err_msg=key)
    np.testing.assert_array_equal(outputs[0][0], outputs[1][0])
    np.testing.assert_array_equal(outputs[0][1], outputs[1][1])
    if case.random_in_train:
        assert not np.array_equal(outputs[0][0], outputs[0][1])  # a new draw on every call


@by_case
def test_gradcheck_including_parameters(case, rng):
    args = list(case.args(rng, np.float64))
    args[0] = args[0].requires_grad_()
    assert sum(a.size for a in args if a.dtype.kind == "f") + case.n_params <= 130
    layer = case.make().double()
    modes = [False] if case.random_in_train else ([True, False] if case.mode_dependent else [True])
    for training in modes:
        layer.train(training)
        result = cnnkit.gradcheck(layer, args, atol=1e-7, rtol=1e-5)
        assert result.passed, f"training={training}\n{result}"
        checked = {c.name for c in result.inputs}
        assert "input 0" in checked
        assert {f"parameter '{n}'" for n, _ in layer.named_parameters()} <= checked


def test_dropout_masks_repeat_under_manual_seed():
    x = cnnkit.ones(1000)
    drop = nn.Dropout(0.5)
    cnnkit.manual_seed(11)
    a = drop(x).numpy()
    cnnkit.manual_seed(11)
    b = drop(x).numpy()
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(a)) == {0.0, 2.0}
    assert 0.4 < np.mean(a == 0) < 0.6


def test_dropout2d_zeroes_whole_channels():
    x = cnnkit.ones(8, 16, 3, 3)
    out = nn.Dropout2d(0.5)(x).numpy().reshape(8, 16, 9)
    per_channel = out.min(axis=2) == out.max(axis=2)
    assert per_channel.all()
    assert set(np.unique(out)) == {0.0, 2.0}


# ------------------------------------------------------------------------------- lazy
LAZY = [
    ("Linear", lambda: nn.Linear(None, 5), lambda: nn.Linear(7, 5), (2, 7), (2, 5)),
    ("Linear-nobias", lambda: nn.Linear(None, 5, bias=False), lambda: nn.Linear(7, 5, bias=False), (3, 7), (3, 5)),
    ("Conv1d", lambda: nn.Conv1d(None, 4, 3), lambda: nn.Conv1d(2, 4, 3), (1, 2, 6), (1, 4, 4)),
    ("Conv2d", lambda: nn.Conv2d(None, 4, 3), lambda: nn.Conv2d(3, 4, 3), (2, 3, 5, 5), (2, 4, 3, 3)),
    ("Conv2d-groups", lambda: nn.Conv2d(None, 4, 3, groups=2), lambda: nn.Conv2d(6, 4, 3, groups=2),
     (1, 6, 5, 5), (1, 4, 3, 3)),
    ("Conv3d", lambda: nn.Conv3d(None, 2, 2), lambda: nn.Conv3d(3, 2, 2), (1, 3, 3, 3, 3), (1, 2, 2, 2, 2)),
    ("BatchNorm1d", lambda: nn.BatchNorm1d(None), lambda: nn.BatchNorm1d(3), (4, 3), (4, 3)),
    ("BatchNorm2d", lambda: nn.BatchNorm2d(None), lambda: nn.BatchNorm2d(3), (2, 3, 4, 4), (2, 3, 4, 4)),
    ("BatchNorm3d", lambda: nn.BatchNorm3d(None), lambda: nn.BatchNorm3d(2), (2, 2, 2, 2, 2), (2, 2, 2, 2, 2)),
]


@pytest.mark.parametrize("name, lazy, eager, in_shape, out_shape", LAZY, ids=[c[0] for c in LAZY])
def test_lazy_construction_infers_sizes(name, lazy, eager, in_shape, out_shape, rng):
    layer, reference = lazy(), eager()
    out = layer(safe(in_shape, rng))
    assert out.shape == out_shape
    ours, theirs = layer.state_dict(), reference.state_dict()
    assert list(ours) == list(theirs)
    for key in theirs:
        assert ours[key].shape == theirs[key].shape and ours[key].dtype == theirs[key].dtype, key
    assert n_params(layer) == n_params(reference)
    assert [n for n, _ in layer.named_parameters()] == [n for n, _ in reference.named_parameters()]
    assert repr(layer) == repr(reference)
    # a later call with a different size is an error, not a silent re-materialisation
    bad = list(in_shape)
    bad[1 if len(in_shape) > 2 or "BatchNorm" in name else -1] += 2
    with pytest.raises(ValueError):
        layer(safe(tuple(bad), rng))


def test_lazy_linear_init_uses_inferred_fan_in():
    layer = nn.Linear(None, 300)
    layer(cnnkit.zeros(1, 400))
    bound = 1 / math.sqrt(400)
    assert np.abs(layer.weight.data).max() <= bound
    assert np.abs(layer.weight.data).max() > 0.99 * bound
    assert np.abs(layer.bias.data).max() <= bound
    assert np.abs(layer.bias.data).max() > 0.9 * bound


def test_lazy_state_dict_loads_into_eager():
    lazy = nn.Sequential(nn.Conv2d(None, 4, 3), nn.BatchNorm2d(None), nn.Flatten(), nn.Linear(None, 2))
    x = cnnkit.randn(2, 3, 5, 5)
    lazy(x)
    eager = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(36, 2))
    eager.load_state_dict(lazy.state_dict())
    lazy.eval()
    eager.eval()
    np.testing.assert_array_equal(eager(x).numpy(), lazy(x).numpy())


# ---------------------------------------------------------------------------- slides
def test_slides_conv_example():
    conv = nn.Conv2d(3, 10, 5, stride=1, padding=2)
    assert conv(cnnkit.randn(1, 3, 32, 32)).shape == (1, 10, 32, 32)
    assert conv(cnnkit.randn(3, 32, 32)).shape == (10, 32, 32)
    assert n_params(conv) == 760  # 10 · (3·5·5 + 1)
    assert conv.weight.shape == (10, 3, 5, 5) and conv.bias.shape == (10,)


def lenet5():
    return nn.Sequential(
        nn.Conv2d(1, 20, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(20, 50, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Flatten(), nn.Linear(2450, 500), nn.ReLU(), nn.Linear(500, 10),
    )


def test_slides_lenet5_shapes_and_parameter_count():
    net = lenet5()
    assert n_params(net) == 1_256_080
    expected = [520, 25_050, 1_225_500, 5_010]
    assert [n_params(m) for m in net if n_params(m)] == expected
    out = net(cnnkit.randn(3, 1, 28, 28))
    assert out.shape == (3, 10)
    shapes = []
    x = cnnkit.randn(2, 1, 28, 28)
    for m in net:
        x = m(x)
        shapes.append(x.shape)
    assert shapes == [(2, 20, 28, 28), (2, 20, 28, 28), (2, 20, 14, 14), (2, 50, 14, 14), (2, 50, 14, 14),
                      (2, 50, 7, 7), (2, 2450), (2, 500), (2, 500), (2, 10)]


@pytest.mark.parity
def test_lenet5_state_dict_matches_torch(torch):
    tnn = torch.nn
    theirs = tnn.Sequential(
        tnn.Conv2d(1, 20, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2, 2),
        tnn.Conv2d(20, 50, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2, 2),
        tnn.Flatten(), tnn.Linear(2450, 500), tnn.ReLU(), tnn.Linear(500, 10),
    )
    ours = lenet5()
    assert {k: tuple(v.shape) for k, v in theirs.state_dict().items()} == \
        {k: v.shape for k, v in ours.state_dict().items()}
    assert list(theirs.state_dict()) == list(ours.state_dict())
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 1, 28, 28)).astype(np.float32)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours(cnnkit.tensor(x)).numpy(), expected, rtol=1e-4, atol=1e-5)


# -------------------------------------------------------------------------- torch parity
TORCH_REPRS = [
    ("conv-basic", lambda m: m.Conv2d(3, 8, 3)),
    ("conv-all", lambda m: m.Conv2d(4, 8, (3, 5), stride=2, padding=(1, 2), dilation=2, groups=2, bias=False)),
    ("conv-reflect", lambda m: m.Conv2d(1, 2, 3, padding=1, padding_mode="reflect")),
    pytest.param("conv-same", lambda m: m.Conv2d(1, 2, 3, padding="same"), id="conv-same"),
    ("conv1d", lambda m: m.Conv1d(2, 3, 3, stride=2)),
    ("conv3d", lambda m: m.Conv3d(1, 2, 2)),
    ("linear", lambda m: m.Linear(4, 3, bias=False)),
    ("leaky", lambda m: m.LeakyReLU(0.2)),
    ("elu", lambda m: m.ELU(alpha=0.5)),
    ("softmax", lambda m: m.Softmax(dim=1)),
    ("prelu", lambda m: m.PReLU(3)),
    ("flatten", lambda m: m.Flatten()),
    ("identity", lambda m: m.Identity()),
    ("adaptive", lambda m: m.AdaptiveAvgPool2d((2, 3))),
]


@pytest.mark.parity
@pytest.mark.parametrize("name, make", [c if hasattr(c, "marks") else pytest.param(*c, id=c[0])
                                        for c in TORCH_REPRS])
def test_repr_matches_torch(name, make, torch):
    assert repr(make(nn)) == repr(make(torch.nn))


TORCH_FORWARD = [
    ("conv2d", lambda m: m.Conv2d(2, 4, 3, stride=2, padding=1, dilation=1, groups=2), (2, 2, 7, 7)),
    ("conv1d-circular", lambda m: m.Conv1d(2, 3, 3, padding=1, padding_mode="circular"), (2, 2, 6)),
    ("linear", lambda m: m.Linear(6, 3), (4, 6)),
    ("prelu", lambda m: m.PReLU(3), (2, 3, 4)),
    ("bn2d", lambda m: m.BatchNorm2d(3), (4, 3, 2, 2)),
    ("bn1d-cumulative", lambda m: m.BatchNorm1d(3, momentum=None), (5, 3)),
    ("bn1d-no-stats", lambda m: m.BatchNorm1d(3, track_running_stats=False), (5, 3)),
    ("layernorm", lambda m: m.LayerNorm((3, 4)), (2, 3, 4)),
    ("groupnorm", lambda m: m.GroupNorm(2, 4), (2, 4, 3, 3)),
    ("maxpool", lambda m: m.MaxPool2d(3, 2, 1), (1, 2, 5, 5)),
    ("avgpool", lambda m: m.AvgPool2d(3, 1, 1), (1, 2, 4, 4)),
    ("adaptive-max", lambda m: m.AdaptiveMaxPool2d((3, 2)), (1, 2, 7, 5)),
    ("lppool", lambda m: m.LPPool2d(2, 2), (1, 2, 4, 4)),
]


@pytest.mark.parity
@pytest.mark.parametrize("name, make, shape", TORCH_FORWARD, ids=[c[0] for c in TORCH_FORWARD])
def test_forward_and_state_match_torch(name, make, shape, torch, rng):
    """Load torch's state into the twin; outputs match in train and eval mode, and so do the
    running statistics after a training step."""
    theirs = make(torch.nn)
    ours = make(nn)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = safe(shape, rng).numpy()
    for training in (True, False):
        theirs.train(training)
        ours.train(training)
        with torch.no_grad():
            expected = theirs(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(ours(cnnkit.tensor(x)).numpy(), expected, rtol=1e-5, atol=1e-5)
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[key].numpy(), value.numpy(), rtol=1e-5, atol=1e-6, err_msg=key)
