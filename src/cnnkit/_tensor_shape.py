"""Views, indexing and reshaping (a mixin of :class:`Tensor`).

Results are new arrays or NumPy views that the graph never writes to; unlike PyTorch, an
indexing result does not share memory with its source, so in-place edits never alias.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Sequence, Union

import numpy as np

from cnnkit._dims import normalize_dim, shape_args
from cnnkit.ops import shape as S

if TYPE_CHECKING:
    from cnnkit.tensor import Tensor


def _index_component(item: Any) -> Any:
    """Convert one index entry: Tensors and lists become arrays; boolean masks become int arrays."""
    if hasattr(item, "creator") and hasattr(item, "data"):  # a Tensor
        item = item.data
    if isinstance(item, list):
        item = np.asarray(item)
    if isinstance(item, np.ndarray):
        if item.dtype == np.bool_ and item.ndim == 0:
            return item  # x[True] adds an axis, x[False] selects nothing: NumPy handles it
        if item.dtype == np.bool_:
            return np.nonzero(item)  # a mask is the tuple of its nonzero coordinates
        if item.dtype.kind not in "iu":
            raise IndexError(
                f"tensors used as indices must be integer or boolean, got dtype {item.dtype}"
            )
    return item


def normalize_index(index: Any) -> Any:
    """Make an index NumPy understands and that backward can scatter-add through."""
    items = index if isinstance(index, tuple) else (index,)
    out: list[Any] = []
    for item in items:
        item = _index_component(item)
        if isinstance(item, tuple):
            out.extend(item)
        else:
            out.append(item)
    return tuple(out)


class TensorShape:
    """Shape manipulation; every method applies one op from :mod:`cnnkit.ops.shape`."""

    def reshape(self, *shape: Any) -> "Tensor":
        """Same data in a new shape; one size may be -1 (inferred)."""
        target = shape_args(shape, "reshape")
        if target.count(-1) > 1:
            raise ValueError(f"reshape: only one dimension can be -1, got {target}")
        known = int(np.prod([n for n in target if n != -1]))
        size = int(self.size)
        if -1 in target and known and size % known == 0:
            target = tuple(size // known if n == -1 else n for n in target)
        if any(n < 0 for n in target) or int(np.prod(target)) != size:
            raise ValueError(
                f"reshape: cannot reshape a tensor of shape {self.shape} ({size} elements) "
                f"into shape {shape_args(shape, 'reshape')}"
            )
        if target == self.shape:
            return self  # type: ignore[return-value]
        return S.Reshape.apply(self, shape=target)

    def view(self, *shape: Any) -> "Tensor":
        """Alias of :meth:`reshape` (cnnkit tracks no strides, so every shape is viewable)."""
        return self.reshape(*shape)

    def view_as(self, other: "Tensor") -> "Tensor":
        return self.reshape(other.shape)

    def reshape_as(self, other: "Tensor") -> "Tensor":
        return self.reshape(other.shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> "Tensor":
        """Merge dimensions ``start_dim..end_dim`` (inclusive) into one."""
        if self.ndim == 0:
            return self.reshape(1)
        start, end = normalize_dim(start_dim, self.ndim), normalize_dim(end_dim, self.ndim)
        if start > end:
            raise ValueError(f"flatten: start_dim ({start_dim}) must not come after end_dim ({end_dim})")
        merged = int(np.prod(self.shape[start:end + 1]))
        return self.reshape(self.shape[:start] + (merged,) + self.shape[end + 1:])

    def permute(self, *dims: Any) -> "Tensor":
        """Reorder dimensions: ``x.permute(0, 2, 3, 1)`` turns NCHW into NHWC."""
        order = shape_args(dims, "permute")
        if len(order) != self.ndim:
            raise ValueError(f"permute: got {len(order)} dims {order} for a tensor with {self.ndim} dimensions")
        order = tuple(normalize_dim(d, self.ndim) for d in order)
        if sorted(order) != list(range(self.ndim)):
            raise ValueError(f"permute: dims {dims} must name every dimension exactly once")
        if order == tuple(range(self.ndim)):
            return self  # type: ignore[return-value]
        return S.Permute.apply(self, dims=order)

    def transpose(self, dim0: int, dim1: int) -> "Tensor":
        """Swap two dimensions."""
        order = list(range(self.ndim))
        a, b = normalize_dim(dim0, self.ndim), normalize_dim(dim1, self.ndim)
        order[a], order[b] = order[b], order[a]
        return self.permute(*order) if self.ndim else self  # type: ignore[return-value]

    def t(self) -> "Tensor":
        """Transpose of a matrix (a 0-D or 1-D tensor is returned as is)."""
        if self.ndim > 2:
            raise ValueError(f"t() expects a tensor with at most 2 dimensions, got {self.ndim}; use transpose/permute")
        return self.transpose(0, 1) if self.ndim == 2 else self  # type: ignore[return-value]

    @property
    def T(self) -> "Tensor":
        """All dimensions reversed."""
        return self.permute(*reversed(range(self.ndim))) if self.ndim > 1 else self  # type: ignore

    def squeeze(self, dim: Optional[Union[int, Sequence[int]]] = None) -> "Tensor":
        """Remove size-1 dimensions (all, or those in ``dim``; others are left as PyTorch does)."""
        if dim is None:
            dims = [i for i, n in enumerate(self.shape) if n == 1]
        else:
            dims = [normalize_dim(d, self.ndim) for d in (dim if isinstance(dim, (tuple, list)) else (dim,))]
        return self.reshape(tuple(n for i, n in enumerate(self.shape) if not (i in dims and n == 1)))

    def unsqueeze(self, dim: int) -> "Tensor":
        """Insert a size-1 dimension at ``dim`` (``-1`` appends)."""
        position = normalize_dim(dim, self.ndim + 1)
        return self.reshape(self.shape[:position] + (1,) + self.shape[position:])

    def expand(self, *sizes: Any) -> "Tensor":
        """Broadcast to ``sizes``; ``-1`` keeps a dimension's size (PyTorch's ``expand``)."""
        target = shape_args(sizes, "expand")
        if len(target) < self.ndim:
            raise ValueError(f"expand: the number of sizes {target} must be at least the tensor's {self.ndim} dims")
        own = (None,) * (len(target) - self.ndim) + tuple(self.shape)
        resolved = tuple(o if n == -1 and o is not None else n for n, o in zip(target, own))
        return self.broadcast_to(resolved)

    def broadcast_to(self, *shape: Any) -> "Tensor":
        """Broadcast to ``shape`` by NumPy's rules; backward sums over the broadcast axes."""
        target = shape_args(shape, "broadcast_to")
        if target == self.shape:
            return self  # type: ignore[return-value]
        try:
            np.broadcast_shapes(self.shape, target)
            if len(target) < self.ndim or np.broadcast_shapes(self.shape, target) != target:
                raise ValueError
        except ValueError:
            raise ValueError(
                f"broadcast_to/expand: cannot broadcast shape {self.shape} to {target}: each "
                "dimension must match or be 1 in the tensor"
            ) from None
        return S.BroadcastTo.apply(self, shape=target)

    def expand_as(self, other: "Tensor") -> "Tensor":
        return self.broadcast_to(other.shape)

    def __getitem__(self, index: Any) -> "Tensor":
        index = normalize_index(index)
        try:
            return S.GetItem.apply(self, index=index)
        except IndexError as error:
            raise IndexError(f"index {index!r} is invalid for a tensor of shape {self.shape}: {error}") from None

    def clone(self) -> "Tensor":
        """A differentiable copy."""
        return S.GetItem.apply(self, index=(Ellipsis,))

    def contiguous(self) -> "Tensor":
        """Returns self: cnnkit has no stride-dependent kernels that need a copy."""
        return self  # type: ignore[return-value]

    def split(self, split_size_or_sections: Union[int, Sequence[int]], dim: int = 0) -> tuple:
        """Split into chunks of ``split_size`` (last may be smaller) or of the given sizes."""
        axis = normalize_dim(dim, self.ndim)
        length = self.shape[axis]
        if isinstance(split_size_or_sections, int):
            if split_size_or_sections <= 0:
                raise ValueError(f"split: split_size must be positive, got {split_size_or_sections}")
            sizes = [min(split_size_or_sections, length - s) for s in range(0, length, split_size_or_sections)]
            sizes = sizes or [0]  # an empty dim splits into one empty chunk, as in PyTorch
        else:
            sizes = list(split_size_or_sections)
            if sum(sizes) != length:
                raise ValueError(f"split: sections {sizes} sum to {sum(sizes)}, but dim {dim} has size {length}")
        out, start = [], 0
        for n in sizes:
            out.append(self[(slice(None),) * axis + (slice(start, start + n),)])
            start += n
        return tuple(out)

    def chunk(self, chunks: int, dim: int = 0) -> tuple:
        """Split into ``chunks`` nearly equal parts (PyTorch's rule: ceil-sized chunks)."""
        if chunks <= 0:
            raise ValueError(f"chunk: chunks must be positive, got {chunks}")
        length = self.shape[normalize_dim(dim, self.ndim)]
        if length == 0:
            return self.split([0] * chunks, dim)  # PyTorch gives ``chunks`` empty chunks
        return self.split(max(-(-length // chunks), 1), dim)
