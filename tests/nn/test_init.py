"""cnnkit.nn.init: formulas (written independently here), statistics, in-place contract,
reproducibility, errors; and each layer's PyTorch-default reset_parameters."""

from __future__ import annotations

import math

import numpy as np
import pytest

import cnnkit
from cnnkit import nn
from cnnkit.nn import init

BIG = (256, 1024)  # 262,144 samples: sample std within ~0.3 % of the true std


def empty(*shape, dtype=np.float32):
    return cnnkit.Tensor(np.full(shape, np.nan, dtype=dtype))


def fans(shape):
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def gain(nonlinearity, param=None):
    """The recommended gains, written out from PyTorch's documentation table."""
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1.0 + slope * slope))
    return {"linear": 1.0, "conv1d": 1.0, "conv2d": 1.0, "conv3d": 1.0, "conv_transpose1d": 1.0,
            "conv_transpose2d": 1.0, "conv_transpose3d": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3.0,
            "relu": math.sqrt(2.0), "selu": 0.75}[nonlinearity]


def assert_uniform(values, low, high):
    """U(low, high): within the bounds, reaching them, mean and std within 5 standard errors."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    n, width = v.size, high - low
    assert v.min() >= low and v.max() <= high
    assert v.min() < low + 0.001 * width and v.max() > high - 0.001 * width  # the bounds are reached
    std = width / math.sqrt(12)
    assert abs(v.mean() - (low + high) / 2) < 5 * std / math.sqrt(n)
    assert v.std() == pytest.approx(std, rel=5 * 0.45 / math.sqrt(n))


def assert_normal(values, mean, std):
    """N(mean, std²): mean, std and the mass beyond 2 sigma within 5 standard errors."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    n = v.size
    assert abs(v.mean() - mean) < 5 * std / math.sqrt(n)
    assert v.std() == pytest.approx(std, rel=5 / math.sqrt(2 * n))
    # Gaussian, not uniform: about 4.55 % of the mass lies beyond 2 sigma
    tail = 0.0455
    assert np.mean(np.abs(v - mean) > 2 * std) == pytest.approx(tail, abs=5 * math.sqrt(tail * (1 - tail) / n))


# ----------------------------------------------------------------------------- gains, fans
@pytest.mark.parametrize("name", ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                                  "conv_transpose2d", "conv_transpose3d", "sigmoid", "tanh", "relu",
                                  "selu", "leaky_relu"])
def test_calculate_gain_table(name):
    assert init.calculate_gain(name) == pytest.approx(gain(name), rel=1e-12)


@pytest.mark.parametrize("slope", [0.0, 0.2, 1.0, math.sqrt(5)])
def test_calculate_gain_leaky_relu_param(slope):
    assert init.calculate_gain("leaky_relu", slope) == pytest.approx(math.sqrt(2 / (1 + slope ** 2)), rel=1e-12)


def test_calculate_gain_unknown_nonlinearity():
    with pytest.raises(ValueError, match=r"unsupported nonlinearity 'swishy'"):
        init.calculate_gain("swishy")


@pytest.mark.parity
def test_calculate_gain_matches_torch(torch):
    for name in ["linear", "conv2d", "sigmoid", "tanh", "relu", "selu", "leaky_relu"]:
        assert init.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name))
    assert init.calculate_gain("leaky_relu", 0.3) == pytest.approx(torch.nn.init.calculate_gain("leaky_relu", 0.3))


@pytest.mark.parametrize("shape", [(3, 5), (7, 2), (8, 4, 3), (16, 3, 5, 5), (2, 3, 2, 3, 4)])
def test_calculate_fan_in_and_fan_out(shape):
    assert init.calculate_fan_in_and_fan_out(empty(*shape)) == fans(shape)


def test_calculate_fan_examples():
    assert init.calculate_fan_in_and_fan_out(empty(500, 2450)) == (2450, 500)
    assert init.calculate_fan_in_and_fan_out(empty(10, 3, 5, 5)) == (75, 250)


@pytest.mark.parametrize("shape", [(5,), ()])
def test_fan_of_tensor_with_fewer_than_two_dims_raises(shape):
    with pytest.raises(ValueError, match=r"at least 2 dimensions"):
        init.calculate_fan_in_and_fan_out(empty(*shape))
    with pytest.raises(ValueError, match=r"at least 2 dimensions"):
        init.xavier_uniform_(empty(*shape))
    with pytest.raises(ValueError, match=r"at least 2 dimensions"):
        init.kaiming_normal_(empty(*shape))


# ------------------------------------------------------------------------- distributions
def test_uniform_():
    t = empty(*BIG)
    assert_uniform(init.uniform_(t, -0.3, 0.7).data, -0.3, 0.7)
    assert_uniform(init.uniform_(empty(*BIG)).data, 0.0, 1.0)


def test_normal_():
    assert_normal(init.normal_(empty(*BIG), mean=1.5, std=0.2).data, 1.5, 0.2)
    assert_normal(init.normal_(empty(*BIG)).data, 0.0, 1.0)


@pytest.mark.parametrize("fn, value", [(lambda t: init.constant_(t, 0.37), 0.37),
                                       (init.zeros_, 0.0), (init.ones_, 1.0)])
def test_constant_zeros_ones(fn, value):
    t = empty(3, 4)
    out = fn(t)
    assert out is t
    assert np.all(t.data == np.float32(value))


@pytest.mark.parametrize("shape", [BIG, (64, 32, 3, 3)])
@pytest.mark.parametrize("g", [1.0, 2.5])
def test_xavier_uniform_(shape, g):
    fan_in, fan_out = fans(shape)
    bound = g * math.sqrt(6.0 / (fan_in + fan_out))
    assert_uniform(init.xavier_uniform_(empty(*shape), gain=g).data, -bound, bound)


@pytest.mark.parametrize("shape", [BIG, (64, 32, 3, 3)])
@pytest.mark.parametrize("g", [1.0, 2.5])
def test_xavier_normal_(shape, g):
    fan_in, fan_out = fans(shape)
    assert_normal(init.xavier_normal_(empty(*shape), gain=g).data, 0.0, g * math.sqrt(2.0 / (fan_in + fan_out)))


KAIMING = [
    # (a, mode, nonlinearity)
    (0.0, "fan_in", "leaky_relu"),
    (0.0, "fan_out", "relu"),
    (math.sqrt(5), "fan_in", "leaky_relu"),
    (0.2, "fan_out", "leaky_relu"),
    (0.0, "fan_in", "tanh"),
    (0.0, "fan_out", "linear"),
]


@pytest.mark.parametrize("shape", [(128, 2048), (64, 32, 3, 3)])
@pytest.mark.parametrize("a, mode, nonlinearity", KAIMING)
def test_kaiming_uniform_(shape, a, mode, nonlinearity):
    fan_in, fan_out = fans(shape)
    fan = fan_in if mode == "fan_in" else fan_out
    bound = gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    out = init.kaiming_uniform_(empty(*shape), a=a, mode=mode, nonlinearity=nonlinearity)
    assert_uniform(out.data, -bound, bound)


@pytest.mark.parametrize("shape", [(128, 2048), (64, 32, 3, 3)])
@pytest.mark.parametrize("a, mode, nonlinearity", KAIMING)
def test_kaiming_normal_(shape, a, mode, nonlinearity):
    fan_in, fan_out = fans(shape)
    fan = fan_in if mode == "fan_in" else fan_out
    out = init.kaiming_normal_(empty(*shape), a=a, mode=mode, nonlinearity=nonlinearity)
    assert_normal(out.data, 0.0, gain(nonlinearity, a) / math.sqrt(fan))


def test_kaiming_defaults_are_fan_in_leaky_relu_a0():
    # a=0 with leaky_relu is He's ReLU gain sqrt(2); default mode fan_in
    shape = (128, 2048)
    assert_normal(init.kaiming_normal_(empty(*shape)).data, 0.0, math.sqrt(2.0 / 2048))
    bound = math.sqrt(2.0) * math.sqrt(3.0 / 2048)
    assert_uniform(init.kaiming_uniform_(empty(*shape)).data, -bound, bound)


@pytest.mark.parametrize("fn", [init.kaiming_uniform_, init.kaiming_normal_])
def test_kaiming_bad_mode(fn):
    with pytest.raises(ValueError, match=r"mode must be 'fan_in' or 'fan_out', got 'fan_avg'"):
        fn(empty(4, 4), mode="fan_avg")


@pytest.mark.parametrize("fn", [init.kaiming_uniform_, init.kaiming_normal_])
def test_kaiming_unknown_nonlinearity(fn):
    with pytest.raises(ValueError, match=r"unsupported nonlinearity"):
        fn(empty(4, 4), nonlinearity="softsign")


@pytest.mark.parametrize("shape", [(128, 2048), (64, 32, 3, 3)])
def test_lecun_normal_(shape):
    fan_in, _ = fans(shape)
    assert_normal(init.lecun_normal_(empty(*shape)).data, 0.0, 1.0 / math.sqrt(fan_in))


@pytest.mark.parametrize("shape", [(6, 6), (10, 4), (4, 10), (8, 2, 3, 3), (3, 4, 2, 2)])
@pytest.mark.parametrize("g", [1.0, 1.7])
def test_orthogonal_(shape, g):
    t = init.orthogonal_(empty(*shape, dtype=np.float64), gain=g)
    flat = t.data.reshape(shape[0], -1)
    rows, cols = flat.shape
    if rows >= cols:
        np.testing.assert_allclose(flat.T @ flat, g * g * np.eye(cols), atol=1e-10)
    else:
        np.testing.assert_allclose(flat @ flat.T, g * g * np.eye(rows), atol=1e-10)


def test_orthogonal_float32_and_errors():
    t = init.orthogonal_(empty(16, 16))
    np.testing.assert_allclose(t.data.T @ t.data, np.eye(16), atol=1e-5)
    with pytest.raises(ValueError, match=r"at least 2 dimensions"):
        init.orthogonal_(empty(5))


# ----------------------------------------------------------------------- in-place contract
ALL_RANDOM = [
    ("uniform_", lambda t, **kw: init.uniform_(t, -1, 1, **kw)),
    ("normal_", lambda t, **kw: init.normal_(t, 0, 1, **kw)),
    ("xavier_uniform_", init.xavier_uniform_),
    ("xavier_normal_", init.xavier_normal_),
    ("kaiming_uniform_", init.kaiming_uniform_),
    ("kaiming_normal_", init.kaiming_normal_),
    ("lecun_normal_", init.lecun_normal_),
    ("orthogonal_", init.orthogonal_),
]
ALL = ALL_RANDOM + [("constant_", lambda t: init.constant_(t, 2.0)), ("zeros_", init.zeros_),
                    ("ones_", init.ones_)]


@pytest.mark.parametrize("name, fn", ALL, ids=[n for n, _ in ALL])
def test_initialisers_work_in_place_and_return_the_tensor(name, fn):
    p = nn.Parameter(np.full((6, 5), np.nan, np.float32))
    storage = p.data
    out = fn(p)
    assert out is p
    assert p.data is storage  # filled in place, not rebound
    assert np.isfinite(storage).all()
    assert p.dtype == np.float32
    assert p.requires_grad and p.is_leaf and p.creator is None


@pytest.mark.parametrize("name, fn", ALL_RANDOM, ids=[n for n, _ in ALL_RANDOM])
def test_initialisers_keep_float64(name, fn):
    assert fn(empty(6, 5, dtype=np.float64)).dtype == np.float64


@pytest.mark.parametrize("name, fn", ALL_RANDOM, ids=[n for n, _ in ALL_RANDOM])
def test_reproducible_under_manual_seed(name, fn):
    cnnkit.manual_seed(123)
    a = fn(empty(8, 6)).data.copy()
    b = fn(empty(8, 6)).data.copy()
    cnnkit.manual_seed(123)
    a2 = fn(empty(8, 6)).data.copy()
    b2 = fn(empty(8, 6)).data.copy()
    np.testing.assert_array_equal(a, a2)
    np.testing.assert_array_equal(b, b2)
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("name, fn", ALL_RANDOM, ids=[n for n, _ in ALL_RANDOM])
def test_explicit_generator_is_reproducible_and_leaves_global_state_alone(name, fn):
    cnnkit.manual_seed(5)
    state = cnnkit.get_rng_state()
    a = fn(empty(8, 6), generator=np.random.default_rng(42)).data.copy()
    b = fn(empty(8, 6), generator=np.random.default_rng(42)).data.copy()
    np.testing.assert_array_equal(a, b)
    assert cnnkit.get_rng_state() == state
    c = fn(empty(8, 6), generator=np.random.default_rng(43)).data
    assert not np.array_equal(a, c)


def test_bad_generator_type():
    with pytest.raises(TypeError, match=r"numpy.random.Generator"):
        init.uniform_(empty(2, 2), generator=42)


# --------------------------------------------------------------- layers' default init
def _check_bound(values, bound, *, reach):
    v = np.abs(np.asarray(values, dtype=np.float64))
    assert v.max() <= bound * (1 + 1e-6)
    assert v.max() >= reach * bound


@pytest.mark.parametrize(
    "make, fan_in",
    [
        (lambda: nn.Linear(1000, 400), 1000),
        (lambda: nn.Linear(7, 300), 7),
        (lambda: nn.Conv1d(16, 200, 5), 80),
        (lambda: nn.Conv2d(64, 64, 3), 576),
        (lambda: nn.Conv2d(8, 320, 3, groups=4), 18),  # fan_in counts in_channels / groups
        (lambda: nn.Conv3d(4, 200, 3), 108),
    ],
    ids=["linear-1000", "linear-7", "conv1d", "conv2d", "conv2d-groups", "conv3d"],
)
def test_linear_conv_default_init_bounds(make, fan_in):
    layer = make()
    bound = 1.0 / math.sqrt(fan_in)  # kaiming_uniform_(a=sqrt(5)) == U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    w = layer.weight.data
    _check_bound(w, bound, reach=0.99)
    assert np.std(w) == pytest.approx(bound / math.sqrt(3), rel=0.05)
    _check_bound(layer.bias.data, bound, reach=0.95)
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32


def test_reset_parameters_redraws():
    lin = nn.Linear(20, 30)
    nn.init.zeros_(lin.weight)
    nn.init.zeros_(lin.bias)
    lin.reset_parameters()
    assert np.count_nonzero(lin.weight.data) == lin.weight.size
    _check_bound(lin.weight.data, 1 / math.sqrt(20), reach=0.8)


def test_layer_init_reproducible_under_manual_seed():
    cnnkit.manual_seed(0)
    a = nn.Conv2d(3, 8, 3)
    cnnkit.manual_seed(0)
    b = nn.Conv2d(3, 8, 3)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(a.bias.data, b.bias.data)


@pytest.mark.parametrize("cls, shape", [(nn.BatchNorm1d, (4, 5)), (nn.BatchNorm2d, (4, 5, 3, 3)),
                                        (nn.BatchNorm3d, (2, 5, 2, 2, 2))])
def test_batchnorm_defaults_and_reset(cls, shape):
    bn = cls(5)
    assert bn.weight.tolist() == [1.0] * 5 and bn.bias.tolist() == [0.0] * 5
    assert bn.running_mean.tolist() == [0.0] * 5 and bn.running_var.tolist() == [1.0] * 5
    assert bn.num_batches_tracked.item() == 0 and bn.num_batches_tracked.dtype == np.int64
    assert not bn.running_mean.requires_grad and not bn.running_var.requires_grad
    assert (bn.eps, bn.momentum, bn.affine, bn.track_running_stats) == (1e-5, 0.1, True, True)
    bn(cnnkit.randn(*shape) * 3 + 1)
    with cnnkit.no_grad():
        bn.weight.data[...] = 2.0
    assert bn.num_batches_tracked.item() == 1
    assert not np.allclose(bn.running_mean.data, 0)
    bn.reset_parameters()
    assert bn.weight.tolist() == [1.0] * 5 and bn.bias.tolist() == [0.0] * 5
    assert bn.running_mean.tolist() == [0.0] * 5 and bn.running_var.tolist() == [1.0] * 5
    assert bn.num_batches_tracked.item() == 0


def test_batchnorm_without_affine_or_running_stats():
    bn = nn.BatchNorm2d(3, affine=False, track_running_stats=False)
    assert list(bn.parameters()) == [] and list(bn.state_dict()) == []


def test_other_layer_defaults():
    ln = nn.LayerNorm((3, 4))
    assert np.all(ln.weight.data == 1) and np.all(ln.bias.data == 0) and ln.weight.shape == (3, 4)
    gn = nn.GroupNorm(2, 6)
    assert np.all(gn.weight.data == 1) and np.all(gn.bias.data == 0) and gn.weight.shape == (6,)
    assert nn.PReLU().weight.tolist() == [0.25]
    assert nn.PReLU(3, init=0.1).weight.shape == (3,)
