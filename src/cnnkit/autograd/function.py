"""The ``Function`` base class: one differentiable operation and, once applied, one graph node.

A subclass implements ``forward`` on raw NumPy arrays and ``backward`` returning one gradient
per input. The instance created by :meth:`Function.apply` *is* the graph node: it keeps the
input tensors and the arrays saved for backward, so nothing is cached on layers and a layer
can be applied any number of times in one graph.
"""

from __future__ import annotations

import linecache
import os
import sys
import weakref
from typing import TYPE_CHECKING, Any, Optional, Sequence

import numpy as np

from cnnkit.autograd.grad_mode import AnomalyError, is_anomaly_enabled, is_grad_enabled

if TYPE_CHECKING:
    from cnnkit.tensor import Tensor

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_tensor_class: Any = None


def _make_tensor(data: np.ndarray, creator: Optional["Function"]) -> "Tensor":
    global _tensor_class
    if _tensor_class is None:  # imported lazily: tensor.py imports this module
        from cnnkit.tensor import Tensor

        _tensor_class = Tensor
    return _tensor_class._from_op(data, creator)


def user_code_location() -> str:
    """Return ``file:line in func: source`` for the innermost frame outside the cnnkit package."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
    if frame is None:
        return "<unknown location>"
    filename, lineno = frame.f_code.co_filename, frame.f_lineno
    source = linecache.getline(filename, lineno).strip()
    return f"{filename}:{lineno} in {frame.f_code.co_name}" + (f": {source}" if source else "")


def user_stacklevel() -> int:
    """The ``stacklevel`` that makes ``warnings.warn`` (called by our caller) point at user code."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    return level


def check_finite(array: np.ndarray, fn: "Function", what: str) -> None:
    """Raise :class:`AnomalyError` when ``array`` holds NaN or Inf (used by detect_anomaly)."""
    if array.dtype.kind not in "fc" or np.isfinite(array).all():
        return
    n_nan = int(np.isnan(array).sum())
    n_inf = int(np.isinf(array).sum())
    raise AnomalyError(
        f"detect_anomaly: Function '{fn.name}' produced non-finite values in {what} "
        f"({n_nan} NaN, {n_inf} Inf of {array.size} elements). "
        f"The op was created at {fn.created_at or '<location recorded only inside detect_anomaly>'}. "
        "Check the inputs of that line (log/sqrt/division of zero or negatives, overflowing exp, "
        "a learning rate that is too high)."
    )


class Function:
    """Base class of differentiable operations.

    Subclasses implement:

    * ``forward(self, *arrays, **options) -> np.ndarray`` on raw arrays (one per tensor input),
      calling :meth:`save_for_backward` for what backward needs;
    * ``backward(self, grad_out) -> tuple`` returning one gradient array (or None) per tensor
      input, shaped like that input. ``grad_out`` is read-only: never modify it in place.

    Attributes:
        saves_output: class flag: backward reads the forward output, so changing the output in
            place before backward is an error (the engine checks the output's version).
        owns_grads: class flag, a promise: every array backward returns is newly allocated for
            that input alone (not ``grad_out``, not saved, not returned twice). The engine then
            keeps a C-contiguous one as a leaf's ``.grad`` instead of copying it (a layer's weight
            gradient can be several MB, copied every step otherwise).
        inputs: the input tensors (empty once the graph is freed).
        needs_input_grad: per input, whether a gradient is wanted; backward may skip the others.
        requires_grad: whether this node is recorded in a graph at all.
    """

    saves_output = False
    owns_grads = False

    def __init__(self) -> None:
        self.inputs: tuple = ()
        self.needs_input_grad: tuple = ()
        self.requires_grad = False
        self.saved: tuple = ()
        self.freed = False
        self.created_at: Optional[str] = None
        self.output: Any = None  # weakref to the output tensor (its version and retain_grad)
        self.input_versions: tuple = ()  # inputs' in-place versions when the node was recorded

    @property
    def name(self) -> str:
        """The op's name as shown in reprs and errors (the class name)."""
        return type(self).__name__

    def save_for_backward(self, *arrays: Any) -> None:
        """Keep arrays (or other values) on this graph node for :meth:`backward`."""
        self.saved = arrays

    @property
    def saved_arrays(self) -> tuple:
        """The values given to :meth:`save_for_backward`."""
        return self.saved

    def forward(self, *arrays: np.ndarray, **options: Any) -> np.ndarray:
        raise NotImplementedError(f"{self.name} must implement forward")

    def backward(self, grad_out: np.ndarray) -> Sequence[Optional[np.ndarray]]:
        raise NotImplementedError(f"{self.name} must implement backward")

    def release(self) -> None:
        """Free the saved arrays and the links to the inputs after backward."""
        self.saved = ()
        self.inputs = ()
        self.freed = True

    @classmethod
    def apply(cls, *inputs: "Tensor", **options: Any) -> "Tensor":
        """Run the op on tensors and, when any input requires grad, record it in the graph."""
        fn = cls()
        record = is_grad_enabled() and any(t.requires_grad for t in inputs)
        fn.requires_grad = record
        fn.needs_input_grad = tuple(record and t.requires_grad for t in inputs)
        out = fn.forward(*[t.data for t in inputs], **options)
        if is_anomaly_enabled():
            fn.created_at = user_code_location()
            check_finite(np.asarray(out), fn, "its forward output")
        if record:
            fn.inputs = inputs
            fn.input_versions = tuple(t._version for t in inputs)
            result = _make_tensor(out, fn)
            fn.output = weakref.ref(result)
            return result
        fn.saved = ()
        return _make_tensor(out, None)

    def __repr__(self) -> str:
        return f"<{self.name}Backward>"
