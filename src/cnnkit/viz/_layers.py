"""Find a layer in a model and capture what it outputs for one input (shared by the model plots)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Union

import numpy as np

from cnnkit.nn.container import Sequential
from cnnkit.nn.module import Module
from cnnkit.tensor import Tensor

LayerRef = Union[Module, int, str]


def as_module(model: Any, caller: str) -> Module:
    """The network of a cnnkit Module or of a compiled ``cnnkit.Model`` (its ``.module``)."""
    if isinstance(model, Module):
        return model
    inner = getattr(model, "module", None)
    if isinstance(inner, Module):
        return inner
    raise TypeError(f"{caller}: model must be a cnnkit.nn.Module or a cnnkit.Model, got {type(model).__name__}")


def resolve_layer(module: Module, layer: LayerRef, caller: str) -> tuple:
    """``(name, submodule)`` for a module instance, an index into a Sequential, or a dotted name.

    Raises:
        ValueError / IndexError / TypeError: listing the valid names (or the valid index range).
    """
    named = [(name, m) for name, m in module.named_modules() if name]
    listing = ", ".join(repr(name) for name, _ in named) or "(the model has no submodules)"
    if isinstance(layer, Module):
        for name, m in named:
            if m is layer:
                return name, m
        if layer is module:
            return "", module
        raise ValueError(f"{caller}: the given {type(layer).__name__} is not a submodule of the model; "
                         f"pass one of its layers or a name: {listing}")
    if isinstance(layer, (int, np.integer)) and not isinstance(layer, bool):
        if not isinstance(module, Sequential):
            raise TypeError(f"{caller}: an integer layer index needs a Sequential model, got "
                            f"{type(module).__name__}; pass a dotted name instead: {listing}")
        n = len(module)
        if not -n <= layer < n:
            raise IndexError(f"{caller}: layer index {layer} is out of range for a Sequential of {n} layers "
                             f"(valid: {-n}..{n - 1})")
        index = int(layer) % n
        child = module[index]
        return next((name for name, m in named if m is child), str(index)), child
    if isinstance(layer, str):
        for name, m in named:
            if name == layer:
                return name, m
        raise ValueError(f"{caller}: no layer named {layer!r}; valid names: {listing}")
    raise TypeError(f"{caller}: layer must be a Module, an int index or a dotted name, got {type(layer).__name__}")


@contextmanager
def eval_mode(module: Module) -> Iterator[None]:
    """Evaluation mode (dropout off, BatchNorm on running statistics) for the block, then restore."""
    modes = [(m, m.training) for m in module.modules()]
    try:
        module.eval()
        yield
    finally:
        for m, mode in modes:
            object.__setattr__(m, "training", mode)


def param_dtype(module: Module) -> np.dtype:
    """The floating dtype of the model's parameters (float32 when it has none)."""
    return next((p.dtype for p in module.parameters() if p.dtype.kind == "f"), np.dtype(np.float32))


class _Captured(Exception):
    """Raised by the capture hook to end the forward pass once the layer has run (not a ValueError,
    so Sequential's error explainer lets it through)."""


def capture(module: Module, target: Module, x: Tensor, name: str, caller: str) -> Tensor:
    """Run ``module(x)`` up to ``target`` and return its output, via a forward hook removed afterwards.

    The pass stops right after ``target`` (later layers are not needed), so a model whose tail
    cannot run on this input can still be inspected up to that layer.
    """
    seen: list = []

    def hook(layer: Module, args: tuple, out: Any) -> None:
        seen.append(out)
        raise _Captured

    handle = target.register_forward_hook(hook)
    try:
        module(x)
    except _Captured:
        pass
    finally:
        handle.remove()
    if not seen:
        raise RuntimeError(f"{caller}: layer {name!r} was not called during the forward pass, so it has no "
                           f"output to show (it may be unused by the model's forward())")
    out = seen[0]
    if not isinstance(out, Tensor):
        raise TypeError(f"{caller}: layer {name!r} returned {type(out).__name__}, not a single Tensor")
    return out
