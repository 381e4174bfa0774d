"""Binary elementwise ops with NumPy broadcasting on both sides.

Gradients are summed back to each input's shape with :func:`unbroadcast`. Ties in
``Maximum``/``Minimum`` send half the gradient to each input, as PyTorch does.
"""

from __future__ import annotations

import numpy as np

from cnnkit.autograd.function import Function
from cnnkit.ops._broadcast import unbroadcast


class _Binary(Function):
    def _shapes(self, a: np.ndarray, b: np.ndarray) -> None:
        self.shape_a, self.shape_b = a.shape, b.shape

    def _grads(self, ga: np.ndarray | None, gb: np.ndarray | None) -> tuple:
        return (
            None if ga is None else unbroadcast(ga, self.shape_a),
            None if gb is None else unbroadcast(gb, self.shape_b),
        )


class Add(_Binary):
    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self._shapes(a, b)
        return a + b

    def backward(self, grad_out: np.ndarray) -> tuple:
        return self._grads(grad_out, grad_out)


class Sub(_Binary):
    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self._shapes(a, b)
        return a - b

    def backward(self, grad_out: np.ndarray) -> tuple:
        return self._grads(grad_out, -grad_out if self.needs_input_grad[1] else None)


class Mul(_Binary):
    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self._shapes(a, b)
        self.save_for_backward(a, b)
        return a * b

    def backward(self, grad_out: np.ndarray) -> tuple:
        a, b = self.saved
        need_a, need_b = self.needs_input_grad
        # The slides' "swap multiplier": each input's gradient is the other input.
        return self._grads(grad_out * b if need_a else None, grad_out * a if need_b else None)


class Div(_Binary):
    saves_output = True

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self._shapes(a, b)
        out = a / b
        self.save_for_backward(b, out)
        return out

    def backward(self, grad_out: np.ndarray) -> tuple:
        b, out = self.saved
        ga = grad_out / b
        gb = -ga * out if self.needs_input_grad[1] else None
        return self._grads(ga if self.needs_input_grad[0] else None, gb)


class Pow(_Binary):
    """``a ** b`` with a tensor exponent (a scalar exponent uses :class:`PowScalar`)."""

    saves_output = True

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self._shapes(a, b)
        out = np.power(a, b)
        self.save_for_backward(a, b, out)
        return out

    def backward(self, grad_out: np.ndarray) -> tuple:
        a, b, out = self.saved
        ga = gb = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.needs_input_grad[0]:
                # d/da a^b = b·a^(b−1), defined as 0 where b == 0 (a^0 is flat in a), as PyTorch.
                ga = np.where(b == 0, 0, grad_out * b * np.power(a, b - 1))
            if self.needs_input_grad[1]:
                # d/db a^b = a^b log a; defined as 0 where a == 0 and b >= 0 (0^b is flat in b).
                gb = grad_out * np.where((a == 0) & (b >= 0), 0, out * np.log(a))
        return self._grads(ga, gb)


class PowScalar(Function):
    """``a ** p`` for a Python number ``p``."""

    def forward(self, a: np.ndarray, exponent: float) -> np.ndarray:
        self.exponent = exponent
        self.save_for_backward(a)
        return np.power(a, a.dtype.type(exponent) if a.dtype.kind == "f" else exponent)

    def backward(self, grad_out: np.ndarray) -> tuple:
        (a,) = self.saved
        p = self.exponent
        if p == 0:
            return (np.zeros_like(a),)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (grad_out * (p * np.power(a, a.dtype.type(p - 1))),)


class _Extremum(_Binary):
    # The slides' max gate routes the gradient to the winner; a tie splits it in half.
    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self._shapes(a, b)
        self.save_for_backward(a, b)
        return self._pick(a, b)

    def backward(self, grad_out: np.ndarray) -> tuple:
        a, b = self.saved
        wins_a = self._beats(a, b)
        share = np.where(a == b, grad_out * 0.5, grad_out)
        ga = np.where(wins_a | (a == b), share, 0) if self.needs_input_grad[0] else None
        gb = np.where(~wins_a | (a == b), share, 0) if self.needs_input_grad[1] else None
        return self._grads(ga, gb)


class Maximum(_Extremum):
    @staticmethod
    def _pick(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.maximum(a, b)

    @staticmethod
    def _beats(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a > b


class Minimum(_Extremum):
    @staticmethod
    def _pick(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.minimum(a, b)

    @staticmethod
    def _beats(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a < b


class Where(_Binary):
    """``condition ? a : b``; the boolean condition is an option, not a differentiable input."""


    def forward(self, a: np.ndarray, b: np.ndarray, condition: np.ndarray) -> np.ndarray:
        self._shapes(a, b)
        self.save_for_backward(condition)
        return np.where(condition, a, b)

    def backward(self, grad_out: np.ndarray) -> tuple:
        (condition,) = self.saved
        zero = np.zeros((), dtype=grad_out.dtype)
        ga = np.where(condition, grad_out, zero) if self.needs_input_grad[0] else None
        gb = np.where(condition, zero, grad_out) if self.needs_input_grad[1] else None
        return self._grads(ga, gb)
