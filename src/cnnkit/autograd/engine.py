"""Reverse-mode differentiation over the graph of :class:`Function` nodes.

The sort is iterative, so graph depth is limited by memory, not by Python's recursion limit.
Gradients of a node's output are summed before its backward runs (the copy gate), leaf
gradients accumulate into ``.grad`` until zeroed, and incoming gradients are never modified.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Optional, Sequence, Union

import numpy as np

from cnnkit.autograd.function import Function, check_finite
from cnnkit.autograd.grad_mode import is_anomaly_enabled, no_grad

if TYPE_CHECKING:
    from cnnkit.tensor import Tensor


def topological_order(roots: Iterable[Function]) -> list[Function]:
    """Return the nodes reachable from ``roots``, each before every node it depends on."""
    post_order: list[Function] = []
    visited: set[int] = set()
    stack: list[tuple[Function, bool]] = [(fn, False) for fn in roots]
    while stack:
        fn, expanded = stack.pop()
        if expanded:
            post_order.append(fn)
            continue
        if id(fn) in visited:
            continue
        visited.add(id(fn))
        stack.append((fn, True))
        for t in fn.inputs:
            if t.creator is not None and id(t.creator) not in visited:
                stack.append((t.creator, False))
    post_order.reverse()
    return post_order


def _accumulate(tensor: "Tensor", grad: np.ndarray, owned: bool = False) -> None:
    from cnnkit.tensor import Tensor

    if tensor.grad is None:
        if owned and grad.dtype == tensor.dtype and grad.flags.c_contiguous and grad.flags.writeable:
            tensor.grad = Tensor(grad)  # a fresh array nothing else holds (Function.owns_grads)
            return
        # Own a copy: backward may hand the same array to several inputs.
        tensor.grad = Tensor(np.array(grad, dtype=tensor.dtype, copy=True))
    elif tensor.grad.data.flags.writeable and tensor.grad.shape == grad.shape:
        np.add(tensor.grad.data, grad, out=tensor.grad.data, casting="unsafe")
    else:
        tensor.grad.data = (tensor.grad.data + grad).astype(tensor.dtype, copy=False)


def _initial_grad(tensor: "Tensor", grad: Any) -> np.ndarray:
    if not tensor.requires_grad:
        raise RuntimeError(
            "backward(): this tensor does not require grad and has no creator, so there is "
            "nothing to differentiate. Create the inputs with requires_grad=True and do not "
            "compute the output inside cnnkit.no_grad()."
        )
    if grad is None:
        if tensor.size != 1:
            raise RuntimeError(
                f"backward(): grad can be created implicitly only for a scalar output, but the "
                f"output has shape {tensor.shape}. Reduce it first (e.g. loss.sum() or "
                f"loss.mean()) or pass the upstream gradient: backward(grad=...)."
            )
        return np.ones(tensor.shape, dtype=tensor.dtype)
    array = np.asarray(getattr(grad, "data", grad), dtype=tensor.dtype)
    if array.shape != tensor.shape:
        raise RuntimeError(
            f"backward(): grad has shape {array.shape} but the output has shape {tensor.shape}; "
            "they must match."
        )
    return array


def backward(
    tensors: Union["Tensor", Sequence["Tensor"]],
    grad_tensors: Optional[Union[Any, Sequence[Any]]] = None,
    retain_graph: bool = False,
) -> None:
    """Accumulate into every leaf's ``.grad`` the gradient of ``sum_k <tensors[k], grad_tensors[k]>``.

    Args:
        tensors: one output tensor or a sequence of them.
        grad_tensors: the upstream gradient of each output (None for a scalar output means 1).
        retain_graph: keep the saved arrays so backward can run through the graph again.

    Example:
        >>> import cnnkit
        >>> x = cnnkit.tensor([1.0, 2.0], requires_grad=True)
        >>> cnnkit.autograd.backward([x * 3, x * x], [cnnkit.ones(2), cnnkit.ones(2)])
        >>> x.grad.numpy()
        array([5., 7.], dtype=float32)
    """
    if not isinstance(tensors, (list, tuple)):
        tensors = [tensors]
    if grad_tensors is None or not isinstance(grad_tensors, (list, tuple)):
        grad_tensors = [grad_tensors] * len(tensors) if grad_tensors is None else [grad_tensors]
    if len(grad_tensors) != len(tensors):
        raise ValueError(f"backward(): got {len(tensors)} outputs but {len(grad_tensors)} gradients")

    grads: dict[int, np.ndarray] = {}
    roots: list[Function] = []
    with no_grad():
        for tensor, grad in zip(tensors, grad_tensors):
            g = _initial_grad(tensor, grad)
            if tensor.creator is None:
                _accumulate(tensor, g)
                continue
            key = id(tensor.creator)
            grads[key] = grads[key] + g if key in grads else g
            roots.append(tensor.creator)
        for fn in topological_order(roots):
            _run_node(fn, grads, retain_graph)


def _run_node(fn: Function, grads: dict[int, np.ndarray], retain_graph: bool) -> None:
    grad_out = grads.pop(id(fn), None)
    if grad_out is None:
        return  # no gradient reaches this node from the roots
    if fn.freed:
        raise RuntimeError(
            f"Trying to backward through the graph a second time (at {fn.name}): its saved arrays "
            "were freed by the first backward. Pass retain_graph=True to the first backward if you "
            "need to backward twice, or recompute the forward pass."
        )
    for index, (t, version) in enumerate(zip(fn.inputs, fn.input_versions)):
        if t._version != version:
            raise RuntimeError(
                f"one of the tensors needed for gradient computation was modified by an in-place "
                f"operation: input {index} of {fn.name} (shape {t.shape}) is at version {t._version}, "
                f"it was at version {version} when {fn.name} used it. Make the change on a copy "
                "(.clone()) or do it after backward."
            )
    output = fn.output() if fn.output is not None else None
    if output is not None:
        if output._version and fn.saves_output:
            raise RuntimeError(
                f"the output of {fn.name} (shape {output.shape}) was modified by an in-place operation "
                f"after it was computed, but {fn.name}'s backward needs it unchanged. Modify a copy "
                "(.clone()) instead."
            )
        if output._retains_grad:
            _accumulate(output, grad_out)
    input_grads = fn.backward(grad_out)
    if not isinstance(input_grads, (tuple, list)):
        input_grads = (input_grads,)
    if len(input_grads) != len(fn.inputs):
        raise RuntimeError(
            f"{fn.name}.backward returned {len(input_grads)} gradients for {len(fn.inputs)} inputs"
        )
    anomaly = is_anomaly_enabled()
    for index, (t, needed, g) in enumerate(zip(fn.inputs, fn.needs_input_grad, input_grads)):
        if not needed or g is None:
            continue
        g = np.asarray(g)
        if g.shape != t.shape:
            raise RuntimeError(
                f"{fn.name}.backward returned a gradient of shape {g.shape} for input {index}, "
                f"whose shape is {t.shape}"
            )
        if g.dtype != t.dtype:
            g = g.astype(t.dtype)
        if anomaly:
            check_finite(g, fn, f"the gradient it returned for input {index} during backward")
        if t.creator is None:
            _accumulate(t, g, fn.owns_grads)
        else:
            key = id(t.creator)
            grads[key] = grads[key] + g if key in grads else g
    if not retain_graph:
        fn.release()
