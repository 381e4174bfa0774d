"""Handles for module hooks (forward pre-hooks and forward hooks, as in PyTorch)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any


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
