"""Containers and structural layers: Sequential, ModuleList, ModuleDict, Identity, Flatten."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Iterable, Iterator, Optional, Union

from cnnkit.nn.module import Module
from cnnkit.tensor import Tensor


def _index(idx: int, length: int, what: str) -> int:
    if not -length <= idx < length:
        raise IndexError(f"{what}: index {idx} is out of range for {length} modules")
    return idx % length


def _delete_and_renumber(container: Module, idx: Union[int, slice], what: str, renumber: bool) -> None:
    """Delete by position; renumber "0", "1", ... keys so a later append cannot reuse a live key."""
    keys = list(container._modules)
    targets = keys[idx] if isinstance(idx, slice) else [keys[_index(idx, len(keys), what)]]
    for key in targets:
        del container._modules[key]
    if renumber:
        items = list(container._modules.values())
        container._modules.clear()
        for i, module in enumerate(items):
            container._modules[str(i)] = module


def _insert(container: Module, index: int, module: Module) -> None:
    if not isinstance(module, Module):
        raise TypeError(f"{type(container).__name__}.insert: expected a Module, got {type(module).__name__}")
    items = list(container._modules.values())
    length = len(items)
    if not -length <= index <= length:
        raise IndexError(f"{type(container).__name__}.insert: index {index} is out of range for {length} modules")
    items.insert(index, module)  # a negative index counts from the end, as list.insert does
    container._modules.clear()
    for i, m in enumerate(items):
        container.add_module(str(i), m)


class Sequential(Module):
    """A chain of modules applied one after another: ``Sequential(a, b)(x) == b(a(x))``.

    Built from modules (named ``"0"``, ``"1"``, ...) or from one ``OrderedDict`` of names to
    modules, as PyTorch. Indexing gives a module, slicing a new ``Sequential`` sharing the same
    modules. Unlike PyTorch, a shape error inside a layer is re-raised with the shapes seen by
    every earlier layer and the likely cause (e.g. an image size the model was not built for).

    Args:
        *args: the modules in order, or a single ``OrderedDict`` of ``name: module``.

    Shape:
        Input: whatever the first module accepts; output: whatever the last one returns.

    Example:
        >>> import cnnkit
        >>> net = cnnkit.nn.Sequential(cnnkit.nn.Flatten(), cnnkit.nn.Linear(12, 2))
        >>> len(net), type(net[0]).__name__, net(cnnkit.zeros(4, 3, 4)).shape
        (2, 'Flatten', (4, 2))
    """

    def __init__(self, *args: Any) -> None:
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, module in args[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(args):
                if not isinstance(module, Module):
                    raise TypeError(f"Sequential: argument {i} is a {type(module).__name__}, not a Module")
                self.add_module(str(i), module)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, idx: Union[int, slice, str]) -> Any:
        if isinstance(idx, slice):
            return Sequential(OrderedDict(list(self._modules.items())[idx]))
        if isinstance(idx, str):
            return self._modules[idx]
        return list(self._modules.values())[_index(idx, len(self), "Sequential")]

    def __setitem__(self, idx: int, module: Module) -> None:
        key = list(self._modules)[_index(idx, len(self), "Sequential")]
        self.add_module(key, module)

    def __delitem__(self, idx: Union[int, slice]) -> None:
        _delete_and_renumber(self, idx, "Sequential", renumber=all(k.isdigit() for k in self._modules))

    def append(self, module: Module) -> "Sequential":
        """Add ``module`` at the end (named by its position)."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> "Sequential":
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> "Sequential":
        """Insert ``module`` before position ``index`` (keys are renumbered)."""
        _insert(self, index, module)
        return self

    def pop(self, index: int = -1) -> Module:
        """Remove and return the module at ``index``."""
        module = self[index]
        del self[index]
        return module

    def forward(self, x: Any) -> Any:
        modules = list(self._modules.values())
        trace: list = []
        for index, module in enumerate(modules):
            trace.append(getattr(x, "shape", ()))
            try:
                x = module(x)
            except ValueError as error:
                if getattr(error, "_cnnkit_explained", False):
                    raise
                from cnnkit.nn._diagnose import explain

                explained = ValueError(explain(modules, index, trace, error))
                explained._cnnkit_explained = True  # type: ignore[attr-defined]
                raise explained from error
        return x


class ModuleList(Module):
    """A list of modules whose parameters are registered (unlike a plain Python list), as PyTorch.

    Supports indexing, slicing (a new ``ModuleList``), ``append``, ``extend``, ``insert``,
    ``pop``, ``del`` and iteration; keys are renumbered ``"0"``, ``"1"``, ... after deletions.

    Args:
        modules: an iterable of modules to append (default None: empty).

    Shape:
        Not applicable: it has no ``forward`` of its own (calling it raises
        ``NotImplementedError``); iterate over it in your module's ``forward``.

    Example:
        >>> import cnnkit
        >>> layers = cnnkit.nn.ModuleList([cnnkit.nn.Linear(2, 2) for _ in range(3)])
        >>> len(layers), len(list(layers.parameters()))
        (3, 6)
    """

    def __init__(self, modules: Optional[Iterable[Module]] = None) -> None:
        super().__init__()
        for m in modules or ():
            self.append(m)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, idx: Union[int, slice]) -> Any:
        values = list(self._modules.values())
        if isinstance(idx, slice):
            return ModuleList(values[idx])
        return values[_index(idx, len(self), "ModuleList")]

    def __setitem__(self, idx: int, module: Module) -> None:
        self.add_module(str(_index(idx, len(self), "ModuleList")), module)

    def __delitem__(self, idx: Union[int, slice]) -> None:
        _delete_and_renumber(self, idx, "ModuleList", renumber=True)

    def append(self, module: Module) -> "ModuleList":
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> "ModuleList":
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert ``module`` before position ``index``."""
        _insert(self, index, module)

    def pop(self, index: int = -1) -> Module:
        """Remove and return the module at ``index``."""
        module = self[index]
        del self[index]
        return module

    def forward(self, *args: Any) -> Any:
        raise NotImplementedError("ModuleList holds modules; iterate over it in your forward()")


class ModuleDict(Module):
    """A dict of modules whose parameters are registered, kept in insertion order, as PyTorch.

    Args:
        modules: a mapping, or an iterable of ``(name, module)`` pairs (default None: empty).

    Shape:
        Not applicable: it has no ``forward`` of its own (calling it raises
        ``NotImplementedError``); look modules up in your module's ``forward``.

    Example:
        >>> import cnnkit
        >>> heads = cnnkit.nn.ModuleDict({"act": cnnkit.nn.ReLU(), "out": cnnkit.nn.Linear(4, 2)})
        >>> list(heads), "out" in heads
        (['act', 'out'], True)
    """

    def __init__(self, modules: Optional[Any] = None) -> None:
        super().__init__()
        for name, m in dict(modules or {}).items():
            self.add_module(name, m)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def keys(self) -> Iterable[str]:
        return self._modules.keys()

    def values(self) -> Iterable[Module]:
        return self._modules.values()

    def items(self) -> Iterable[tuple]:
        return self._modules.items()

    def forward(self, *args: Any) -> Any:
        raise NotImplementedError("ModuleDict holds modules; look them up in your forward()")


class Identity(Module):
    """Identity ``f(x) = x``: returns its input unchanged (the slides' identity activation).

    Args:
        *args, **kwargs: accepted and ignored, for PyTorch compatibility.

    Shape:
        Input: anything; output: the same object.

    Example:
        >>> import cnnkit
        >>> x = cnnkit.ones(2)
        >>> cnnkit.nn.Identity(54, unused="ignored")(x) is x
        True
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Any) -> Any:
        return x


class Flatten(Module):
    """Flatten dimensions ``start_dim..end_dim`` into one (default: everything but the batch).

    Args:
        start_dim: first dimension to flatten (default 1).
        end_dim: last dimension to flatten, inclusive (default −1).

    Shape:
        Input ``(N, *dims)``; output ``(N, prod(dims))`` with the defaults.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.Flatten()(cnnkit.zeros(2, 3, 4, 5)).shape
        (2, 60)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dimension ``dim`` into ``unflattened_size`` (the inverse of :class:`Flatten`).

    Args:
        dim: the dimension to split (negative counts from the end).
        unflattened_size: the new sizes, whose product is the size of ``dim`` (one may be −1).

    Shape:
        Input ``(*before, S, *after)``; output ``(*before, *unflattened_size, *after)``, with
        ``S = prod(unflattened_size)``.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.Unflatten(1, (3, 4))(cnnkit.zeros(2, 12)).shape
        (2, 3, 4)
    """

    def __init__(self, dim: int, unflattened_size: tuple) -> None:
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, x: Tensor) -> Tensor:
        from cnnkit._dims import normalize_dim

        d = normalize_dim(self.dim, x.ndim)
        return x.reshape(x.shape[:d] + self.unflattened_size + x.shape[d + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
