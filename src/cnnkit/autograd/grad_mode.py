"""Global switches of the autograd engine: grad recording and anomaly detection.

They are process-wide flags (not thread-local): cnnkit's graph is built from Python on one
thread, and NumPy-level threading inside kernels never records graph nodes.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_state = {"grad_enabled": True, "anomaly": False}


def is_grad_enabled() -> bool:
    """Return True when operations record the graph needed by ``backward``."""
    return _state["grad_enabled"]


def is_anomaly_enabled() -> bool:
    """Return True inside :func:`cnnkit.detect_anomaly`."""
    return _state["anomaly"]


class _FlagContext:
    """A context manager that is also a decorator and restores the previous value on exit."""

    _key = ""

    def __init__(self, value: bool) -> None:
        self._value = value
        self._previous: list[bool] = []

    def __enter__(self) -> "_FlagContext":
        self._previous.append(_state[self._key])
        _state[self._key] = self._value
        return self

    def __exit__(self, *exc: object) -> None:
        _state[self._key] = self._previous.pop()

    def __call__(self, func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with _clone(self):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def _clone(ctx: _FlagContext) -> _FlagContext:
    # A fresh context per call keeps a decorated function re-entrant (recursion, threads).
    new = ctx.__class__.__new__(ctx.__class__)
    _FlagContext.__init__(new, ctx._value)
    return new


class set_grad_enabled(_FlagContext):
    """Turn graph recording on or off inside a ``with`` block or a decorated function.

    Args:
        mode: True to record operations for ``backward``, False not to.

    Example:
        >>> import cnnkit
        >>> x = cnnkit.tensor([1.0], requires_grad=True)
        >>> with cnnkit.set_grad_enabled(False):
        ...     (x * 2).requires_grad
        False
    """

    _key = "grad_enabled"

    def __init__(self, mode: bool) -> None:
        super().__init__(bool(mode))
        if type(self) is set_grad_enabled:
            # As in PyTorch, ``cnnkit.set_grad_enabled(False)`` alone switches the mode at once;
            # used with ``with`` or as a decorator, the previous mode comes back afterwards.
            self._construct_prev = _state[self._key]
            _state[self._key] = self._value

    def __enter__(self) -> "_FlagContext":
        if "_construct_prev" in self.__dict__:
            self._previous.append(self.__dict__.pop("_construct_prev"))
            return self
        return super().__enter__()

    def __call__(self, func: F) -> F:
        if "_construct_prev" in self.__dict__:
            _state[self._key] = self.__dict__.pop("_construct_prev")
        return super().__call__(func)


class no_grad(set_grad_enabled):
    """Disable graph recording (inference, weight updates). Works as ``with`` and as a decorator.

    Example:
        >>> import cnnkit
        >>> x = cnnkit.tensor([1.0], requires_grad=True)
        >>> with cnnkit.no_grad():
        ...     y = x * 2
        >>> y.requires_grad
        False
    """

    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Re-enable graph recording inside a :class:`no_grad` region."""

    def __init__(self) -> None:
        super().__init__(True)


class detect_anomaly(_FlagContext):
    """Find the first operation that produces NaN or Inf, forward or backward.

    Inside the block every op checks its forward output and, during ``backward``, every
    gradient it returns. The first non-finite value raises :class:`AnomalyError` naming the op
    and the line of user code that created it. It slows everything down: use it to debug.

    Example:
        >>> import cnnkit
        >>> x = cnnkit.tensor([0.0, 1.0], requires_grad=True)
        >>> with cnnkit.detect_anomaly():
        ...     y = x.log()  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        cnnkit.autograd.grad_mode.AnomalyError: ...
    """

    _key = "anomaly"

    def __init__(self, enabled: bool = True) -> None:
        super().__init__(bool(enabled))


class AnomalyError(RuntimeError):
    """Raised inside :class:`detect_anomaly` when an op produces NaN or Inf."""
