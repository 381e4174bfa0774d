"""Tensor arithmetic, math functions, reductions and comparisons (a mixin of :class:`Tensor`).

Operand rules follow PyTorch: a Python number adopts a float tensor's dtype (``x * 2`` stays
float32), two tensors promote as NumPy does (float32 with float64 gives float64), and
integer division gives float32.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from cnnkit._dims import DimArg, normalize_dim, normalize_dims, reduce_args
from cnnkit.ops import elementwise as E
from cnnkit.ops import linalg, reduce, unary

if TYPE_CHECKING:
    from cnnkit.tensor import Tensor

_FLOAT32 = np.dtype(np.float32)
_SYMBOLS = {"Add": "+", "Sub": "-", "Mul": "*", "Div": "/", "Pow": "**", "Maximum": "maximum",
            "Minimum": "minimum", "Where": "where"}


def as_operand(value: Any, like: "Tensor") -> "Tensor":
    """Turn a number, list or array into a Tensor to combine with ``like``."""
    from cnnkit.tensor import Tensor

    if isinstance(value, Tensor):
        return value
    if isinstance(value, (bool, int, float)) and not isinstance(value, np.ndarray):
        if like.dtype.kind in "fc":
            dtype = like.dtype
        elif isinstance(value, float):
            dtype = _FLOAT32
        else:
            dtype = like.dtype
        return Tensor._from_op(np.asarray(value, dtype=dtype), None)
    return Tensor(value)


def promote(a: "Tensor", b: "Tensor") -> tuple:
    """PyTorch's category rule: an integer/bool tensor meeting a float tensor takes the float dtype.

    (NumPy would give float64 for int64 with float32.) Two floats promote as NumPy does.
    """
    ints_a, ints_b = a.dtype.kind in "biu", b.dtype.kind in "biu"
    if ints_a and not ints_b:
        return a.to(b.dtype), b
    if ints_b and not ints_a:
        return a, b.to(a.dtype)
    return a, b


def binary(op: type, a: "Tensor", b: "Tensor") -> "Tensor":
    """Apply a broadcasting binary Function after checking the shapes broadcast."""
    if a.shape != b.shape:
        try:
            np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            raise ValueError(
                f"{_SYMBOLS.get(op.__name__, op.__name__)}: shapes {a.shape} and {b.shape} cannot "
                "be broadcast together: compared from the last dimension, each pair of sizes must "
                "be equal or one of them 1. Reshape or unsqueeze one operand."
            ) from None
    if op is E.Div and a.dtype.kind in "biu" and b.dtype.kind in "biu":
        a, b = a.to(_FLOAT32), b.to(_FLOAT32)
    a, b = promote(a, b)
    return op.apply(a, b)


class TensorMath:
    """Arithmetic, math and reductions; every method applies one op from :mod:`cnnkit.ops`."""

    # ------------------------------------------------------------------ arithmetic operators
    def __add__(self, other: Any) -> "Tensor":
        return binary(E.Add, self, as_operand(other, self))

    def __radd__(self, other: Any) -> "Tensor":
        return binary(E.Add, as_operand(other, self), self)

    def __sub__(self, other: Any) -> "Tensor":
        return binary(E.Sub, self, as_operand(other, self))

    def __rsub__(self, other: Any) -> "Tensor":
        return binary(E.Sub, as_operand(other, self), self)

    def __mul__(self, other: Any) -> "Tensor":
        return binary(E.Mul, self, as_operand(other, self))

    def __rmul__(self, other: Any) -> "Tensor":
        return binary(E.Mul, as_operand(other, self), self)

    def __truediv__(self, other: Any) -> "Tensor":
        return binary(E.Div, self, as_operand(other, self))

    def __rtruediv__(self, other: Any) -> "Tensor":
        return binary(E.Div, as_operand(other, self), self)

    def __pow__(self, exponent: Any) -> "Tensor":
        if isinstance(exponent, (int, float)) and not isinstance(exponent, bool):
            base = self.to(_FLOAT32) if isinstance(exponent, float) and self.dtype.kind in "biu" else self
            return E.PowScalar.apply(base, exponent=exponent)
        return binary(E.Pow, self, as_operand(exponent, self))

    def __rpow__(self, base: Any) -> "Tensor":
        return binary(E.Pow, as_operand(base, self), self)

    def __matmul__(self, other: Any) -> "Tensor":
        return self.matmul(other)

    def __rmatmul__(self, other: Any) -> "Tensor":
        return as_operand(other, self).matmul(self)

    def __neg__(self) -> "Tensor":
        return unary.Neg.apply(self)

    def __pos__(self) -> "Tensor":
        return self

    def add(self, other: Any, alpha: float = 1) -> "Tensor":
        """``self + alpha * other``."""
        return self + (other if alpha == 1 else as_operand(other, self) * alpha)

    def sub(self, other: Any, alpha: float = 1) -> "Tensor":
        """``self - alpha * other``."""
        return self - (other if alpha == 1 else as_operand(other, self) * alpha)

    def mul(self, other: Any) -> "Tensor":
        return self * other

    def div(self, other: Any) -> "Tensor":
        return self / other

    def pow(self, exponent: Any) -> "Tensor":
        return self ** exponent

    def neg(self) -> "Tensor":
        return -self

    def matmul(self, other: Any) -> "Tensor":
        """Matrix product with NumPy/PyTorch semantics (1-D operands, batch broadcasting)."""
        other = as_operand(other, self)
        a, b = self.shape, other.shape
        if not a or not b:
            raise ValueError(f"matmul: both operands need at least 1 dimension, got {a} and {b}")
        k_b = b[0] if len(b) == 1 else b[-2]
        if a[-1] != k_b:
            raise ValueError(
                f"matmul: shapes {a} and {b} are not aligned: the last dimension of the first "
                f"({a[-1]}) must equal the {'only' if len(b) == 1 else 'second-to-last'} dimension "
                f"of the second ({k_b})."
            )
        try:
            np.broadcast_shapes(a[:-2], b[:-2])
        except ValueError:
            raise ValueError(f"matmul: batch dimensions {a[:-2]} and {b[:-2]} cannot be broadcast") from None
        return linalg.MatMul.apply(self, other)

    # ------------------------------------------------------------------------ unary math
    def exp(self) -> "Tensor":
        return unary.Exp.apply(self)

    def log(self) -> "Tensor":
        return unary.Log.apply(self)

    def sqrt(self) -> "Tensor":
        return unary.Sqrt.apply(self)

    def abs(self) -> "Tensor":
        return unary.Abs.apply(self)

    def tanh(self) -> "Tensor":
        return unary.Tanh.apply(self)

    def sigmoid(self) -> "Tensor":
        return unary.Sigmoid.apply(self)

    def relu(self) -> "Tensor":
        return unary.ReLU.apply(self)

    def square(self) -> "Tensor":
        return self ** 2

    def clamp(self, min: Optional[float] = None, max: Optional[float] = None) -> "Tensor":
        """Limit values to ``[min, max]``; the gradient passes where ``min <= x <= max``."""
        if min is None and max is None:
            raise ValueError("clamp: at least one of min and max must be given")
        if min is not None and max is not None and min > max:
            raise ValueError(f"clamp: min ({min}) must not exceed max ({max})")
        x = self
        if self.dtype.kind in "biu" and any(isinstance(v, float) for v in (min, max)):
            x = self.to(_FLOAT32)  # float bounds on an integer tensor give float32, as in PyTorch
        return unary.Clamp.apply(x, min=min, max=max)

    clip = clamp

    def maximum(self, other: Any) -> "Tensor":
        """Elementwise maximum; the gradient goes to the larger input (half each on ties)."""
        return binary(E.Maximum, self, as_operand(other, self))

    def minimum(self, other: Any) -> "Tensor":
        """Elementwise minimum; the gradient goes to the smaller input (half each on ties)."""
        return binary(E.Minimum, self, as_operand(other, self))

    def where(self, condition: Any, other: Any) -> "Tensor":
        """``self`` where ``condition`` holds, else ``other`` (PyTorch's ``Tensor.where``)."""
        from cnnkit.functional import where

        return where(condition, self, other)

    # ------------------------------------------------------------------------ reductions
    def _float_for_mean(self) -> "Tensor":
        return self if self.dtype.kind in "fc" else self.to(_FLOAT32)

    def sum(self, dim: DimArg = None, keepdim: Optional[bool] = None, *, axis: DimArg = None,
            keepdims: Optional[bool] = None) -> "Tensor":
        """Sum over ``dim`` (an int, a tuple, or None for all); ``axis``/``keepdims`` also work."""
        dim, keep = reduce_args(dim, axis, keepdim, keepdims)
        return reduce.Sum.apply(self, axis=normalize_dims(dim, self.ndim), keepdim=keep)

    def mean(self, dim: DimArg = None, keepdim: Optional[bool] = None, *, axis: DimArg = None,
             keepdims: Optional[bool] = None) -> "Tensor":
        """Arithmetic mean over ``dim``; integer tensors are averaged as float32."""
        dim, keep = reduce_args(dim, axis, keepdim, keepdims)
        x = self._float_for_mean()
        return reduce.Mean.apply(x, axis=normalize_dims(dim, self.ndim), keepdim=keep)

    def var(self, dim: DimArg = None, unbiased: Optional[bool] = None, keepdim: Optional[bool] = None,
            *, correction: Optional[float] = None, ddof: Optional[float] = None, axis: DimArg = None,
            keepdims: Optional[bool] = None) -> "Tensor":
        """Variance ``sum((x - mean)^2) / (N - correction)``.

        The default ``correction=1`` (unbiased) is PyTorch's; NumPy's default is ``ddof=0``.
        ``unbiased=False``, ``correction=0`` and ``ddof=0`` all give the biased variance.
        """
        given = [c for c in (correction, ddof, None if unbiased is None else int(unbiased)) if c is not None]
        if len(given) > 1:
            raise TypeError("var: pass only one of correction=, ddof= and unbiased=")
        dim, keep = reduce_args(dim, axis, keepdim, keepdims)
        x = self._float_for_mean()
        return reduce.Var.apply(x, axis=normalize_dims(dim, self.ndim), keepdim=keep,
                                correction=given[0] if given else 1)

    def std(self, dim: DimArg = None, unbiased: Optional[bool] = None, keepdim: Optional[bool] = None,
            **kwargs: Any) -> "Tensor":
        """Standard deviation: the square root of :meth:`var` (same arguments)."""
        return self.var(dim, unbiased, keepdim, **kwargs).sqrt()

    def _extremum(self, op: type, dim: Any, keepdim: Any, axis: Any, keepdims: Any) -> "Tensor":
        dim, keep = reduce_args(dim, axis, keepdim, keepdims)
        if self.size == 0:
            raise ValueError(f"{op.__name__.lower()}: the tensor is empty (shape {self.shape}); "
                             "there is no extreme value to return")
        return op.apply(self, axis=normalize_dims(dim, self.ndim), keepdim=keep)

    def max(self, dim: Any = None, keepdim: Optional[bool] = None, *, axis: DimArg = None,
            keepdims: Optional[bool] = None) -> "Tensor":
        """Largest values over ``dim`` (values only; see :meth:`argmax` for indices).

        Ties: the gradient is split evenly among the tied maxima (as ``torch.amax``).
        ``x.max(other_tensor)`` is the elementwise :meth:`maximum`.
        """
        if hasattr(dim, "shape"):
            return self.maximum(dim)
        return self._extremum(reduce.Max, dim, keepdim, axis, keepdims)

    def min(self, dim: Any = None, keepdim: Optional[bool] = None, *, axis: DimArg = None,
            keepdims: Optional[bool] = None) -> "Tensor":
        """Smallest values over ``dim``; ties share the gradient evenly (as ``torch.amin``)."""
        if hasattr(dim, "shape"):
            return self.minimum(dim)
        return self._extremum(reduce.Min, dim, keepdim, axis, keepdims)

    amax = max
    amin = min

    def _arg(self, func: Any, dim: Optional[int], keepdim: bool) -> "Tensor":
        from cnnkit.tensor import Tensor

        if self.size == 0:
            raise ValueError(f"{func.__name__}: the tensor is empty (shape {self.shape})")
        if dim is None:
            out = np.asarray(func(self.data))
            return Tensor(out.reshape((1,) * self.ndim) if keepdim else out)
        axis = normalize_dim(dim, self.ndim)
        return Tensor(np.asarray(func(self.data, axis=axis, keepdims=keepdim)))

    def argmax(self, dim: Optional[int] = None, keepdim: bool = False) -> "Tensor":
        """Indices (int64) of the maxima; ties give the first occurrence. ``dim=None`` flattens."""
        return self._arg(np.argmax, dim, keepdim)

    def argmin(self, dim: Optional[int] = None, keepdim: bool = False) -> "Tensor":
        """Indices (int64) of the minima; ties give the first occurrence. ``dim=None`` flattens."""
        return self._arg(np.argmin, dim, keepdim)

    def all(self) -> bool:
        return bool(np.all(self.data))

    def any(self) -> bool:
        return bool(np.any(self.data))

    # ------------------------------------------------------- comparisons (never differentiable)
    def _compare(self, other: Any, func: Any) -> Any:
        from cnnkit.tensor import Tensor

        try:
            other_data = as_operand(other, self).data
        except TypeError:
            return NotImplemented
        return Tensor(func(self.data, other_data))

    def __lt__(self, other: Any) -> "Tensor":
        return self._compare(other, np.less)

    def __le__(self, other: Any) -> "Tensor":
        return self._compare(other, np.less_equal)

    def __gt__(self, other: Any) -> "Tensor":
        return self._compare(other, np.greater)

    def __ge__(self, other: Any) -> "Tensor":
        return self._compare(other, np.greater_equal)

    def __eq__(self, other: Any) -> "Tensor":  # type: ignore[override]
        return self._compare(other, np.equal)

    def __ne__(self, other: Any) -> "Tensor":  # type: ignore[override]
        return self._compare(other, np.not_equal)

    lt, le, gt, ge, eq, ne = __lt__, __le__, __gt__, __ge__, __eq__, __ne__

    def isnan(self) -> "Tensor":
        from cnnkit.tensor import Tensor

        return Tensor(np.isnan(self.data))

    def isfinite(self) -> "Tensor":
        from cnnkit.tensor import Tensor

        return Tensor(np.isfinite(self.data))
