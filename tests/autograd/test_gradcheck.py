"""gradcheck: finite differences against analytic gradients, and its failure reports."""

import numpy as np
import pytest

import cnnkit
from cnnkit.autograd import Function, GradcheckResult


def leaf64(*shape, seed=0):
    data = np.random.default_rng(seed).standard_normal(shape)
    return cnnkit.tensor(data, requires_grad=True)


# ------------------------------------------------------------------------ deliberately wrong
class DoubledElement(Function):
    """Square, whose backward doubles the gradient of flat element 2."""

    def forward(self, a):
        self.save_for_backward(a)
        return a * a

    def backward(self, grad_out):
        (a,) = self.saved
        g = (2 * a * grad_out).copy()
        g.reshape(-1)[2] *= 2
        return (g,)


class TransposedMatVec(Function):
    """out = W @ v, whose backward for W forgets a transpose (right shape for square W)."""

    def forward(self, w, v):
        self.save_for_backward(w, v)
        return w @ v

    def backward(self, grad_out):
        w, v = self.saved
        gw = np.outer(grad_out, v)
        return gw.T, w.T @ grad_out  # wrong: gw.T


class Correct(Function):
    def forward(self, a):
        self.save_for_backward(a)
        return a * a

    def backward(self, grad_out):
        (a,) = self.saved
        return (2 * a * grad_out,)


# ------------------------------------------------------------------------------- passing
def test_single_input_passes():
    x = leaf64(3, 4)
    result = cnnkit.gradcheck(lambda t: (t * t).sum(1), x)
    assert isinstance(result, GradcheckResult)
    assert result.passed is True and bool(result)
    assert str(result).startswith("gradcheck passed")
    (check,) = result.inputs
    assert check.name == "input 0" and check.shape == (3, 4) and check.passed
    assert check.max_abs_error < 1e-6 and check.max_rel_error < 1e-5
    assert len(check.worst_index) == 2


def test_multiple_inputs_pass():
    a, b, c = leaf64(2, 3, seed=1), leaf64(3, 4, seed=2), leaf64(4, seed=3)
    result = cnnkit.gradcheck(lambda p, q, r: ((p @ q) * r).tanh(), (a, b, c))
    assert result.passed
    assert [ch.name for ch in result.inputs] == ["input 0", "input 1", "input 2"]
    assert [ch.shape for ch in result.inputs] == [(2, 3), (3, 4), (4,)]


def test_tuple_outputs_pass():
    a, b = leaf64(3, seed=4), leaf64(3, seed=5)
    result = cnnkit.gradcheck(lambda p, q: (p * q, (p + q).exp(), (p - q).sum()), [a, b])
    assert result.passed


def test_scalar_output_passes():
    x = leaf64(5)
    assert cnnkit.gradcheck(lambda t: (t.sigmoid() * t).mean(), x).passed
    y = cnnkit.tensor(0.3, dtype=np.float64, requires_grad=True)
    result = cnnkit.gradcheck(lambda t: t * t * t, y)
    assert result.passed and result.inputs[0].shape == () and result.inputs[0].worst_index == ()


def test_inputs_not_requiring_grad_are_constants():
    x = leaf64(3)
    c = cnnkit.tensor(np.arange(3.0))
    labels = cnnkit.tensor(np.array([0, 1, 2]))
    result = cnnkit.gradcheck(lambda t, k, i: t * k + i, (x, c, labels))
    assert result.passed
    assert [ch.name for ch in result.inputs] == ["input 0"]


def test_float_arrays_and_numbers_are_checked():
    result = cnnkit.gradcheck(lambda t: t * t, [np.array([1.0, 2.0])])
    assert [ch.name for ch in result.inputs] == ["input 0"] and result.passed


def test_output_not_depending_on_input_passes():
    x = leaf64(3)
    result = cnnkit.gradcheck(lambda t: cnnkit.ones(2, dtype=np.float64) * 1.0 + 0 * t.sum(), x)
    assert result.passed


# ---------------------------------------------------------------------------- float32 inputs
def test_float32_inputs_cast_to_float64_copies():
    x = cnnkit.tensor([0.5, -1.0, 2.0], requires_grad=True)
    data = x.data
    before = data.copy()
    seen = []

    def f(t):
        seen.append(t.dtype)
        assert t is not x
        return t.exp()

    result = cnnkit.gradcheck(f, x)
    assert result.passed
    assert set(seen) == {np.dtype(np.float64)}
    assert x.dtype == np.float32
    assert x.data is data
    np.testing.assert_array_equal(x.data, before)
    assert x.grad is None


def test_caller_float64_tensor_untouched():
    x = leaf64(2, 2)
    before = x.data.copy()
    cnnkit.gradcheck(lambda t: t * t, x)
    np.testing.assert_array_equal(x.data, before)
    assert x.grad is None


def test_non_contiguous_input():
    a = np.random.default_rng(0).standard_normal((3, 2)).T
    x = cnnkit.tensor(a, requires_grad=True)
    assert cnnkit.gradcheck(lambda t: (t * t).sum(), x).passed


# ------------------------------------------------------------------------------- failing
def test_wrong_backward_fails():
    x = leaf64(2, 3)
    result = cnnkit.gradcheck(DoubledElement.apply, x)
    assert result.passed is False and not result
    (check,) = result.inputs
    assert check.passed is False
    assert check.worst_index == (0, 2)
    assert check.analytic == pytest.approx(2 * check.numerical, rel=1e-6)
    assert check.max_abs_error == pytest.approx(abs(check.numerical), rel=1e-6)
    assert check.max_rel_error == pytest.approx(1.0, rel=1e-6)
    assert "gradcheck FAILED" in str(result) and "MISMATCH" in str(result)


def test_wrong_backward_in_second_input_raises_naming_input_and_element():
    a = leaf64(2, 3, seed=1)
    b = leaf64(2, 3, seed=2)
    with pytest.raises(cnnkit.GradcheckError, match=r"(?s)input 1 \(2, 3\): MISMATCH.*worst element \(0, 2\)") as info:
        cnnkit.gradcheck(lambda p, q: p * DoubledElement.apply(q), (a, b), raise_exception=True)
    message = str(info.value)
    assert "input 0 (2, 3): ok" in message
    assert isinstance(info.value, AssertionError)


def test_wrong_backward_result_details_per_input():
    a = leaf64(2, 3, seed=1)
    b = leaf64(2, 3, seed=2)
    result = cnnkit.gradcheck(lambda p, q: p * DoubledElement.apply(q), (a, b))
    first, second = result.inputs
    assert first.passed and not second.passed
    assert second.worst_index == (0, 2)


def test_transposed_gradient_fails():
    w = leaf64(3, 3, seed=7)
    v = leaf64(3, seed=8)
    result = cnnkit.gradcheck(TransposedMatVec.apply, (w, v))
    assert not result.passed
    assert not result.inputs[0].passed and result.inputs[1].passed
    with pytest.raises(cnnkit.GradcheckError, match=r"input 0 \(3, 3\): MISMATCH"):
        cnnkit.gradcheck(TransposedMatVec.apply, (w, v), raise_exception=True)


def test_transposed_gradient_not_hidden_by_sum():
    # With a plain .sum() objective a symmetric upstream could mask a transpose bug; the
    # random upstream gradient must expose it even for a sum-like structure.
    w = leaf64(3, 3, seed=9)
    v = cnnkit.tensor(np.ones(3), requires_grad=True)
    assert not cnnkit.gradcheck(TransposedMatVec.apply, (w, v)).passed


# ----------------------------------------------------------------------------------- fast mode
def test_fast_mode_passes_correct():
    a, b = leaf64(4, 5, seed=1), leaf64(5, seed=2)
    result = cnnkit.gradcheck(lambda p, q: (p * q).relu() + p.exp(), (a, b), fast_mode=True)
    assert result.passed
    assert all(ch.shape in ((4, 5), (5,)) for ch in result.inputs)
    assert cnnkit.gradcheck(Correct.apply, leaf64(3, 3), fast_mode=True).passed


def test_fast_mode_catches_wrong_backward():
    result = cnnkit.gradcheck(DoubledElement.apply, leaf64(2, 3), fast_mode=True)
    assert not result.passed
    with pytest.raises(cnnkit.GradcheckError, match=r"input 1 \(3, 3\): MISMATCH"):
        cnnkit.gradcheck(lambda v, w: TransposedMatVec.apply(w, v), (leaf64(3, seed=8), leaf64(3, 3, seed=7)),
                         fast_mode=True, raise_exception=True)


def test_fast_mode_leaves_inputs_untouched():
    x = cnnkit.tensor([1.0, 2.0], requires_grad=True)
    cnnkit.gradcheck(lambda t: t * t, x, fast_mode=True)
    assert x.dtype == np.float32 and x.tolist() == [1.0, 2.0] and x.grad is None


# ---------------------------------------------------------------------------- module objects
class TinyModule:
    def __init__(self, broken=False, dtype=np.float32):
        self.weight = cnnkit.tensor(0.5 * np.random.default_rng(3).standard_normal((3, 3)), dtype=dtype,
                                    requires_grad=True)
        self.broken = broken

    def named_parameters(self):
        return [("weight", self.weight)]

    def __call__(self, x):
        w = DoubledElement.apply(self.weight) if self.broken else self.weight * self.weight
        return (w @ x).tanh()  # small weights: tanh far from saturation


def test_module_parameters_checked_by_name():
    module = TinyModule()
    x = leaf64(3, 2, seed=4)
    result = cnnkit.gradcheck(module, x)
    assert result.passed
    assert [ch.name for ch in result.inputs] == ["input 0", "parameter 'weight'"]


def test_module_parameter_restored_afterwards():
    module = TinyModule()
    data = module.weight.data
    before = data.copy()
    module.weight.grad = cnnkit.tensor(np.full((3, 3), 5.0, dtype=np.float32))
    grad = module.weight.grad
    cnnkit.gradcheck(module, leaf64(3, 2, seed=4))
    assert module.weight.data is data
    assert module.weight.dtype == np.float32
    np.testing.assert_array_equal(module.weight.data, before)
    assert module.weight.grad is grad and (grad.numpy() == 5.0).all()


def test_module_wrong_parameter_gradient_fails_by_name():
    module = TinyModule(broken=True)
    x = cnnkit.tensor(np.random.default_rng(4).standard_normal((3, 2)))  # constant input
    result = cnnkit.gradcheck(module, x)
    assert not result.passed
    (check,) = result.inputs
    assert check.name == "parameter 'weight'" and check.worst_index == (0, 2)
    with pytest.raises(cnnkit.GradcheckError, match=r"parameter 'weight' \(3, 3\): MISMATCH.*worst element \(0, 2\)"):
        cnnkit.gradcheck(module, x, raise_exception=True)
    assert module.weight.dtype == np.float32


def test_module_restored_even_when_fn_raises():
    module = TinyModule()
    data = module.weight.data

    class Exploding(TinyModule):
        def __call__(self, x):
            raise RuntimeError("kaboom")

    bad = Exploding()
    bad.weight = module.weight
    with pytest.raises(RuntimeError, match="kaboom"):
        cnnkit.gradcheck(bad, leaf64(3, 2))
    assert module.weight.data is data and module.weight.dtype == np.float32


def test_module_fast_mode_wrong_gradient():
    module = TinyModule(broken=True)
    x = cnnkit.tensor(np.random.default_rng(4).standard_normal((3, 2)))
    assert not cnnkit.gradcheck(module, x, fast_mode=True).passed
    assert cnnkit.gradcheck(TinyModule(), x, fast_mode=True).passed


# -------------------------------------------------------------------------------- errors
def test_nothing_requiring_grad_raises():
    with pytest.raises(ValueError, match=r"gradcheck: nothing to check"):
        cnnkit.gradcheck(lambda t: t * 2, cnnkit.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"nothing to check"):
        cnnkit.gradcheck(lambda t: t * 2, [np.array([1, 2])])


def test_non_tensor_output_raises():
    with pytest.raises(ValueError, match=r"fn must return a floating-point Tensor"):
        cnnkit.gradcheck(lambda t: 3.0, leaf64(2))
    with pytest.raises(ValueError, match=r"fn must return a floating-point Tensor"):
        cnnkit.gradcheck(lambda t: t.argmax(), leaf64(2))


def test_tolerances_respected():
    x = leaf64(2, 3)
    # A 2x error on one element passes only with a huge relative tolerance.
    assert cnnkit.gradcheck(DoubledElement.apply, x, rtol=1.5).passed
    assert not cnnkit.gradcheck(DoubledElement.apply, x, rtol=0.5).passed
