"""Creation functions and the seeded random source."""

import json

import numpy as np
import pytest

import cnnkit
from cnnkit import Tensor
from cnnkit import random as ck_random


@pytest.fixture(autouse=True)
def _restore_rng():
    state = cnnkit.get_rng_state()
    yield
    cnnkit.set_rng_state(state)


# ---------------------------------------------------------------------------------- tensor
def test_tensor_from_various_data():
    assert cnnkit.tensor(1.0).shape == ()
    assert cnnkit.tensor([[1, 2, 3]]).shape == (1, 3)
    t = cnnkit.tensor([1.0, 2.0], requires_grad=True)
    assert isinstance(t, Tensor) and t.requires_grad
    copy = cnnkit.tensor(t)
    assert copy.data is not t.data and not copy.requires_grad
    assert copy.tolist() == [1.0, 2.0]


def test_from_numpy_shares_memory():
    a = np.arange(3.0)
    t = cnnkit.from_numpy(a)
    a[0] = 10.0
    assert t.tolist() == [10.0, 1.0, 2.0] and t.dtype == np.float64
    with pytest.raises(TypeError, match=r"from_numpy expects a numpy.ndarray, got list"):
        cnnkit.from_numpy([1.0])


# ----------------------------------------------------------------------- constant fillers
@pytest.mark.parametrize("fn, value", [(cnnkit.zeros, 0.0), (cnnkit.ones, 1.0)])
def test_zeros_ones_shapes_and_dtype(fn, value):
    for t in (fn(2, 3), fn((2, 3)), fn([2, 3])):
        assert t.shape == (2, 3) and t.dtype == np.float32
        assert (t.numpy() == value).all()
    assert fn(()).shape == ()
    assert fn().shape == ()
    assert fn(4).shape == (4,)
    assert fn(2, dtype=np.float64).dtype == np.float64
    assert fn(2, dtype="int64").dtype == np.int64
    t = fn(2, requires_grad=True)
    assert t.requires_grad and t.is_leaf


def test_full_and_empty():
    t = cnnkit.full((2, 2), 3.5)
    assert t.shape == (2, 2) and t.dtype == np.float32 and (t.numpy() == 3.5).all()
    assert cnnkit.full(3, 2).tolist() == [2.0, 2.0, 2.0]
    assert cnnkit.full([1, 2], 7, dtype=np.int64).dtype == np.int64
    e = cnnkit.empty(3, 4)
    assert e.shape == (3, 4) and e.dtype == np.float32
    assert cnnkit.empty((5,), dtype="float64").dtype == np.float64


def test_eye():
    i = cnnkit.eye(3)
    assert i.dtype == np.float32
    np.testing.assert_array_equal(i.numpy(), np.eye(3))
    assert cnnkit.eye(2, 3).tolist() == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    assert cnnkit.eye(2, dtype=np.float64).dtype == np.float64


def test_shape_errors():
    with pytest.raises(TypeError, match=r"zeros: sizes must be integers"):
        cnnkit.zeros("a")
    with pytest.raises(TypeError, match=r"rand: sizes must be integers"):
        cnnkit.rand(2.5j)


# ------------------------------------------------------------------------------------ ranges
def test_arange_dtypes():
    a = cnnkit.arange(5)
    assert a.dtype == np.int64 and a.tolist() == [0, 1, 2, 3, 4]
    assert cnnkit.arange(1, 7, 2).tolist() == [1, 3, 5]
    assert cnnkit.arange(np.int32(3)).dtype == np.int64
    f = cnnkit.arange(0, 1, 0.25)
    assert f.dtype == np.float32 and f.tolist() == [0.0, 0.25, 0.5, 0.75]
    assert cnnkit.arange(3.0).dtype == np.float32
    assert cnnkit.arange(3, dtype=np.float64).dtype == np.float64
    assert cnnkit.arange(5, 0, -2).tolist() == [5, 3, 1]
    with pytest.raises(ValueError, match=r"arange: step must be nonzero"):
        cnnkit.arange(0, 5, 0)


def test_arange_float_requires_grad():
    a = cnnkit.arange(3.0, requires_grad=True)
    assert a.requires_grad
    with pytest.raises(TypeError, match=r"only floating-point"):
        cnnkit.arange(3, requires_grad=True)


def test_linspace():
    t = cnnkit.linspace(0, 1, 5)
    assert t.dtype == np.float32
    np.testing.assert_allclose(t.numpy(), [0, 0.25, 0.5, 0.75, 1.0])
    assert cnnkit.linspace(-1, 1, 3, dtype="float64").dtype == np.float64
    assert cnnkit.linspace(0, 1, 1).tolist() == [0.0]


# ------------------------------------------------------------------------------------- _like
def test_like_functions():
    base = cnnkit.ones(2, 3, dtype=np.float64)
    z = cnnkit.zeros_like(base)
    assert z.shape == (2, 3) and z.dtype == np.float64 and (z.numpy() == 0).all()
    o = cnnkit.ones_like(base, dtype=np.float32)
    assert o.dtype == np.float32 and (o.numpy() == 1).all()
    f = cnnkit.full_like(base, 4.0)
    assert f.dtype == np.float64 and (f.numpy() == 4).all()
    assert cnnkit.zeros_like(cnnkit.arange(3)).dtype == np.int64
    assert cnnkit.ones_like(base, requires_grad=True).requires_grad
    assert cnnkit.rand_like(base).dtype == np.float64 and cnnkit.rand_like(base).shape == (2, 3)
    assert cnnkit.randn_like(cnnkit.arange(3)).dtype == np.float32
    assert not cnnkit.zeros_like(cnnkit.ones(2, requires_grad=True)).requires_grad


# ------------------------------------------------------------------------------------ random
def test_rand_randn_shapes_and_dtype():
    for fn in (cnnkit.rand, cnnkit.randn):
        for t in (fn(2, 3), fn((2, 3))):
            assert t.shape == (2, 3) and t.dtype == np.float32
        assert fn(4, dtype="float64").dtype == np.float64
        assert fn(2, requires_grad=True).requires_grad
    r = cnnkit.rand(1000).numpy()
    assert r.min() >= 0.0 and r.max() < 1.0
    n = cnnkit.randn(10000).numpy()
    assert abs(n.mean()) < 0.1 and abs(n.std() - 1.0) < 0.1


def test_randint():
    cnnkit.manual_seed(0)
    t = cnnkit.randint(5, size=(100,))
    assert t.dtype == np.int64 and t.shape == (100,)
    assert t.numpy().min() >= 0 and t.numpy().max() < 5
    u = cnnkit.randint(2, 4, (3, 3))
    assert u.shape == (3, 3) and set(np.unique(u.numpy())) <= {2, 3}
    assert cnnkit.randint(3).shape == ()
    assert cnnkit.randint(0, 3, 4, dtype=np.int32).dtype == np.int32


@pytest.mark.parametrize("draw", [
    lambda: cnnkit.rand(3, 4), lambda: cnnkit.randn(5), lambda: cnnkit.randint(0, 100, (6,)),
    lambda: cnnkit.rand_like(cnnkit.zeros(3)), lambda: cnnkit.randn_like(cnnkit.zeros(3)),
])
def test_manual_seed_reproducible(draw):
    cnnkit.manual_seed(123)
    a = draw()
    b = draw()
    cnnkit.manual_seed(123)
    a2 = draw()
    b2 = draw()
    np.testing.assert_array_equal(a.numpy(), a2.numpy())
    np.testing.assert_array_equal(b.numpy(), b2.numpy())
    assert not np.array_equal(a.numpy(), b.numpy())


def test_manual_seed_returns_default_generator():
    g = cnnkit.manual_seed(7)
    assert isinstance(g, np.random.Generator)
    assert g is ck_random.default_generator()
    cnnkit.manual_seed(np.int64(7))  # NumPy integers accepted


def test_different_seeds_differ():
    cnnkit.manual_seed(1)
    a = cnnkit.randn(5).numpy()
    cnnkit.manual_seed(2)
    assert not np.array_equal(a, cnnkit.randn(5).numpy())


@pytest.mark.parametrize("draw", [
    lambda g: cnnkit.rand(4, generator=g), lambda g: cnnkit.randn(4, generator=g),
    lambda g: cnnkit.randint(0, 1000, (4,), generator=g),
])
def test_explicit_generator_used_and_default_untouched(draw):
    cnnkit.manual_seed(5)
    state_before = cnnkit.get_rng_state()
    got = draw(np.random.default_rng(42)).numpy()
    assert cnnkit.get_rng_state() == state_before  # default generator not advanced
    np.testing.assert_array_equal(got, draw(np.random.default_rng(42)).numpy())
    assert not np.array_equal(got, draw(np.random.default_rng(43)).numpy())


def test_explicit_generator_matches_numpy_stream():
    got = cnnkit.randn(3, generator=np.random.default_rng(9), dtype=np.float64).numpy()
    np.testing.assert_array_equal(got, np.random.default_rng(9).standard_normal(3))


@pytest.mark.parametrize("bad", [np.random.RandomState(0), 0, "seed", np.random.PCG64(0)])
def test_bad_generator_type_raises(bad):
    with pytest.raises(TypeError, match=r"generator must be a numpy.random.Generator.*got " + type(bad).__name__):
        cnnkit.rand(2, generator=bad)
    with pytest.raises(TypeError, match=r"generator must be a numpy.random.Generator"):
        cnnkit.randint(0, 5, (2,), generator=bad)


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True, None, [1]])
def test_bad_seed_raises(bad):
    with pytest.raises(ValueError, match=r"manual_seed: seed must be a non-negative integer"):
        cnnkit.manual_seed(bad)


def test_rng_state_round_trip():
    cnnkit.manual_seed(11)
    state = cnnkit.get_rng_state()
    json.dumps(state)  # serialisable for checkpoints
    a = cnnkit.randn(4).numpy()
    b = cnnkit.rand(3).numpy()
    cnnkit.set_rng_state(state)
    np.testing.assert_array_equal(cnnkit.randn(4).numpy(), a)
    np.testing.assert_array_equal(cnnkit.rand(3).numpy(), b)


def test_rng_state_round_trip_after_reseed():
    cnnkit.manual_seed(11)
    state = cnnkit.get_rng_state()
    a = cnnkit.randn(4).numpy()
    cnnkit.manual_seed(999)  # replaces the generator object
    cnnkit.set_rng_state(state)
    np.testing.assert_array_equal(cnnkit.randn(4).numpy(), a)
