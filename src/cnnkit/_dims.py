"""Argument normalisation shared by Tensor methods and functional: dims and their aliases."""

from __future__ import annotations

from typing import Any, Optional, Sequence, Union

DimArg = Optional[Union[int, Sequence[int]]]


def normalize_dim(dim: int, ndim: int, what: str = "dim") -> int:
    """Map a possibly negative ``dim`` into ``[0, ndim)``, with PyTorch's error otherwise."""
    if isinstance(dim, bool) or not isinstance(dim, (int,)) and not hasattr(dim, "__index__"):
        raise TypeError(f"{what} must be an integer, got {type(dim).__name__} ({dim!r})")
    dim = int(dim)
    span = max(ndim, 1)  # a 0-d tensor accepts dim 0 and -1, as in PyTorch
    if not -span <= dim < span:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-span}, {span - 1}], "
            f"but got {dim}) for a tensor with {ndim} dimension(s)"
        )
    return dim % span if ndim else 0


def normalize_dims(dim: DimArg, ndim: int) -> Optional[tuple]:
    """Return ``None`` (all axes) or a sorted tuple of distinct non-negative axes."""
    if dim is None:
        return None
    dims = (dim,) if not isinstance(dim, (tuple, list)) else tuple(dim)
    if not dims:
        return None  # PyTorch reduces over every dimension for dim=() (NumPy would reduce none)
    out = tuple(sorted({normalize_dim(d, ndim) for d in dims}))
    if len(out) != len(dims):
        raise ValueError(f"dim {dim} names the same dimension more than once")
    if ndim == 0:
        return None
    return out


def reduce_args(dim: DimArg, axis: DimArg, keepdim: Optional[bool], keepdims: Optional[bool]) -> tuple:
    """Accept both PyTorch (``dim``, ``keepdim``) and NumPy (``axis``, ``keepdims``) spellings."""
    if dim is not None and axis is not None:
        raise TypeError("pass either dim= or axis= (they are the same argument), not both")
    if keepdim is not None and keepdims is not None:
        raise TypeError("pass either keepdim= or keepdims= (they are the same argument), not both")
    return (dim if dim is not None else axis), bool(keepdim if keepdim is not None else keepdims)


def shape_args(args: tuple[Any, ...], what: str) -> tuple:
    """Accept ``f(2, 3)``, ``f((2, 3))`` and ``f([2, 3])`` as PyTorch does."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    try:
        return tuple(int(a) for a in args)
    except (TypeError, ValueError):
        raise TypeError(f"{what}: sizes must be integers, got {args!r}") from None
