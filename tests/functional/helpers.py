"""Shared checks of the functional tests: tensor construction, gradcheck and PyTorch parity."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

import cnnkit

from . import references as R


def ck(a: Any, grad: bool = False, dtype: Any = None) -> cnnkit.Tensor:
    """A cnnkit tensor from array-like ``a`` (optionally cast and requiring grad)."""
    a = np.asarray(a)
    if dtype is not None:
        a = a.astype(dtype)
    return cnnkit.tensor(a, requires_grad=grad)


def gradcheck(fn: Callable, *inputs: Any) -> None:
    """float64 central differences at the suite's tolerances; prints the report on failure."""
    result = cnnkit.gradcheck(fn, list(inputs), eps=1e-6, rtol=1e-5, atol=1e-8)
    assert result.passed, str(result)


def parity(torch: Any, ck_fn: Callable, t_fn: Callable, arrays: Sequence[Any], seed: int = 0,
           grad_tol: float = 1e-4, fixed: Sequence[Any] = ()) -> None:
    """float32 forward (rel ≤ 1e-5) and gradients of every array in ``arrays`` (rel ≤ ``grad_tol``)
    against PyTorch, with one random upstream gradient given to both backward calls; ``fixed`` are
    extra non-differentiable arguments (labels, weights; None passes through)."""
    arrays = [np.asarray(a, dtype=np.float32) for a in arrays]
    c_in = [cnnkit.tensor(a.copy(), requires_grad=True) for a in arrays]
    t_in = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    c_fixed = [None if f is None else cnnkit.tensor(np.asarray(f)) for f in fixed]
    t_fixed = [None if f is None else torch.tensor(np.asarray(f)) for f in fixed]
    c_out, t_out = ck_fn(*c_in, *c_fixed), t_fn(*t_in, *t_fixed)
    t_np = t_out.detach().numpy()
    assert c_out.shape == tuple(t_np.shape)
    assert c_out.dtype == np.float32
    assert R.rel_err(c_out.numpy(), t_np) <= 1e-5
    g = np.asarray(np.random.default_rng(seed).standard_normal(t_np.shape), dtype=np.float32)
    c_out.backward(cnnkit.tensor(g))
    t_out.backward(torch.tensor(g))
    for i, (c, t) in enumerate(zip(c_in, t_in)):
        assert c.grad is not None, f"no gradient for input {i}"
        assert c.grad.dtype == np.float32, f"gradient of input {i} has dtype {c.grad.dtype}"
        assert R.rel_err(c.grad.numpy(), t.grad.numpy()) <= grad_tol, f"gradient of input {i}"
