"""``Module`` and ``Parameter`` with PyTorch semantics.

Assigning a :class:`Parameter`, a :class:`Module` or a registered buffer to an attribute
registers it, in assignment order, so ``named_parameters()``, ``state_dict()`` and the
optimizers see a stable order. Modules never define backward: their ``forward`` composes
differentiable ops, and the graph keeps whatever backward needs.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from typing import Any, Callable, Iterator, NamedTuple, Optional

import numpy as np

from cnnkit.nn.hooks import HookMixin
from cnnkit.tensor import Tensor, to_array


class Parameter(Tensor):
    """A Tensor that a :class:`Module` registers as a learnable parameter when assigned to an attribute.

    Args:
        data: initial values (float32 for Python data, an array's own float dtype otherwise;
            default None: an empty float32 tensor).
        requires_grad: whether the optimizer should train it (default True).

    Example:
        >>> import cnnkit
        >>> p = cnnkit.nn.Parameter([1.0, 2.0])
        >>> p.requires_grad
        True
    """

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        super().__init__(np.zeros(0, np.float32) if data is None else data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class IncompatibleKeys(NamedTuple):
    """What :meth:`Module.load_state_dict` could not match."""

    missing_keys: list
    unexpected_keys: list


class Module(HookMixin):
    """Base class of every layer and model.

    Subclasses create parameters and sub-modules in ``__init__`` (after calling
    ``super().__init__()``) and implement ``forward``. Call the module, not ``forward``.

    Example:
        >>> import cnnkit
        >>> from cnnkit import nn
        >>> class Affine(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.scale = nn.Parameter([2.0])
        ...     def forward(self, x):
        ...         return x * self.scale
        >>> m = Affine()
        >>> [name for name, _ in m.named_parameters()]
        ['scale']
        >>> m(cnnkit.tensor([3.0]))
        tensor([6.], grad_fn=<MulBackward>)
    """

    training: bool

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Record each module's constructor arguments (for ``Model.save``/``load_model`` configs)."""
        super().__init_subclass__(**kwargs)
        original = cls.__dict__.get("__init__")
        if original is None:
            return

        @functools.wraps(original)
        def __init__(self: "Module", *args: Any, **kw: Any) -> None:
            outermost = "_init_args" not in self.__dict__
            if outermost:
                object.__setattr__(self, "_init_args", None)
            original(self, *args, **kw)
            if outermost:
                object.__setattr__(self, "_init_args", (args, kw))

        cls.__init__ = __init__  # type: ignore[method-assign]

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_backward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_backward_hooks", OrderedDict())
        object.__setattr__(self, "training", True)

    # ------------------------------------------------------------------------ registration
    def _require_init(self, name: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign '{name}' before Module.__init__() was called: call "
                f"super().__init__() first in {type(self).__name__}.__init__"
            )

    def __setattr__(self, name: str, value: Any) -> None:
        params, buffers, modules = (self.__dict__.get(k) for k in ("_parameters", "_buffers", "_modules"))
        if isinstance(value, Parameter):
            self._require_init(name)
            self._register(params, name, value)
        elif isinstance(value, Module):
            self._require_init(name)
            self._register(modules, name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} to parameter '{name}' of "
                    f"{type(self).__name__}: assign a cnnkit.nn.Parameter or None"
                )
            params[name] = None
        elif buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} to buffer '{name}': assign a Tensor or None")
            buffers[name] = value
        elif modules is not None and name in modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as child module '{name}' of "
                    f"{type(self).__name__}: assign a cnnkit.nn.Module or None"
                )
            modules[name] = None
        else:
            object.__setattr__(self, name, value)

    def _register(self, table: "OrderedDict[str, Any]", name: str, value: Any) -> None:
        """Put ``value`` in ``table``; re-assigning a name there keeps its place, as in PyTorch."""
        if name not in table:
            self._forget(name)
        table[name] = value

    def _forget(self, name: str) -> None:
        for table in ("_parameters", "_buffers", "_modules"):
            self.__dict__[table].pop(name, None)
        self.__dict__.pop(name, None)
        self._non_persistent.discard(name)

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: look in the registries.
        for table in ("_parameters", "_buffers", "_modules"):
            registry = self.__dict__.get(table)
            if registry is not None and name in registry:
                return registry[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for table in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__.get(table, {}):
                del self.__dict__[table][name]
                self._non_persistent.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self) -> list:
        extra = [k for t in ("_parameters", "_buffers", "_modules") for k in self.__dict__[t]]
        return sorted(set(super().__dir__()) | set(extra))

    def register_parameter(self, name: str, param: Optional[Parameter]) -> None:
        """Register ``param`` (or None, a declared-but-absent parameter such as a disabled bias)."""
        self._require_init(name)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter('{name}'): expected a Parameter or None, got {type(param).__name__}")
        self._register(self._parameters, name, param)

    def register_buffer(self, name: str, tensor: Optional[Tensor], persistent: bool = True) -> None:
        """Register a non-learnable tensor (e.g. BatchNorm's running mean) saved in ``state_dict``."""
        self._require_init(name)
        if tensor is not None and not isinstance(tensor, Tensor):
            tensor = Tensor(tensor)
        self._register(self._buffers, name, tensor)
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Optional["Module"]) -> None:
        """Register a sub-module under ``name``."""
        self._require_init(name)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module('{name}'): expected a Module, got {type(module).__name__}")
        if not name or "." in name:
            raise ValueError(f"module name must be a non-empty string without '.', got {name!r}")
        self._register(self._modules, name, module)

    register_module = add_module

    # ---------------------------------------------------------------------------- traversal
    def named_modules(self, prefix: str = "", memo: Optional[set] = None) -> Iterator[tuple]:
        """Yield ``(dotted_name, module)`` for this module and every descendant, once each."""
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(f"{prefix}.{name}" if prefix else name, memo)

    def modules(self) -> Iterator["Module"]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple]:
        for name, child in self._modules.items():
            if child is not None:
                yield name, child

    def children(self) -> Iterator["Module"]:
        for _, child in self.named_children():
            yield child

    def _named_members(self, table: str, prefix: str, recurse: bool) -> Iterator[tuple]:
        seen: set = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in module.__dict__[table].items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))  # shared weights are listed once, under their first name
                yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple]:
        """Yield ``(dotted_name, Parameter)`` in registration order."""
        return self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple]:
        return self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn: Callable[["Module"], Any]) -> "Module":
        """Call ``fn`` on every sub-module (children first) and on this module."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------------ modes, grads
    def train(self, mode: bool = True) -> "Module":
        """Set training mode (dropout active, batch statistics) on this module and, through their
        own ``train``, on its children (so a child may override it, e.g. to keep BN frozen)."""
        object.__setattr__(self, "training", bool(mode))
        for child in self.children():
            child.train(mode)
        return self

    def eval(self) -> "Module":
        """Set evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear parameter gradients (set to None, or zero them in place)."""
        from cnnkit.nn.utils import zero_grads

        zero_grads(self.parameters(), set_to_none)

    def to(self, dtype: Any) -> "Module":
        """Convert floating-point parameters and buffers to ``dtype`` in place."""
        dtype = np.dtype(dtype)
        for t in list(self.parameters()) + list(self.buffers()):
            if t.dtype.kind == "f":
                t.data = t.data.astype(dtype)
                if t.grad is not None:
                    t.grad.data = t.grad.data.astype(dtype)
        return self

    def float(self) -> "Module":
        return self.to(np.float32)

    def double(self) -> "Module":
        return self.to(np.float64)

    # --------------------------------------------------------------------------- state dict
    def state_dict(self, prefix: str = "", keep_vars: bool = False) -> "OrderedDict[str, Tensor]":
        """Parameters and persistent buffers by dotted name (detached tensors sharing memory)."""
        out: OrderedDict = OrderedDict()
        for module_prefix, module in self.named_modules(prefix.rstrip(".")):
            base = f"{module_prefix}." if module_prefix else ""
            for name, p in module._parameters.items():
                if p is not None:
                    out[base + name] = p if keep_vars else p.detach()
            for name, b in module._buffers.items():
                if b is not None and name not in module._non_persistent:
                    out[base + name] = b if keep_vars else b.detach()
        return out

    def load_state_dict(self, state_dict: Any, strict: bool = True) -> IncompatibleKeys:
        """Copy values from ``state_dict`` into this module's parameters and buffers.

        Args:
            state_dict: a mapping of dotted names to Tensors or arrays (e.g. from ``state_dict()``).
            strict: raise when keys are missing or unexpected; shape mismatches always raise.

        Returns:
            ``IncompatibleKeys(missing_keys, unexpected_keys)``.

        Raises:
            RuntimeError: listing every missing key, unexpected key and size mismatch by name.
        """
        for module_prefix, module in self.named_modules():
            module._lazy_load(f"{module_prefix}." if module_prefix else "", state_dict)
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        mismatched = []
        staged = []
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = to_array(state_dict[key])
            if value.shape != target.shape:
                mismatched.append(
                    f"size mismatch for {key}: copying a param with shape {value.shape} from "
                    f"checkpoint, the shape in current model is {target.shape}."
                )
            else:
                staged.append((target, value))
        problems = list(mismatched)
        if strict and missing:
            problems.insert(0, "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
        if strict and unexpected:
            problems.insert(0, "Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
        if problems:
            # Nothing is copied unless everything fits: a failed load leaves the model intact.
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(problems)
            )
        for target, value in staged:
            # Copy into the existing storage (PyTorch's copy_): earlier state_dict() views stay live.
            if target.data.flags.writeable:
                np.copyto(target.data, value, casting="unsafe")
            else:
                target.data = value.astype(target.dtype, copy=True)
        return IncompatibleKeys(missing, unexpected)

    def _lazy_load(self, prefix: str, state_dict: Any) -> None:
        """Lazy layers override this to take their sizes from a checkpoint before loading it."""

    # ------------------------------------------------------------------------------- calling
    # ``__call__`` and the ``register_*_hook`` methods come from HookMixin (cnnkit/nn/hooks.py).
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    # ---------------------------------------------------------------------------------- repr
    def extra_repr(self) -> str:
        """The arguments shown inside this module's repr (override in layers)."""
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        lines = []
        extra = self.extra_repr()
        if extra:
            lines.extend(extra.split("\n"))
        for name, child in self._modules.items():
            text = repr(child).replace("\n", "\n  ")
            lines.append(f"({name}): {text}")
        if not lines:
            return f"{self._get_name()}()"
        if len(lines) == 1 and not self._modules:
            return f"{self._get_name()}({lines[0]})"
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"
