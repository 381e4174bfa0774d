"""The Tensor class: dtype rules, attributes, conversions, repr, operators and in-place methods."""

import numpy as np
import pytest

import cnnkit
from cnnkit import Tensor


# ------------------------------------------------------------------------------- dtype rules
@pytest.mark.parametrize(
    "data, expected",
    [
        (np.array([1.0, 2.0]), np.float64),
        (np.array([1.0, 2.0], dtype=np.float32), np.float32),
        (np.array([1, 2]), np.int64),
        (np.array([1, 2], dtype=np.int32), np.int32),
        (np.array([True, False]), np.bool_),
        (3.5, np.float32),
        (3, np.float32),
        ([1, 2, 3], np.float32),
        ([[1.0, 2.0], [3.0, 4.0]], np.float32),
        ([True, False], np.bool_),
        (True, np.bool_),
        (np.float64(2.0), np.float64),
    ],
)
def test_dtype_rules(data, expected):
    assert cnnkit.tensor(data).dtype == expected
    assert Tensor(data).dtype == expected


def test_dtype_argument_overrides():
    assert cnnkit.tensor([1, 2], dtype=np.float64).dtype == np.float64
    assert cnnkit.tensor(np.array([1.0, 2.0]), dtype=np.float32).dtype == np.float32
    assert cnnkit.tensor([1.7, 2.2], dtype="int64").dtype == np.int64
    assert cnnkit.tensor(np.ones(2, np.float32), dtype="float64").dtype == np.float64


def test_ndarray_kept_without_copy_by_Tensor_and_copied_by_tensor_from_tensor():
    a = np.array([1.0, 2.0])
    t = Tensor(a)
    assert t.data is a
    assert cnnkit.from_numpy(a).data is a
    u = cnnkit.tensor(t)
    assert u.data is not a
    np.testing.assert_array_equal(u.numpy(), a)


def test_requires_grad_on_int_tensor_raises():
    with pytest.raises(TypeError, match=r"only floating-point tensors can require grad.*int64"):
        cnnkit.tensor(np.array([1, 2]), requires_grad=True)
    with pytest.raises(TypeError, match=r"only floating-point tensors can require grad"):
        cnnkit.tensor([1, 2], dtype=np.int64, requires_grad=True)
    t = cnnkit.tensor(np.array([1, 2]))
    with pytest.raises(TypeError, match=r"\.float\(\)"):
        t.requires_grad = True
    with pytest.raises(TypeError, match=r"only floating-point"):
        cnnkit.tensor([True], requires_grad=True)


def test_requires_grad_off_on_non_leaf_raises():
    x = cnnkit.tensor([1.0], requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match=r"only on leaf tensors.*detach"):
        y.requires_grad = False
    x.requires_grad = False
    assert not x.requires_grad


def test_bad_data_raises_type_error():
    with pytest.raises(TypeError, match=r"cannot make a tensor from list"):
        cnnkit.tensor([[1, 2], [3]])
    with pytest.raises(TypeError, match=r"cannot make a tensor"):
        cnnkit.tensor("abc")
    with pytest.raises(TypeError, match=r"cannot make a tensor"):
        cnnkit.tensor(None)


# ------------------------------------------------------------------------ data and metadata
def test_data_readable_and_assignable():
    x = cnnkit.tensor([1.0, 2.0], requires_grad=True)
    assert isinstance(x.data, np.ndarray)
    x.data = np.array([5.0, 6.0, 7.0], dtype=np.float32)
    assert x.shape == (3,)
    np.testing.assert_array_equal(x.numpy(), [5.0, 6.0, 7.0])
    x.data = [1, 2]  # list data follows the dtype rules
    assert x.dtype == np.float32
    assert x.requires_grad


def test_data_assignment_keeps_float_only_grad_invariant():
    x = cnnkit.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises((TypeError, RuntimeError), match=r"floating"):
        x.data = np.array([1, 2])


def test_metadata_attributes():
    x = cnnkit.tensor(np.zeros((2, 3, 4), dtype=np.float32), requires_grad=True)
    assert x.grad is None
    assert x.requires_grad is True
    assert x.shape == (2, 3, 4)
    assert x.dtype == np.float32
    assert x.ndim == 3 and x.dim() == 3
    assert x.numel() == 24 and isinstance(x.numel(), int)
    assert x.is_leaf and x.creator is None and x.grad_fn is None


def test_size_is_int_and_callable():
    x = cnnkit.zeros(2, 3, 4)
    assert x.size == 24
    assert isinstance(x.size, int)
    assert x.size + 1 == 25
    assert x.size() == (2, 3, 4)
    assert x.size(1) == 3
    assert x.size(-1) == 4
    with pytest.raises(IndexError, match=r"Dimension out of range"):
        x.size(3)
    assert cnnkit.tensor(1.0).size == 1
    assert cnnkit.tensor(1.0).size() == ()


def test_numpy_shares_memory():
    x = cnnkit.tensor([1.0, 2.0])
    x.numpy()[0] = 9.0
    assert x.tolist() == [9.0, 2.0]
    assert np.asarray(x) is x.data
    assert np.asarray(x, dtype=np.float64).dtype == np.float64


def test_item_tolist_float_int():
    assert cnnkit.tensor(2.5).item() == 2.5
    assert isinstance(cnnkit.tensor(2.5).item(), float)
    assert cnnkit.tensor([[7.0]]).item() == 7.0
    assert isinstance(cnnkit.tensor(np.array(3)).item(), int)
    assert cnnkit.tensor([[1, 2], [3, 4]]).tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert float(cnnkit.tensor([1.5])) == 1.5
    assert int(cnnkit.tensor(3.9)) == 3
    with pytest.raises(ValueError, match=r"only one-element tensors.*shape \(2,\).*2 elements"):
        cnnkit.tensor([1.0, 2.0]).item()
    with pytest.raises(ValueError, match=r"only one-element"):
        float(cnnkit.tensor([1.0, 2.0]))


def test_detach_shares_data_and_cuts_graph():
    x = cnnkit.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    d = y.detach()
    assert d.data is y.data
    assert not d.requires_grad and d.creator is None and d.grad is None and d.is_leaf
    z = d * x
    z.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 6.0])  # d treated as constant
    dx = x.detach()
    dx.data[0] = 42.0
    assert x.tolist()[0] == 42.0


def test_len_and_iteration():
    x = cnnkit.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    assert len(x) == 3
    rows = list(x)
    assert len(rows) == 3 and all(isinstance(r, Tensor) for r in rows)
    assert [r.tolist() for r in rows] == [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
    with pytest.raises(TypeError, match=r"len\(\) of a 0-d tensor"):
        len(cnnkit.tensor(1.0))
    with pytest.raises(TypeError, match=r"iteration over a 0-d tensor"):
        iter(cnnkit.tensor(1.0))


def test_iteration_is_differentiable():
    x = cnnkit.tensor([1.0, 2.0, 3.0], requires_grad=True)
    total = None
    for i, element in enumerate(x):
        term = element * float(i + 1)
        total = term if total is None else total + term
    total.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 2.0, 3.0])


def test_bool():
    assert bool(cnnkit.tensor(1.0)) is True
    assert bool(cnnkit.tensor([0.0])) is False
    with pytest.raises(RuntimeError, match=r"truth value of a tensor with 2 elements is ambiguous"):
        bool(cnnkit.tensor([1.0, 2.0]))
    with pytest.raises(RuntimeError, match=r"ambiguous"):
        if cnnkit.tensor([1.0, 2.0]) == cnnkit.tensor([1.0, 2.0]):
            pass
    assert (cnnkit.tensor([1.0, 2.0]) == cnnkit.tensor([1.0, 2.0])).all()
    assert not (cnnkit.tensor([1.0, 2.0]) == cnnkit.tensor([1.0, 3.0])).all()
    assert (cnnkit.tensor([1.0, 2.0]) == cnnkit.tensor([1.0, 3.0])).any()


# -------------------------------------------------------------------------------------- repr
def test_repr_like_pytorch():
    assert repr(cnnkit.tensor([1.0, 2.0], requires_grad=True)) == "tensor([1., 2.], requires_grad=True)"
    assert repr(cnnkit.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(cnnkit.tensor(3.5)) == "tensor(3.5)"
    assert repr(cnnkit.tensor(np.array([1.0, 2.0]))) == "tensor([1., 2.], dtype=float64)"
    assert (repr(cnnkit.tensor(np.array([1.0, 2.0]), requires_grad=True))
            == "tensor([1., 2.], dtype=float64, requires_grad=True)")
    assert repr(cnnkit.arange(3)) == "tensor([0, 1, 2])"
    assert repr(cnnkit.tensor([1, 2], dtype="int32")) == "tensor([1, 2], dtype=int32)"
    assert repr(cnnkit.tensor([True, False])) == "tensor([ True, False])"


def test_repr_shows_grad_fn():
    x = cnnkit.tensor([1.0, 2.0], requires_grad=True)
    assert repr(x * 2) == "tensor([2., 4.], grad_fn=<MulBackward>)"
    assert repr(x + x) == "tensor([2., 4.], grad_fn=<AddBackward>)"
    assert "grad_fn=<SumBackward>" in repr(x.sum())
    assert repr((x * 2).creator) == "<MulBackward>"
    with cnnkit.no_grad():
        assert repr(x * 2) == "tensor([2., 4.])"


def test_repr_multiline_aligned():
    text = repr(cnnkit.tensor([[1.5, 2.0], [3.0, 4.0]]))
    assert text == "tensor([[1.5, 2. ],\n        [3. , 4. ]])"


# ------------------------------------------------------------------------ operator dtype rules
def test_numpy_array_on_left_returns_tensor():
    t = cnnkit.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for result in (np.ones(3) * t, np.ones(3) + t, np.ones(3) - t, np.ones(3) / t, np.ones(3) ** t):
        assert isinstance(result, Tensor)
        assert result.requires_grad
    r = np.full(3, 2.0) * t
    r.sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), [2.0, 2.0, 2.0])
    m = np.eye(3) @ t
    assert isinstance(m, Tensor)


def test_numpy_float32_array_keeps_float32():
    t = cnnkit.tensor([1.0, 2.0])
    assert (np.ones(2, np.float32) * t).dtype == np.float32
    assert (np.ones(2) * t).dtype == np.float64  # two arrays promote as NumPy does


@pytest.mark.parametrize("op", [
    lambda t: t * 2.0, lambda t: 2.0 * t, lambda t: t + 1, lambda t: 1 - t, lambda t: t / 3,
    lambda t: 3.0 / t, lambda t: t ** 2, lambda t: 2.0 ** t, lambda t: -t, lambda t: t - 0.5,
])
def test_python_scalar_keeps_float32(op):
    t = cnnkit.tensor([1.0, 2.0], requires_grad=True)
    assert op(t).dtype == np.float32


def test_python_scalar_keeps_float64():
    t = cnnkit.tensor(np.array([1.0, 2.0]))
    assert (t * 2.0).dtype == np.float64
    assert (1 + t).dtype == np.float64


def test_tensor_tensor_promotion():
    a = cnnkit.tensor([1.0, 2.0])
    b = cnnkit.tensor(np.array([1.0, 2.0]))
    assert (a + b).dtype == np.float64
    assert (b * a).dtype == np.float64
    assert (a * a).dtype == np.float32


def test_integer_division_gives_float32():
    i = cnnkit.tensor(np.array([1, 2, 3]))
    j = cnnkit.tensor(np.array([2, 2, 2]))
    assert (i / j).dtype == np.float32
    np.testing.assert_allclose((i / j).numpy(), [0.5, 1.0, 1.5])
    assert (i / 2).dtype == np.float32
    assert (1 / i).dtype == np.float32
    assert (i * 2).dtype == np.int64
    assert (i + j).dtype == np.int64


def test_integer_tensor_times_python_float_is_float32():
    i = cnnkit.tensor(np.array([1, 2]))
    assert (i * 2.5).dtype == np.float32


def test_broadcast_error_message():
    with pytest.raises(ValueError, match=r"\+: shapes \(2,\) and \(3,\) cannot be broadcast"):
        cnnkit.ones(2) + cnnkit.ones(3)
    with pytest.raises(ValueError, match=r"\*: shapes \(3,\) and \(2,\) cannot be broadcast"):
        np.ones(3) * cnnkit.ones(2)


# ------------------------------------------------------------------------------ comparisons
@pytest.mark.parametrize("op, expected", [
    (lambda a, b: a < b, [True, False, False]),
    (lambda a, b: a <= b, [True, True, False]),
    (lambda a, b: a > b, [False, False, True]),
    (lambda a, b: a >= b, [False, True, True]),
    (lambda a, b: a == b, [False, True, False]),
    (lambda a, b: a != b, [True, False, True]),
])
def test_comparisons_return_bool_without_grad(op, expected):
    a = cnnkit.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = cnnkit.tensor([2.0, 2.0, 2.0], requires_grad=True)
    for result in (op(a, b), op(a, 2.0), op(a, np.full(3, 2.0))):
        assert isinstance(result, Tensor)
        assert result.dtype == np.bool_
        assert not result.requires_grad and result.creator is None
        assert result.tolist() == expected


def test_reflected_comparison_with_scalar():
    a = cnnkit.tensor([1.0, 2.0, 3.0])
    assert (2.0 < a).tolist() == [False, False, True]
    assert (2.0 == a).tolist() == [False, True, False]


def test_eq_with_unconvertible_returns_not_equal():
    a = cnnkit.tensor([1.0])
    assert (a == "abc") is False
    assert (a != None) is True  # noqa: E711


def test_tensors_hashable_despite_elementwise_eq():
    a = cnnkit.tensor([1.0, 2.0])
    b = cnnkit.tensor([1.0, 2.0])
    table = {a: "a", b: "b"}
    assert table[a] == "a" and table[b] == "b"
    s = {a, b, a}
    assert len(s) == 2
    assert a in s
    assert hash(a) == hash(a) and hash(a) != hash(b)


# --------------------------------------------------------------------------------- in-place
INPLACE = [
    ("zero_", lambda t: t.zero_(), [0.0, 0.0, 0.0]),
    ("fill_", lambda t: t.fill_(7.0), [7.0, 7.0, 7.0]),
    ("copy_", lambda t: t.copy_(np.array([4.0, 5.0, 6.0])), [4.0, 5.0, 6.0]),
    ("add_", lambda t: t.add_(cnnkit.tensor([1.0, 1.0, 1.0])), [2.0, 3.0, 4.0]),
    ("add_", lambda t: t.add_(cnnkit.tensor([1.0, 1.0, 1.0]), alpha=-2.0), [-1.0, 0.0, 1.0]),
    ("add_", lambda t: t.sub_(1.0), [0.0, 1.0, 2.0]),
    ("mul_", lambda t: t.mul_(2.0), [2.0, 4.0, 6.0]),
    ("div_", lambda t: t.div_(2.0), [0.5, 1.0, 1.5]),
    ("clamp_", lambda t: t.clamp_(min=1.5, max=2.5), [1.5, 2.0, 2.5]),
]


@pytest.mark.parametrize("name, method, expected", INPLACE)
def test_inplace_raises_on_requires_grad_with_grad_enabled(name, method, expected):
    x = cnnkit.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=rf"^{name}: a tensor that requires grad cannot be modified in place.*no_grad"):
        method(x)
    assert x.tolist() == [1.0, 2.0, 3.0]  # untouched


@pytest.mark.parametrize("name, method, expected", INPLACE)
def test_inplace_works_under_no_grad(name, method, expected):
    x = cnnkit.tensor([1.0, 2.0, 3.0], requires_grad=True)
    data = x.data
    with cnnkit.no_grad():
        out = method(x)
    assert out is x
    assert x.data is data  # same memory
    np.testing.assert_allclose(x.numpy(), expected)
    assert x.dtype == np.float32 and x.requires_grad


@pytest.mark.parametrize("name, method, expected", INPLACE)
def test_inplace_works_on_plain_tensor(name, method, expected):
    x = cnnkit.tensor([1.0, 2.0, 3.0])
    method(x)
    np.testing.assert_allclose(x.numpy(), expected)


def test_copy_broadcasts_and_keeps_dtype():
    x = cnnkit.zeros(2, 3)
    x.copy_(np.array([1.0, 2.0, 3.0]))
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x.numpy(), [[1, 2, 3], [1, 2, 3]])


def test_grad_zero_inplace_allowed():
    x = cnnkit.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    x.grad.zero_()  # the grad tensor does not require grad
    assert x.grad.tolist() == [0.0, 0.0]


# ----------------------------------------------------------------------------- conversions
def test_to_float_double_long():
    x = cnnkit.tensor([1.7, -2.2])
    assert x.float() is x
    d = x.double()
    assert d.dtype == np.float64 and d.creator is None
    lng = x.long()
    assert lng.dtype == np.int64 and lng.tolist() == [1, -2]
    assert x.int().dtype == np.int32
    assert x.bool().dtype == np.bool_
    assert x.to("float64").dtype == np.float64
    assert x.to(np.float32) is x


def test_to_is_differentiable_between_floats():
    x = cnnkit.tensor([1.0, 2.0], requires_grad=True)
    d = x.double()
    assert d.dtype == np.float64 and d.requires_grad and d.creator is not None
    (d * d).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])
    lng = x.long()
    assert lng.dtype == np.int64 and not lng.requires_grad and lng.creator is None


# ------------------------------------------------------------------------------ split/chunk
def test_split_and_chunk():
    x = cnnkit.arange(10).float().reshape(5, 2)
    parts = x.split(2)
    assert [p.shape for p in parts] == [(2, 2), (2, 2), (1, 2)]
    parts = x.split([1, 4])
    assert [p.shape for p in parts] == [(1, 2), (4, 2)]
    cols = x.split(1, dim=1)
    assert [c.tolist() for c in cols] == [[[0.0], [2.0], [4.0], [6.0], [8.0]],
                                          [[1.0], [3.0], [5.0], [7.0], [9.0]]]
    chunks = x.chunk(2)
    assert [c.shape for c in chunks] == [(3, 2), (2, 2)]
    assert [c.shape for c in cnnkit.arange(6).chunk(4)] == [(2,), (2,), (2,)]  # PyTorch's rule
    with pytest.raises(ValueError, match=r"split: sections \[1, 1\] sum to 2, but dim 0 has size 5"):
        x.split([1, 1])
    with pytest.raises(ValueError, match=r"split_size must be positive"):
        x.split(0)
    with pytest.raises(ValueError, match=r"chunks must be positive"):
        x.chunk(0)


def test_split_backward():
    x = cnnkit.tensor([1.0, 2.0, 3.0, 4.0, 5.0], requires_grad=True)
    a, b = x.split([2, 3])
    (a.sum() * 2 + (b * b).sum()).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0, 6.0, 8.0, 10.0])


# ------------------------------------------------------------------------------ retain_grad
def test_retain_grad_on_intermediate():
    x = cnnkit.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.retain_grad()
    z = (y * y).sum()
    z.backward()
    np.testing.assert_array_equal(y.grad.numpy(), [6.0, 12.0])
    np.testing.assert_array_equal(x.grad.numpy(), [18.0, 36.0])
    assert y.grad.dtype == np.float32


def test_retain_grad_on_leaf_is_noop():
    x = cnnkit.tensor([1.0], requires_grad=True)
    x.retain_grad()
    (x * 2).sum().backward()
    assert x.grad.tolist() == [2.0]
