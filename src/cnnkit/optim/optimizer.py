"""The ``Optimizer`` base: parameter groups, per-parameter state, ``step``/``zero_grad``, state dicts.

Subclasses implement only their update rule, ``_update(param, grad, state, group)``, on NumPy
arrays in place; the base class walks the groups, skips parameters without gradients, and
handles (de)serialisation in PyTorch's format (parameters referred to by index).
"""

from __future__ import annotations

import copy
import numbers
from typing import Any, Callable, Iterable, Optional

import numpy as np

from cnnkit.autograd.grad_mode import enable_grad, no_grad
from cnnkit.backend import fastpath
from cnnkit.backend import parallel
from cnnkit.tensor import Tensor


def elementwise(fn: Callable[..., None], *arrays: Optional[np.ndarray]) -> None:
    """Run ``fn(*views)`` on matching chunks of same-shaped arrays (None stays None), on cnnkit's
    threads when the fast paths are on and the arrays are large, else once on the whole arrays.

    For update rules that are element-wise passes over a parameter, its gradient and its state:
    a large layer's update (LeNet-5's 1.2M-weight fc1) is memory-bound, and NumPy's ufuncs run on
    one core.
    """
    like = arrays[0]
    if not (fastpath.enabled() and parallel.active()):
        fn(*arrays)
        return
    parallel.by_memory(lambda idx: fn(*(None if a is None else a[idx] for a in arrays)), like)


class Optimizer:
    """Base class of the optimizers.

    Args:
        params: an iterable of Tensors, or of dicts (parameter groups) each with a ``"params"``
            list and optional per-group hyper-parameters overriding ``defaults``.
        defaults: the hyper-parameters every group starts from.
    """

    def __init__(self, params: Iterable[Any], defaults: dict) -> None:
        self.defaults = dict(defaults)
        self.state: dict = {}
        self.param_groups: list = []
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list: pass model.parameters() "
                             "of a model that has parameters")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters (with optional hyper-parameter overrides) to optimise."""
        if not isinstance(param_group, dict) or "params" not in param_group:
            raise TypeError("a parameter group must be a dict with a 'params' entry")
        group = dict(param_group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        for p in group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__} can only optimise Tensors, got {type(p).__name__}")
            if p.creator is not None:
                raise ValueError(f"{type(self).__name__} can only optimise leaf tensors (parameters), not the "
                                 f"result of an operation (shape {p.shape}); pass the parameters themselves")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._validate(group)
        self.param_groups.append(group)

    def _validate(self, group: dict) -> None:
        """Check a group's hyper-parameters (subclasses extend)."""
        lr = group.get("lr")
        if lr is None or isinstance(lr, bool) or not isinstance(lr, numbers.Real) or lr < 0:
            raise ValueError(f"{type(self).__name__}: invalid learning rate {lr!r}; it must be a number >= 0")
        if group.get("weight_decay", 0) < 0:
            raise ValueError(f"{type(self).__name__}: invalid weight_decay {group['weight_decay']!r}; it must be >= 0")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of every optimised parameter (set to None, or zero them in place)."""
        from cnnkit.nn.utils import zero_grads

        zero_grads((p for group in self.param_groups for p in group["params"]), set_to_none)

    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:
        """Update every parameter that has a gradient; ``closure`` re-evaluates the loss if given."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    grad = p.grad.data if isinstance(p.grad, Tensor) else np.asarray(p.grad)
                    if grad.shape != p.shape:
                        raise ValueError(f"{type(self).__name__}: a gradient of shape {grad.shape} was assigned "
                                         f"to a parameter of shape {p.shape}")
                    state = self.state.get(p, {})
                    self._update(p.data, grad.astype(p.dtype, copy=False), state, group)
                    if state:  # stateless rules (plain SGD) keep no entry, as in PyTorch
                        self.state[p] = state
        return loss

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement _update")

    # ---------------------------------------------------------------------------- state dicts
    def state_dict(self) -> dict:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}`` (PyTorch's layout)."""
        index: dict = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {index[id(p)]: copy.deepcopy(s) for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyper-parameters and per-parameter state saved by :meth:`state_dict`."""
        groups = state_dict.get("param_groups")
        if not isinstance(groups, list) or len(groups) != len(self.param_groups):
            raise ValueError(f"{type(self).__name__}.load_state_dict: the saved state has "
                             f"{len(groups) if isinstance(groups, list) else 'no'} parameter groups, this optimizer "
                             f"has {len(self.param_groups)}")
        for i, (saved, own) in enumerate(zip(groups, self.param_groups)):
            if len(saved["params"]) != len(own["params"]):
                raise ValueError(f"{type(self).__name__}.load_state_dict: group {i} holds {len(saved['params'])} "
                                 f"parameters in the saved state but {len(own['params'])} here")
        by_index = {}
        for saved, own in zip(groups, self.param_groups):
            for idx, p in zip(saved["params"], own["params"]):
                by_index[idx] = p
        new_state: dict = {}
        for idx, values in state_dict.get("state", {}).items():
            p = by_index.get(int(idx))
            if p is None:
                continue
            restored = {}
            for key, value in values.items():
                if isinstance(value, np.ndarray) and value.shape == p.shape:
                    value = value.astype(p.dtype, copy=True)  # moments follow the parameter's dtype
                elif isinstance(value, np.ndarray):
                    value = value.copy()
                restored[key] = value
            new_state[p] = restored
        self.state = new_state
        for saved, own in zip(groups, self.param_groups):
            own.update({k: v for k, v in saved.items() if k != "params"})

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params")
        return "\n".join(lines) + "\n)"
