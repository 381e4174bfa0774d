"""The backward engine: graph traversal, accumulation, errors, freeing and custom Functions."""

import sys

import numpy as np
import pytest

import cnnkit
from cnnkit.autograd import Function
from cnnkit.autograd.engine import topological_order


def leaf(value, dtype=None):
    return cnnkit.tensor(value, requires_grad=True, dtype=dtype)


# ------------------------------------------------------------------------------- deep graphs
def test_deep_chain_no_recursion_error():
    depth = 10_000
    assert depth > sys.getrecursionlimit() // 2
    x = leaf(np.array(1.0))
    y = x
    for _ in range(depth):
        y = y * 1.0001 + 0
    y.backward()
    expected = 1.0001 ** depth
    assert y.item() == pytest.approx(expected, rel=1e-9)
    assert x.grad.item() == pytest.approx(expected, rel=1e-9)


def test_topological_order_parents_before_children():
    x = leaf(1.0)
    a = x * 2
    b = a + 1
    c = b * a
    order = topological_order([c.creator])
    assert order[0] is c.creator
    assert order.index(b.creator) < order.index(a.creator)
    assert len(order) == 3


# ------------------------------------------------------------------------------ accumulation
def test_gradients_accumulate_until_zeroed_by_none():
    x = leaf([1.0, 2.0])
    (x * x).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 8.0])
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_gradients_accumulate_until_zeroed_inplace():
    x = leaf([1.0, 2.0])
    (x * 3).sum().backward()
    g = x.grad
    (x * 3).sum().backward()
    assert x.grad is g  # accumulated in place
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 6.0])
    x.grad.zero_()
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_fan_out_sums():
    x = leaf(2.0)
    a, b, c = x * 1.0, x * 2.0, x * 3.0
    (a + b + c).backward()
    assert x.grad.item() == 6.0


def test_diamond_graph():
    x = leaf(3.0)
    a = x * 2        # da/dx = 2
    b = a * a        # via left branch
    c = a + 1        # via right branch
    d = b * c        # d = (2x)^2 (2x + 1)
    d.backward()
    # d' = 8x(2x+1) + 8x^2 = 24x^2 + 8x
    assert x.grad.item() == pytest.approx(24 * 9 + 24)


def test_diamond_with_shared_intermediate_node_runs_once():
    calls = []

    class Twice(Function):
        def forward(self, a):
            return 2 * a

        def backward(self, grad_out):
            calls.append(grad_out.copy())
            return (2 * grad_out,)

    x = leaf([1.0, 2.0])
    t = Twice.apply(x)
    (t * 3 + t * 4).sum().backward()
    assert len(calls) == 1  # gradients were summed before the node ran
    np.testing.assert_array_equal(calls[0], [7.0, 7.0])
    np.testing.assert_array_equal(x.grad.numpy(), [14.0, 14.0])


def test_branch_not_requiring_grad_is_ignored():
    x = leaf([1.0, 2.0])
    c = cnnkit.tensor([5.0, 6.0])
    (x * c).sum().backward()
    assert c.grad is None
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 6.0])


# ---------------------------------------------------------------------------- backward errors
def test_backward_non_scalar_without_grad_raises():
    x = leaf([1.0, 2.0])
    y = x * 2
    with pytest.raises(RuntimeError, match=r"grad can be created implicitly only for a scalar output.*\(2,\)"):
        y.backward()


def test_backward_non_scalar_with_grad():
    x = leaf([1.0, 2.0])
    (x * x).backward(cnnkit.tensor([1.0, 10.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 40.0])
    x.grad = None
    (x * x).backward(np.array([1.0, 1.0]))  # arrays accepted too
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])


def test_backward_one_element_non_0d_implicit_grad():
    x = leaf([[3.0]])
    (x * x).backward()
    assert x.grad.tolist() == [[6.0]]


def test_backward_grad_wrong_shape_raises():
    x = leaf([1.0, 2.0])
    y = x * 2
    with pytest.raises(RuntimeError, match=r"grad has shape \(3,\) but the output has shape \(2,\)"):
        y.backward(cnnkit.ones(3))
    with pytest.raises(RuntimeError, match=r"must match"):
        y.backward(np.ones((2, 1)))


def test_backward_without_requires_grad_raises():
    x = cnnkit.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"does not require grad.*requires_grad=True"):
        x.sum().backward()
    w = leaf([1.0])
    with cnnkit.no_grad():
        out = (w * 2).sum()
    with pytest.raises(RuntimeError, match=r"does not require grad"):
        out.backward()


def test_backward_on_leaf_itself():
    x = leaf(2.0)
    x.backward()
    assert x.grad.item() == 1.0
    y = leaf([1.0, 2.0])
    y.backward(cnnkit.tensor([3.0, 4.0]))
    assert y.grad.tolist() == [3.0, 4.0]


def test_second_backward_raises():
    x = leaf([1.0, 2.0])
    z = (x * x).sum()
    z.backward()
    with pytest.raises(RuntimeError, match=r"backward through the graph a second time.*retain_graph=True"):
        z.backward()


def test_second_backward_with_retain_graph_doubles():
    x = leaf([1.0, 2.0])
    z = (x * x).sum()
    z.backward(retain_graph=True)
    z.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 8.0])
    with pytest.raises(RuntimeError, match=r"second time"):
        z.backward()


def test_backward_through_partly_freed_graph_raises():
    x = leaf(2.0)
    a = x * 3
    (a * 2).backward()
    with pytest.raises(RuntimeError, match=r"second time \(at Mul\)"):
        (a * 5).backward()


def test_graph_buffers_freed_after_backward():
    x = leaf([1.0, 2.0])
    y = x * x
    z = y.sum()
    mul = y.creator
    assert len(mul.saved) == 2 and mul.inputs and not mul.freed
    z.backward()
    assert mul.saved == () and mul.inputs == () and mul.freed
    assert z.creator.freed


def test_graph_buffers_kept_with_retain_graph():
    x = leaf([1.0, 2.0])
    y = x * x
    y.sum().backward(retain_graph=True)
    assert len(y.creator.saved) == 2 and not y.creator.freed


# ------------------------------------------------------------------------- autograd.backward
def test_autograd_backward_multiple_roots_and_grad_tensors():
    x = leaf([1.0, 2.0])
    a = x * 3
    b = x * x
    cnnkit.autograd.backward([a, b], [cnnkit.ones(2), cnnkit.tensor([10.0, 100.0])])
    np.testing.assert_array_equal(x.grad.numpy(), [3 + 20.0, 3 + 400.0])


def test_autograd_backward_scalar_roots_no_grads():
    x = leaf(2.0)
    cnnkit.autograd.backward([x * 3, x * x])
    assert x.grad.item() == 7.0


def test_autograd_backward_same_root_twice():
    x = leaf(2.0)
    y = x * 3
    cnnkit.autograd.backward([y, y], [cnnkit.tensor(1.0), cnnkit.tensor(2.0)])
    assert x.grad.item() == 9.0


def test_autograd_backward_single_tensor_and_leaf_root():
    x = leaf([1.0, 2.0])
    cnnkit.autograd.backward(x * 2, cnnkit.ones(2))
    assert x.grad.tolist() == [2.0, 2.0]
    cnnkit.autograd.backward([x], [cnnkit.ones(2)])
    assert x.grad.tolist() == [3.0, 3.0]


def test_autograd_backward_count_mismatch_raises():
    x = leaf(1.0)
    with pytest.raises(ValueError, match=r"got 2 outputs but 1 gradients"):
        cnnkit.autograd.backward([x * 2, x * 3], [cnnkit.tensor(1.0)])


# --------------------------------------------------------------------------- leaves and grads
def test_non_leaf_grad_is_none_unless_retained():
    x = leaf([1.0, 2.0])
    y = x * 2
    z = y * 3
    z.retain_grad()
    z.sum().backward()
    assert y.grad is None
    assert not y.is_leaf
    np.testing.assert_array_equal(z.grad.numpy(), [1.0, 1.0])
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 6.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_leaf_grad_dtype_matches_tensor(dtype):
    x = leaf([1.0, 2.0], dtype=dtype)
    w = cnnkit.tensor(np.array([3.0, 4.0]))  # float64 constant promotes the graph
    (x * w).sum().backward()
    assert x.grad.dtype == dtype
    assert isinstance(x.grad, cnnkit.Tensor) and not x.grad.requires_grad


def test_leaf_grad_dtype_with_float64_upstream():
    x = leaf([1.0, 2.0])
    (x * 2).backward(np.array([1.0, 1.0], dtype=np.float64))
    assert x.grad.dtype == np.float32


def test_grad_arrays_not_shared_between_leaves():
    x = leaf([1.0, 2.0])
    y = leaf([3.0, 4.0])
    (x + y).sum().backward()
    assert x.grad.data is not y.grad.data
    assert not np.shares_memory(x.grad.data, y.grad.data)
    x.grad.data[0] = 100.0
    assert y.grad.tolist() == [1.0, 1.0]


def test_grad_not_aliasing_upstream_gradient():
    x = leaf([1.0, 2.0])
    upstream = np.array([5.0, 6.0], dtype=np.float32)
    (x + 0).backward(upstream)
    x.grad.data[0] = -1.0
    assert upstream.tolist() == [5.0, 6.0]


# ----------------------------------------------------------------------------- custom Function
class WrongShape(Function):
    def forward(self, a):
        return a * 2

    def backward(self, grad_out):
        return (np.ones(3),)


class WrongCount(Function):
    def forward(self, a):
        return a * 2

    def backward(self, grad_out):
        return (grad_out, grad_out)


def test_function_wrong_gradient_shape_raises_naming_op():
    x = leaf([1.0, 2.0])
    y = WrongShape.apply(x)
    with pytest.raises(RuntimeError, match=r"WrongShape\.backward returned a gradient of shape \(3,\) for input 0, "
                                           r"whose shape is \(2,\)"):
        y.sum().backward()


def test_function_wrong_gradient_count_raises_naming_op():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"WrongCount\.backward returned 2 gradients for 1 inputs"):
        WrongCount.apply(x).sum().backward()


class ScaledProduct(Function):
    """out = scale * a * b, with the scale passed as an option."""

    def forward(self, a, b, scale=1.0):
        self.save_for_backward(a, b)
        self.scale = scale
        return scale * a * b

    def backward(self, grad_out):
        a, b = self.saved_arrays
        ga = grad_out * self.scale * b if self.needs_input_grad[0] else None
        gb = grad_out * self.scale * a if self.needs_input_grad[1] else None
        return ga, gb


def test_custom_function_end_to_end():
    a = leaf([1.0, 2.0])
    b = leaf([3.0, 4.0])
    out = ScaledProduct.apply(a, b, scale=2.0)
    assert isinstance(out, cnnkit.Tensor)
    assert out.tolist() == [6.0, 16.0]
    assert out.requires_grad and isinstance(out.creator, ScaledProduct)
    assert out.creator.name == "ScaledProduct"
    assert repr(out) == "tensor([ 6., 16.], grad_fn=<ScaledProductBackward>)"
    assert out.creator.inputs == (a, b)
    assert out.creator.needs_input_grad == (True, True)
    (out * out).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), 2 * np.array([6.0, 16.0]) * 2 * np.array([3.0, 4.0]))
    np.testing.assert_allclose(b.grad.numpy(), 2 * np.array([6.0, 16.0]) * 2 * np.array([1.0, 2.0]))
    assert out.creator.freed


def test_custom_function_needs_input_grad_and_constants():
    a = leaf([1.0, 2.0])
    b = cnnkit.tensor([3.0, 4.0])
    out = ScaledProduct.apply(a, b)
    assert out.creator.needs_input_grad == (True, False)
    out.sum().backward()
    assert a.grad.tolist() == [3.0, 4.0]
    assert b.grad is None


def test_custom_function_not_recorded_without_grad():
    a = cnnkit.tensor([1.0, 2.0])
    out = ScaledProduct.apply(a, a)
    assert not out.requires_grad and out.creator is None
    with cnnkit.no_grad():
        out = ScaledProduct.apply(leaf([1.0]), leaf([2.0]))
    assert not out.requires_grad and out.creator is None


def test_custom_function_gradcheck():
    a = cnnkit.randn(3, dtype=np.float64, requires_grad=True)
    b = cnnkit.randn(3, dtype=np.float64, requires_grad=True)
    assert cnnkit.gradcheck(lambda p, q: ScaledProduct.apply(p, q, scale=1.5), (a, b)).passed


def test_function_base_methods_unimplemented():
    class Empty(Function):
        pass

    with pytest.raises(NotImplementedError, match=r"Empty must implement forward"):
        Empty.apply(leaf([1.0]))


# --------------------------------------------------------------------- in-place after recording
def test_inplace_modification_of_saved_tensor_is_detected():
    x = cnnkit.tensor([1.0, 2.0], requires_grad=True)
    c = cnnkit.tensor([3.0, 4.0])
    y = (x * c).sum()
    c.mul_(10)
    with pytest.raises(RuntimeError, match=r"modified by an in-place operation: input 1 of Mul"):
        y.backward()


def test_inplace_update_of_a_leaf_under_no_grad_before_backward_is_detected():
    x = cnnkit.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    with cnnkit.no_grad():
        x.add_(1.0)
    with pytest.raises(RuntimeError, match=r"input 0 of Mul .* is at version 1"):
        y.backward()


def test_inplace_update_after_backward_is_fine():
    x = cnnkit.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    with cnnkit.no_grad():
        x.sub_(x.grad, alpha=0.1)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0 + 1.6, 4.0 + 3.2], rtol=1e-6)


def test_owned_gradients_are_kept_without_a_copy_and_accumulate_correctly():
    """Linear and conv promise fresh gradient arrays (Function.owns_grads): a leaf keeps the
    array itself, and a second backward, or the same leaf used twice, still adds up right."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 6)).astype(np.float32)
    w = cnnkit.tensor(rng.standard_normal((6, 6)).astype(np.float32), requires_grad=True)
    for _ in range(2):
        cnnkit.functional.linear(cnnkit.tensor(x), w).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * np.ones((6, 4), np.float32) @ x, rtol=1e-6)
    # the same leaf as input and weight: both gradients land in one .grad
    v = cnnkit.tensor(rng.standard_normal((6, 6)).astype(np.float32), requires_grad=True)
    cnnkit.functional.linear(v, v).sum().backward()
    a = v.numpy().astype(np.float64)
    ones = np.ones((6, 6))
    np.testing.assert_allclose(v.grad.numpy(), ones @ a + ones.T @ a, rtol=1e-5)
    # conv: the weight's gradient is the array backward made, not a copy of a shared one
    xc = cnnkit.tensor(rng.standard_normal((2, 3, 5, 5)).astype(np.float32))
    k = cnnkit.tensor(rng.standard_normal((2, 3, 3, 3)).astype(np.float32), requires_grad=True)
    y = cnnkit.functional.conv2d(xc, k)
    y.backward(cnnkit.ones(*y.shape))
    first = k.grad.numpy().copy()
    cnnkit.functional.conv2d(xc, k).backward(cnnkit.ones(*y.shape))
    np.testing.assert_allclose(k.grad.numpy(), 2 * first, rtol=1e-6)
