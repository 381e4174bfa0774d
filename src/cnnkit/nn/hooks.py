"""Module hooks with PyTorch semantics: forward pre-hooks, forward hooks and full backward hooks.

:class:`HookMixin` gives :class:`cnnkit.nn.Module` its ``register_*_hook`` methods and the
hook-running ``__call__``. Backward hooks work as in PyTorch: when a module with backward hooks
is called, its tensor arguments and its outputs go through identity graph nodes
(:mod:`cnnkit.ops.hooks`); backward through the output nodes yields ``grad_output`` (backward
pre-hooks run there), backward through the input nodes yields ``grad_input`` (full backward
hooks run there). The module's own ``forward`` therefore sees new Tensor objects sharing the
caller's data, and the caller gets new Tensor objects sharing the output's data.

Hooks fire in the order the autograd engine runs the graph backwards: in a chain of layers that
is PyTorch's order; where the graph branches (a residual block), independent branches may be
visited in another order than PyTorch's, which runs the most recently created node first.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Optional

import numpy as np


class RemovableHandle:
    """Returned by the ``register_*_hook`` methods; ``remove()`` (or leaving a ``with``) unregisters."""

    _next_id = 0

    def __init__(self, registry: "OrderedDict[int, Any]") -> None:
        self._registry = registry
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self) -> None:
        self._registry.pop(self.id, None)

    def __enter__(self) -> "RemovableHandle":
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def _registry(module: Any, name: str) -> "OrderedDict[int, Any]":
    table = module.__dict__.get(name)
    if table is None:  # a module whose __init__ predates this registry (e.g. built with __new__)
        table = OrderedDict()
        object.__setattr__(module, name, table)
    return table


def _add(module: Any, name: str, hook: Callable[..., Any], prepend: bool) -> RemovableHandle:
    if not callable(hook):
        raise TypeError(f"{type(module).__name__}: a hook must be callable, got {type(hook).__name__}")
    table = _registry(module, name)
    handle = RemovableHandle(table)
    table[handle.id] = hook
    if prepend:
        table.move_to_end(handle.id, last=False)
    return handle


class HookMixin:
    """The hook registries and the hook-running ``__call__`` of :class:`cnnkit.nn.Module`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        hooks = self.__dict__.get("_forward_pre_hooks")
        if hooks:
            for hook in list(hooks.values()):
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        backward = _BackwardHookCall.for_module(self)
        if backward is not None:
            args = backward.wrap_inputs(args)
        out = self.forward(*args, **kwargs)  # type: ignore[attr-defined]
        hooks = self.__dict__.get("_forward_hooks")
        if hooks:
            for hook in list(hooks.values()):
                result = hook(self, args, out)
                if result is not None:
                    out = result
        if backward is not None:
            out = backward.wrap_outputs(out)
        return out

    def register_forward_pre_hook(self, hook: Callable[..., Any], prepend: bool = False) -> RemovableHandle:
        """Call ``hook(module, args)`` before every forward; a non-None result replaces the args.

        Args:
            hook: the function; a single non-tuple result becomes a one-element args tuple.
            prepend: run it before the hooks already registered (default: after).

        Returns:
            A handle whose ``remove()`` unregisters the hook.

        Example:
            >>> import cnnkit
            >>> layer = cnnkit.nn.ReLU()
            >>> handle = layer.register_forward_pre_hook(lambda m, args: (-args[0],))
            >>> layer(cnnkit.tensor([1.0, -2.0])).tolist(); handle.remove()
            [0.0, 2.0]
        """
        return _add(self, "_forward_pre_hooks", hook, prepend)

    def register_forward_hook(self, hook: Callable[..., Any], prepend: bool = False) -> RemovableHandle:
        """Call ``hook(module, args, output)`` after every forward; a non-None result replaces the output.

        Args:
            hook: the function.
            prepend: run it before the hooks already registered (default: after).

        Returns:
            A handle whose ``remove()`` unregisters the hook.

        Example:
            >>> import cnnkit
            >>> layer = cnnkit.nn.ReLU()
            >>> seen = []
            >>> handle = layer.register_forward_hook(lambda m, args, out: seen.append(out.shape))
            >>> _ = layer(cnnkit.zeros(2, 3)); handle.remove(); _ = layer(cnnkit.zeros(1))
            >>> seen
            [(2, 3)]
        """
        return _add(self, "_forward_hooks", hook, prepend)

    def register_full_backward_pre_hook(self, hook: Callable[..., Any], prepend: bool = False) -> RemovableHandle:
        """Call ``hook(module, grad_output)`` once the gradients w.r.t. the module's outputs are known.

        ``grad_output`` is a tuple with one entry per output (None for a non-Tensor output or
        one that received no gradient). The hook must not modify it; a non-None result (a tuple
        of the same length, entries Tensors, arrays or None) replaces it for the rest of backward.

        Args:
            hook: the function.
            prepend: run it before the backward pre-hooks already registered (default: after).

        Returns:
            A handle whose ``remove()`` unregisters the hook.

        Example:
            >>> import cnnkit
            >>> layer = cnnkit.nn.Linear(3, 2)
            >>> h = layer.register_full_backward_pre_hook(lambda m, gout: (gout[0] * 0,))  # block the gradient
            >>> x = cnnkit.ones(4, 3, requires_grad=True)
            >>> layer(x).sum().backward(); h.remove()
            >>> float(abs(x.grad.numpy()).sum()), float(abs(layer.weight.grad.numpy()).sum())
            (0.0, 0.0)
        """
        return _add(self, "_backward_pre_hooks", hook, prepend)

    def register_full_backward_hook(self, hook: Callable[..., Any], prepend: bool = False) -> RemovableHandle:
        """Call ``hook(module, grad_input, grad_output)`` once the gradients w.r.t. the module's inputs are known.

        As in PyTorch: the hook fires when the gradients w.r.t. the positional inputs are
        computed; if no input requires grad it fires when the gradients w.r.t. the outputs are
        known, with ``grad_input`` all None; if no output requires grad it does not fire.
        ``grad_input`` has one entry per positional argument (None for non-Tensors, for inputs
        that do not require grad and for inputs no gradient reached); keyword arguments are
        ignored. The gradients are read-only Tensors; a non-None result (a tuple of the same
        length) replaces ``grad_input`` for the rest of backward. A module used several times
        fires once per call.

        Args:
            hook: the function.
            prepend: run it before the backward hooks already registered (default: after).

        Returns:
            A handle whose ``remove()`` unregisters the hook.

        Example:
            >>> import cnnkit
            >>> layer = cnnkit.nn.Linear(3, 2)
            >>> seen = []
            >>> h = layer.register_full_backward_hook(
            ...     lambda m, gin, gout: seen.append((gin[0].shape, gout[0].shape)))
            >>> layer(cnnkit.ones(4, 3, requires_grad=True)).sum().backward(); h.remove()
            >>> seen
            [((4, 3), (4, 2))]
        """
        return _add(self, "_backward_hooks", hook, prepend)


class _BackwardHookCall:
    """The backward-hook bookkeeping of one module call (PyTorch's ``torch.utils.hooks.BackwardHook``)."""

    def __init__(self, module: Any, hooks: list, pre_hooks: list) -> None:
        self.module, self.hooks, self.pre_hooks = module, hooks, pre_hooks
        self.grad_outputs: Optional[tuple] = None
        self.n_inputs = self.n_outputs = 0
        self.input_index: Optional[list] = None  # positions of the wrapped tensors, None: none wrapped
        self.output_index: Optional[list] = None
        self.input_zeros: dict = {}  # position -> (shape, dtype) of each tensor input

    @classmethod
    def for_module(cls, module: Any) -> Optional["_BackwardHookCall"]:
        hooks, pre_hooks = module.__dict__.get("_backward_hooks"), module.__dict__.get("_backward_pre_hooks")
        if not hooks and not pre_hooks:
            return None
        # Snapshots: hooks added or removed during this call's backward apply to later calls.
        return cls(module, list((hooks or {}).values()), list((pre_hooks or {}).values()))

    def _wrap(self, values: tuple, callback: Callable[[tuple], tuple]) -> tuple:
        """Route the tensors among ``values`` that require grad through one gather node.

        Returns the new values and the positions of the routed tensors (None when none is).
        """
        from cnnkit.autograd.grad_mode import is_grad_enabled
        from cnnkit.ops.hooks import HookGather, HookRelease
        from cnnkit.tensor import Tensor

        positions = [i for i, v in enumerate(values) if isinstance(v, Tensor) and v.requires_grad]
        if not positions or not is_grad_enabled():
            return values, None
        token = HookGather.apply(*(values[i] for i in positions), callback=callback)
        out = list(values)
        for k, i in enumerate(positions):
            out[i] = HookRelease.apply(token, source=values[i].data, gather=token.creator, index=k)
        return tuple(out), positions

    def wrap_inputs(self, args: tuple) -> tuple:
        from cnnkit.tensor import Tensor

        self.n_inputs = len(args)
        # As PyTorch: once the call is hooked, a tensor input that gets no gradient (it does not
        # require grad, or nothing reached it) shows as zeros in grad_input; non-tensors as None.
        self.input_zeros = {i: (a.shape, a.dtype) for i, a in enumerate(args) if isinstance(a, Tensor)}
        args, self.input_index = self._wrap(args, self._input_grads)
        return args

    def wrap_outputs(self, out: Any) -> Any:
        single = not isinstance(out, tuple)
        values = (out,) if single else out
        self.n_outputs = len(values)
        values, self.output_index = self._wrap(values, self._output_grads)
        return values[0] if single else values

    def _spread(self, index: list, grads: tuple, size: int) -> tuple:
        from cnnkit.tensor import Tensor

        full: list = [None] * size
        for i, g in zip(index, grads):
            full[i] = None if g is None else Tensor._from_op(g, None)
        return tuple(full)

    def _checked(self, result: Any, reference: tuple, what: str, hook: Any) -> tuple:
        """A hook's replacement gradients as arrays for the wrapped tensors, after checking them."""
        name = f"{type(self.module).__name__} {what} hook {getattr(hook, '__name__', hook)!r}"
        if not isinstance(result, (tuple, list)):
            if len(reference) != 1:
                raise TypeError(f"{name} returned a {type(result).__name__}; return a tuple of {len(reference)} "
                                "gradients (or None to keep them)")
            result = (result,)
        if len(result) != len(reference):
            raise RuntimeError(f"{name} returned {len(result)} gradients, expected {len(reference)} (one per "
                               "positional input/output, None where there is none)")
        out = []
        for i, (new, old) in enumerate(zip(result, reference)):
            array = None if new is None else np.asarray(getattr(new, "data", new))
            if array is not None and old is not None and array.shape != old.shape:
                raise RuntimeError(f"{name} returned a gradient of shape {array.shape} at position {i}, "
                                   f"expected {old.shape}")
            out.append(array)
        return tuple(out)

    def _output_grads(self, grads: tuple) -> tuple:
        assert self.output_index is not None
        self.grad_outputs = self._spread(self.output_index, grads, self.n_outputs)
        for hook in self.pre_hooks:
            result = hook(self.module, self.grad_outputs)
            if result is not None:
                arrays = self._checked(result, self.grad_outputs, "backward pre-", hook)
                self.grad_outputs = self._spread(list(range(self.n_outputs)), arrays, self.n_outputs)
        grad_outputs = self.grad_outputs
        if self.input_index is None:
            # No input requires grad: fire the full hooks now, with grad_input all None (as PyTorch).
            nothing = (None,) * self.n_inputs
            for hook in self.hooks:
                result = hook(self.module, nothing, grad_outputs)
                if result is not None and not (isinstance(result, tuple) and all(r is None for r in result)):
                    raise RuntimeError(f"{type(self.module).__name__} backward hook returned gradients although "
                                       "no input of the module requires grad; return None")
            self.grad_outputs = None
        return tuple(None if grad_outputs[i] is None else grad_outputs[i].data for i in self.output_index)

    def _input_grads(self, grads: tuple) -> tuple:
        from cnnkit.tensor import Tensor

        assert self.input_index is not None
        if self.grad_outputs is None:
            return grads  # the gradient did not come through this call's outputs (as PyTorch)
        grad_inputs = self._spread(self.input_index, grads, self.n_inputs)
        grad_inputs = tuple(Tensor._from_op(np.zeros(*self.input_zeros[i]), None) if g is None and i in self.input_zeros
                            else g for i, g in enumerate(grad_inputs))
        for hook in self.hooks:
            result = hook(self.module, grad_inputs, self.grad_outputs)
            if result is not None:
                arrays = self._checked(result, grad_inputs, "full backward", hook)
                grad_inputs = self._spread(list(range(self.n_inputs)), arrays, self.n_inputs)
        self.grad_outputs = None
        return tuple(None if grad_inputs[i] is None else grad_inputs[i].data for i in self.input_index)
