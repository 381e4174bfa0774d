"""Acceptance tests: the course slides' computational-graph examples and gate patterns."""

import math

import numpy as np
import pytest

import cnnkit


def leaf(value):
    return cnnkit.tensor(value, requires_grad=True)


# ------------------------------------------------------------------ f(x, y, z) = (x + y) * z
def test_add_mul_graph_values_and_gradients():
    x, y, z = leaf(-2.0), leaf(5.0), leaf(-4.0)
    q = x + y
    f = q * z
    assert q.item() == 3.0
    assert f.item() == -12.0
    f.backward()
    assert x.grad.item() == -4.0
    assert y.grad.item() == -4.0
    assert z.grad.item() == 3.0


def test_add_mul_graph_with_python_int_inputs():
    x, y, z = leaf(-2), leaf(5), leaf(-4)
    for t in (x, y, z):
        assert t.dtype == np.float32
        assert t.requires_grad
    f = (x + y) * z
    assert f.dtype == np.float32
    f.backward()
    assert f.item() == -12.0
    assert (x.grad.item(), y.grad.item(), z.grad.item()) == (-4.0, -4.0, 3.0)
    assert x.grad.dtype == np.float32


# --------------------------------------------------------- f(w, x) = sigma(w0 x0 + w1 x1 + w2)
W0, W1, W2, X0, X1 = 2.0, -3.0, -3.0, -1.0, -2.0


def _analytic_neuron():
    s = W0 * X0 + W1 * X1 + W2  # = 1
    f = 1.0 / (1.0 + math.exp(-s))
    d = f * (1.0 - f)
    return f, (X0 * d, X1 * d, d), (W0 * d, W1 * d)


def _neuron(w, x, written_out):
    s = w[0] * x[0] + w[1] * x[1] + w[2]
    if written_out:
        return 1.0 / (1.0 + (-s).exp())
    return s.sigmoid()


@pytest.mark.parametrize("written_out", [False, True], ids=["sigmoid", "one_over_one_plus_exp"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_neuron_matches_slides(written_out, dtype):
    w = cnnkit.tensor([W0, W1, W2], requires_grad=True, dtype=dtype)
    x = cnnkit.tensor([X0, X1], requires_grad=True, dtype=dtype)
    f = _neuron(w, x, written_out)
    assert f.shape == ()
    f.backward()
    # The numbers printed on the slides (3 decimals).
    assert f.item() == pytest.approx(0.731, abs=5e-4)
    np.testing.assert_allclose(w.grad.numpy(), [-0.197, -0.393, 0.197], atol=5e-4)
    np.testing.assert_allclose(x.grad.numpy(), [0.393, -0.590], atol=5e-4)
    # Hand-computed analytic values.
    f_true, dw_true, dx_true = _analytic_neuron()
    tol = 1e-6
    assert f.item() == pytest.approx(f_true, abs=tol)
    np.testing.assert_allclose(w.grad.numpy(), dw_true, atol=tol)
    np.testing.assert_allclose(x.grad.numpy(), dx_true, atol=tol)
    assert w.grad.dtype == dtype and x.grad.dtype == dtype


def test_sigmoid_neuron_with_scalar_leaves():
    w0, w1, w2 = leaf(W0), leaf(W1), leaf(W2)
    x0, x1 = leaf(X0), leaf(X1)
    f = (w0 * x0 + w1 * x1 + w2).sigmoid()
    f.backward()
    f_true, dw_true, dx_true = _analytic_neuron()
    assert f.item() == pytest.approx(f_true, abs=1e-6)
    got_w = [w0.grad.item(), w1.grad.item(), w2.grad.item()]
    got_x = [x0.grad.item(), x1.grad.item()]
    np.testing.assert_allclose(got_w, dw_true, atol=1e-6)
    np.testing.assert_allclose(got_x, dx_true, atol=1e-6)


def test_sigmoid_forms_agree_with_functional_sigmoid():
    s = cnnkit.tensor(np.linspace(-5, 5, 11))
    np.testing.assert_allclose(cnnkit.sigmoid(s).numpy(), (1.0 / (1.0 + (-s).exp())).numpy(), atol=1e-12)


# ------------------------------------------------------------------------------ gate patterns
def test_add_gate_distributes_gradient():
    a, b = leaf(3.0), leaf(-7.0)
    (a + b).backward(cnnkit.tensor(2.5))
    assert a.grad.item() == 2.5
    assert b.grad.item() == 2.5


def test_mul_gate_swaps_inputs():
    a, b = leaf(3.0), leaf(-7.0)
    (a * b).backward(cnnkit.tensor(2.0))
    assert a.grad.item() == -14.0  # upstream * other input
    assert b.grad.item() == 6.0


def test_copy_gate_adds_gradients():
    x = leaf(3.0)
    y = x * 2.0 + x * 5.0  # x used twice
    y.backward()
    assert x.grad.item() == 7.0


def test_copy_gate_same_tensor_twice_in_one_op():
    x = leaf(3.0)
    (x * x).backward()
    assert x.grad.item() == 6.0


def test_max_gate_routes_to_larger_input():
    a, b = leaf(4.0), leaf(-1.0)
    m = cnnkit.maximum(a, b)
    assert m.item() == 4.0
    m.backward(cnnkit.tensor(3.0))
    assert a.grad.item() == 3.0
    assert b.grad.item() == 0.0


def test_max_gate_elementwise_routing():
    a = leaf([1.0, 5.0, -2.0])
    b = leaf([3.0, 2.0, -4.0])
    m = cnnkit.maximum(a, b)
    np.testing.assert_array_equal(m.numpy(), [3.0, 5.0, -2.0])
    m.backward(cnnkit.tensor([10.0, 20.0, 30.0]))
    np.testing.assert_array_equal(a.grad.numpy(), [0.0, 20.0, 30.0])
    np.testing.assert_array_equal(b.grad.numpy(), [10.0, 0.0, 0.0])


def test_max_gate_tie_splits_gradient():
    a, b = leaf(2.0), leaf(2.0)
    cnnkit.maximum(a, b).backward()
    assert a.grad.item() == 0.5 and b.grad.item() == 0.5
