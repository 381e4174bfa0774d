"""The Tensor: an n-dimensional NumPy array that records how it was computed.

``Tensor`` combines three parts: this module (storage, dtype rules, autograd entry points,
in-place helpers and repr), :mod:`cnnkit._tensor_math` (arithmetic, math and reductions) and
:mod:`cnnkit._tensor_shape` (views, indexing, joins). The split keeps each file readable; every
method simply calls one Function from :mod:`cnnkit.ops`.

Dtype rules (see :func:`cnnkit.tensor`): NumPy arrays keep their dtype; Python numbers and
(nested) lists of numbers become float32, lists of bools stay bool; ``dtype=`` overrides.
Only floating-point tensors may require grad.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from cnnkit._tensor_math import TensorMath
from cnnkit._tensor_shape import TensorShape
from cnnkit.autograd import engine
from cnnkit.autograd.function import Function
from cnnkit.autograd.grad_mode import is_grad_enabled

DEFAULT_DTYPE = np.dtype(np.float32)


def to_array(data: Any, dtype: Any = None) -> np.ndarray:
    """Convert user data to an ndarray following cnnkit's dtype rules."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        dtype = np.dtype(dtype)
    if isinstance(data, np.ndarray):
        return data if dtype is None or data.dtype == dtype else data.astype(dtype)
    if isinstance(data, np.generic):
        return np.asarray(data, dtype=dtype)
    try:
        array = np.asarray(data, dtype=dtype)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"cannot make a tensor from {type(data).__name__}: {error}. Pass a number, a "
            "(nested) list of numbers of equal lengths, a NumPy array or a Tensor."
        ) from None
    if dtype is None and array.dtype.kind in "iuf":
        array = array.astype(DEFAULT_DTYPE)  # Python numbers default to float32
    if array.dtype.kind not in "biufc":
        raise TypeError(f"cannot make a tensor of dtype {array.dtype} from {type(data).__name__}")
    return array


class _Size(int):
    """An ``int`` (element count) that, when called, answers like PyTorch's ``Tensor.size()``."""

    _shape: tuple = ()

    def __new__(cls, count: int, shape: tuple) -> "_Size":
        value = super().__new__(cls, count)
        value._shape = shape
        return value

    def __call__(self, dim: Optional[int] = None) -> Any:
        if dim is None:
            return self._shape
        from cnnkit._dims import normalize_dim

        return self._shape[normalize_dim(dim, len(self._shape))]


class Tensor(TensorMath, TensorShape):
    """An n-dimensional array with reverse-mode automatic differentiation.

    Args:
        data: a number, a (nested) list, a NumPy array or another Tensor.
        requires_grad: record operations on this tensor so ``backward`` fills ``.grad``.
        dtype: NumPy dtype to convert to (default: keep arrays' dtype, float32 for Python data).

    Attributes:
        data: the underlying ``numpy.ndarray`` (readable and assignable).
        grad: a Tensor accumulating the gradient after ``backward`` (leaves only), or None.
        creator: the :class:`~cnnkit.autograd.Function` that produced this tensor, or None.

    Example:
        >>> import cnnkit
        >>> x = cnnkit.tensor([[1.0, 2.0]], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad
        tensor([[2., 4.]])
    """

    __array_priority__ = 1000.0
    __array_ufunc__ = None  # make ``ndarray op Tensor`` call our reflected operators
    __hash__ = object.__hash__  # ``==`` is elementwise, identity stays the hash

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        self._data = to_array(data, dtype)
        self.grad: Optional[Tensor] = None
        self.creator: Optional[Function] = None
        self._version = 0  # bumped by in-place methods; the engine checks it (see Function.apply)
        self._retains_grad = False
        self._requires_grad = False
        self.requires_grad = requires_grad

    @classmethod
    def _from_op(cls, data: np.ndarray, creator: Optional[Function]) -> "Tensor":
        out = cls.__new__(cls)
        out._data = data if isinstance(data, np.ndarray) else np.asarray(data)
        out.grad = None
        out.creator = creator
        out._version = 0
        out._retains_grad = False
        out._requires_grad = creator is not None
        return out

    # ----------------------------------------------------------------- storage and metadata
    @property
    def data(self) -> np.ndarray:
        """The underlying ndarray; assigning replaces it without touching the graph."""
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        array = to_array(value)
        if self._requires_grad and array.dtype.kind not in "fc":
            raise TypeError(
                f"cannot assign a {array.dtype} array to .data of a tensor that requires grad: "
                "only floating-point tensors can require grad. Convert the array to a float dtype."
            )
        self._data = array

    @property
    def requires_grad(self) -> bool:
        """Whether operations on this tensor are recorded for ``backward``."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if value and self._data.dtype.kind not in "fc":
            raise TypeError(
                f"only floating-point tensors can require grad, but this tensor has dtype "
                f"{self._data.dtype} (integer tensors hold labels and indices). Create it with "
                "dtype=numpy.float32 or call .float() first."
            )
        if not value and self.creator is not None:
            raise RuntimeError(
                "requires_grad can be turned off only on leaf tensors; use .detach() to get a "
                "tensor cut from the graph."
            )
        self._requires_grad = bool(value)

    @property
    def is_leaf(self) -> bool:
        """True for tensors created by the user rather than by an op."""
        return self.creator is None

    @property
    def grad_fn(self) -> Optional[Function]:
        """PyTorch's name for :attr:`creator`."""
        return self.creator

    @property
    def shape(self) -> tuple:
        return self._data.shape

    @property
    def size(self) -> "_Size":
        """Number of elements, as NumPy's ``.size``; calling it gives PyTorch's ``size()``.

        ``x.size`` is an ``int`` (the element count), ``x.size()`` is the shape and
        ``x.size(d)`` the length of dimension ``d``, so code written for either library works.
        """
        return _Size(self._data.size, self._data.shape)

    def numel(self) -> int:
        """Number of elements."""
        return int(self._data.size)

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        """Number of dimensions (PyTorch spelling of :attr:`ndim`)."""
        return self._data.ndim

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    # ------------------------------------------------------------------- leaving the graph
    def numpy(self) -> np.ndarray:
        """The data as a NumPy array (shares memory, like PyTorch's ``Tensor.numpy``)."""
        return self._data

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self._data if dtype is None else self._data.astype(dtype)

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise ValueError(
                f"item(): only one-element tensors can be converted to a Python number, but this "
                f"tensor has shape {self.shape} ({self._data.size} elements)"
            )
        return self._data.item()

    def tolist(self) -> Any:
        return self._data.tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(
                f"the truth value of a tensor with {self._data.size} elements is ambiguous; "
                "use .any() or .all()"
            )
        return bool(self._data.item())

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Set :attr:`requires_grad` in place and return self."""
        self.requires_grad = requires_grad
        return self

    def detach(self) -> "Tensor":
        """A tensor sharing the data but cut from the graph (no grad)."""
        return Tensor._from_op(self._data, None)

    # ------------------------------------------------------------------------------ autograd
    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into the ``.grad`` of every leaf that requires grad.

        Args:
            grad: upstream gradient, shaped like this tensor; may be omitted for a scalar.
            retain_graph: keep the graph's saved arrays so backward can run again.
        """
        engine.backward([self], [grad], retain_graph=retain_graph)

    def retain_grad(self) -> None:
        """Make ``backward`` also fill ``.grad`` of this non-leaf tensor."""
        self._retains_grad = True

    # ---------------------------------------------------------------------------- in-place
    def _check_inplace(self, name: str) -> None:
        if self._requires_grad and is_grad_enabled():
            raise RuntimeError(
                f"{name}: a tensor that requires grad cannot be modified in place while grad is "
                "enabled (the graph may still need its values). Wrap the update in "
                "`with cnnkit.no_grad():` or work on .data."
            )
        self._version += 1

    def zero_(self) -> "Tensor":
        self._check_inplace("zero_")
        self._data[...] = 0
        return self

    def fill_(self, value: float) -> "Tensor":
        self._check_inplace("fill_")
        self._data[...] = value
        return self

    def copy_(self, src: Any) -> "Tensor":
        """Copy ``src`` (broadcast to this shape) into this tensor's memory."""
        self._check_inplace("copy_")
        self._data[...] = to_array(src)
        return self

    def add_(self, other: Any, alpha: float = 1.0) -> "Tensor":
        self._check_inplace("add_")
        self._data += to_array(other) * alpha if alpha != 1 else to_array(other)
        return self

    def sub_(self, other: Any, alpha: float = 1.0) -> "Tensor":
        return self.add_(other, alpha=-alpha)

    def mul_(self, other: Any) -> "Tensor":
        self._check_inplace("mul_")
        self._data *= to_array(other)
        return self

    def div_(self, other: Any) -> "Tensor":
        self._check_inplace("div_")
        self._data /= to_array(other)
        return self

    def clamp_(self, min: Optional[float] = None, max: Optional[float] = None) -> "Tensor":
        self._check_inplace("clamp_")
        np.clip(self._data, min, max, out=self._data)
        return self

    # ------------------------------------------------------------------------------- dtypes
    def to(self, dtype: Any) -> "Tensor":
        """Convert to ``dtype`` (differentiable between float dtypes)."""
        from cnnkit.ops.unary import Cast

        dtype = np.dtype(dtype)
        if dtype == self.dtype:
            return self
        if self.requires_grad and dtype.kind in "fc":
            return Cast.apply(self, dtype=dtype)
        return Tensor._from_op(self._data.astype(dtype), None)

    def float(self) -> "Tensor":
        return self.to(np.float32)

    def double(self) -> "Tensor":
        return self.to(np.float64)

    def long(self) -> "Tensor":
        return self.to(np.int64)

    def int(self) -> "Tensor":
        return self.to(np.int32)

    def bool(self) -> "Tensor":
        return self.to(np.bool_)

    # --------------------------------------------------------------------------------- repr
    def __repr__(self) -> str:
        body = np.array2string(self._data, separator=", ", prefix="tensor(", floatmode="maxprec")
        extras = []
        if self.dtype != DEFAULT_DTYPE and not (self.dtype == np.int64 or self.dtype == np.bool_):
            extras.append(f"dtype={self.dtype}")
        if self.creator is not None:
            extras.append(f"grad_fn=<{self.creator.name}Backward>")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"
