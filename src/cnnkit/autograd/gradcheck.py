"""Compare analytic gradients with centred finite differences in float64.

The checked objective is ``L = sum_k <output_k, v_k>`` with a random upstream gradient ``v_k``
for each non-scalar output: with ``.sum()`` instead, a wrong transpose or a swapped pair of
gradients could cancel out and pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from cnnkit.autograd import engine
from cnnkit.autograd.grad_mode import no_grad


class GradcheckError(AssertionError):
    """Raised by :func:`gradcheck` with ``raise_exception=True`` when a gradient is wrong."""


@dataclass
class InputCheck:
    """The comparison for one checked input or parameter."""

    name: str
    shape: tuple
    passed: bool
    max_abs_error: float
    max_rel_error: float
    worst_index: tuple
    analytic: float
    numerical: float

    def describe(self) -> str:
        verdict = "ok" if self.passed else "MISMATCH"
        return (
            f"{self.name} {self.shape}: {verdict}; max abs error {self.max_abs_error:.3g}, max rel "
            f"error {self.max_rel_error:.3g}; worst element {self.worst_index}: analytic "
            f"{self.analytic:.10g} vs numerical {self.numerical:.10g}"
        )


@dataclass
class GradcheckResult:
    """The outcome of :func:`gradcheck`; truthy when every input passed."""

    passed: bool
    inputs: list = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        head = "gradcheck passed" if self.passed else "gradcheck FAILED"
        return head + "".join("\n  " + c.describe() for c in self.inputs)


def _as_outputs(value: Any) -> list:
    items = list(value) if isinstance(value, (tuple, list)) else [value]
    return [t for t in items if hasattr(t, "creator") and t.dtype.kind == "f"]


def _objective(fn: Callable, args: list, upstream: list) -> float:
    with no_grad():
        outs = _as_outputs(fn(*args))
    return float(sum(np.vdot(o.data.astype(np.float64), v) for o, v in zip(outs, upstream)))


def gradcheck(
    fn: Callable,
    inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-8,
    rtol: float = 1e-5,
    raise_exception: bool = False,
    seed: int = 0,
    fast_mode: bool = False,
) -> GradcheckResult:
    """Check ``fn``'s gradients against centred finite differences, in float64.

    Args:
        fn: a callable taking ``inputs`` and returning a Tensor or a tuple of Tensors. When it
            has ``named_parameters()`` (a Module), its parameters are checked too, by name.
        inputs: a Tensor or a sequence of Tensors/arrays/numbers. Tensors that require grad,
            and floating-point non-Tensor values, are checked; they are cast to float64 copies,
            so the caller's tensors are never modified.
        eps: finite-difference step.
        atol, rtol: an element passes when ``|analytic - numerical| <= atol + rtol * |numerical|``.
        raise_exception: raise :class:`GradcheckError` naming the input and element on failure.
        seed: seed of the random upstream gradients (and directions in fast mode).
        fast_mode: compare one random directional derivative per input instead of every
            element (Chainer's check: one pair of evaluations per input, for large inputs).

    Returns:
        A :class:`GradcheckResult` with ``.passed`` and a per-input :class:`InputCheck`.

    Example:
        >>> import cnnkit
        >>> x = cnnkit.randn(3, 4, dtype="float64", requires_grad=True)
        >>> cnnkit.gradcheck(lambda t: (t * t).sum(1), x).passed
        True
    """
    from cnnkit.tensor import Tensor

    rng = np.random.default_rng(seed)
    raw = list(inputs) if isinstance(inputs, (tuple, list)) else [inputs]
    args, checked = [], []
    for i, value in enumerate(raw):
        if isinstance(value, Tensor):
            wants = value.requires_grad
            data = value.data.astype(np.float64) if value.dtype.kind == "f" else value.data
        else:
            data = np.asarray(value)
            wants = data.dtype.kind == "f"
            data = data.astype(np.float64) if wants else data
        # C order: the elementwise loop edits the input through a flat view, never a copy.
        t = Tensor(np.array(data, copy=True, order="C"), requires_grad=wants)
        args.append(t)
        if wants:
            checked.append((f"input {i}", t))

    params = list(fn.named_parameters()) if hasattr(fn, "named_parameters") else []
    saved = [(p, p.data, p.grad) for _, p in params]
    try:
        for name, p in params:
            p.data = np.array(p.data, dtype=np.float64, order="C")
            p.grad = None
            if p.requires_grad:
                checked.append((f"parameter '{name}'", p))
        if not checked:
            raise ValueError(
                "gradcheck: nothing to check; give at least one floating-point input with "
                "requires_grad=True (or a module with parameters)"
            )
        result = _run(fn, args, checked, eps, atol, rtol, rng, fast_mode)
    finally:
        for p, data, grad in saved:
            p.data, p.grad = data, grad
    if raise_exception and not result.passed:
        raise GradcheckError(str(result))
    return result


def _run(fn: Callable, args: list, checked: list, eps: float, atol: float, rtol: float,
         rng: np.random.Generator, fast_mode: bool) -> GradcheckResult:
    outputs = _as_outputs(fn(*args))
    if not outputs:
        raise ValueError("gradcheck: fn must return a floating-point Tensor or a tuple of them")
    upstream = [np.ones(o.shape) if o.size == 1 else rng.standard_normal(o.shape) for o in outputs]
    roots = [(o, v) for o, v in zip(outputs, upstream) if o.requires_grad]
    if roots:
        engine.backward([o for o, _ in roots], [v.astype(o.dtype) for o, v in roots])

    checks = []
    for name, t in checked:
        analytic = np.zeros(t.shape) if t.grad is None else t.grad.data.astype(np.float64)
        if fast_mode:
            direction = rng.standard_normal(t.shape)
            numerical = np.array([_directional(fn, args, upstream, t, direction, eps)])
            analytic = np.array([np.vdot(analytic, direction)])
        else:
            numerical = np.zeros(t.shape)
            flat = t.data.reshape(-1)  # a view: editing it edits the input in place
            for k in range(flat.size):
                original = flat[k]
                flat[k] = original + eps
                plus = _objective(fn, args, upstream)
                flat[k] = original - eps
                minus = _objective(fn, args, upstream)
                flat[k] = original
                numerical.reshape(-1)[k] = (plus - minus) / (2 * eps)
        checks.append(_compare(name, t.shape, analytic, numerical, atol, rtol))
    return GradcheckResult(passed=all(c.passed for c in checks), inputs=checks)


def _directional(fn: Callable, args: list, upstream: list, t: Any, direction: np.ndarray,
                 eps: float) -> float:
    original = t.data.copy()
    try:
        t.data = original + eps * direction
        plus = _objective(fn, args, upstream)
        t.data = original - eps * direction
        minus = _objective(fn, args, upstream)
    finally:
        t.data = original
    return (plus - minus) / (2 * eps)


def _compare(name: str, shape: tuple, analytic: np.ndarray, numerical: np.ndarray,
             atol: float, rtol: float) -> InputCheck:
    error = np.abs(analytic - numerical)
    bound = atol + rtol * np.abs(numerical)
    nan_mismatch = np.isnan(analytic) != np.isnan(numerical)
    failing = (error > bound) | nan_mismatch
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(np.abs(numerical) > 0, error / np.abs(numerical), np.where(error > 0, np.inf, 0))
        score = np.where(failing, np.inf, 0) + np.nan_to_num(error / bound, nan=np.inf)
    worst = np.unravel_index(int(np.argmax(score)), analytic.shape) if analytic.size else ()
    return InputCheck(
        name=name,
        shape=tuple(shape),
        passed=not bool(failing.any()),
        max_abs_error=float(np.nanmax(error)) if error.size else 0.0,
        max_rel_error=float(np.nanmax(relative)) if relative.size else 0.0,
        worst_index=tuple(int(i) for i in worst),
        analytic=float(analytic[worst]) if analytic.size else 0.0,
        numerical=float(numerical[worst]) if numerical.size else 0.0,
    )
