"""Fused loss ops: each computes its loss and its gradient in closed form, stably.

Inputs arrive flattened to ``(M, C)`` rows (the functional layer moves the class dim last), and
reductions follow PyTorch: ``mean`` divides by the summed weights of the non-ignored targets.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from cnnkit.autograd.function import Function


def _log_softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def _reduce(per_row: np.ndarray, reduction: str, denominator: float) -> np.ndarray:
    if reduction == "none":
        return per_row
    total = per_row.sum()
    return np.asarray(total if reduction == "sum" else total / per_row.dtype.type(denominator), dtype=per_row.dtype)


def _spread(grad_out: np.ndarray, reduction: str, denominator: float, rows: int) -> np.ndarray:
    """The upstream gradient of each row's loss, as a column ``(M, 1)``."""
    if reduction == "none":
        return grad_out.reshape(rows, 1)
    scale = grad_out if reduction == "sum" else grad_out / grad_out.dtype.type(denominator)
    return np.broadcast_to(scale.reshape(1, 1), (rows, 1))


def _reduce_elementwise(per: np.ndarray, reduction: str) -> np.ndarray:
    """Reduce an elementwise loss of any shape (``'none'`` keeps the shape)."""
    return per if reduction == "none" else _reduce(per.reshape(-1), reduction, per.size)


def _upstream_elementwise(grad_out: np.ndarray, reduction: str, size: int) -> np.ndarray:
    """The upstream gradient of each element of an elementwise loss."""
    if reduction == "none" or reduction == "sum":
        return grad_out
    return grad_out / grad_out.dtype.type(size)


class CrossEntropyIndex(Function):
    """Softmax cross-entropy with class-index targets, ``weight``, ``ignore_index``, ``label_smoothing``."""

    def forward(self, z: np.ndarray, target: np.ndarray, weight: Optional[np.ndarray], ignore_index: int,
                label_smoothing: float, reduction: str) -> np.ndarray:
        rows, classes = z.shape
        logp = _log_softmax(z)
        keep = target != ignore_index
        safe = np.where(keep, target, 0)
        w = np.ones(classes, dtype=z.dtype) if weight is None else weight.astype(z.dtype, copy=False)
        w_target = np.where(keep, w[safe], 0).astype(z.dtype, copy=False)
        nll = -logp[np.arange(rows), safe] * w_target
        eps = z.dtype.type(label_smoothing)
        per_row = (1 - eps) * nll
        if label_smoothing:
            per_row = per_row + eps / classes * np.where(keep, -(logp * w).sum(axis=1), 0)
        self.denominator = float(w_target.sum())
        self.options = (reduction, eps, classes)
        self.save_for_backward(logp, safe, keep, w, w_target)
        return _reduce(per_row, reduction, self.denominator)

    def backward(self, grad_out: np.ndarray) -> tuple:
        logp, safe, keep, w, w_target = self.saved
        reduction, eps, classes = self.options
        rows = logp.shape[0]
        p = np.exp(logp)
        # d/dz of (1−ε)·w_y·(−log p_y) + (ε/C)·Σ_c w_c·(−log p_c)
        grad = (1 - eps) * w_target[:, None] * p
        grad[np.arange(rows), safe] -= (1 - eps) * w_target
        if eps:
            grad += (eps / classes) * (w.sum() * p - w) * keep[:, None]
        return grad * _spread(grad_out, reduction, self.denominator, rows), None


class CrossEntropyProbs(Function):
    """Softmax cross-entropy against class probabilities (soft labels); the target may require grad."""

    def forward(self, z: np.ndarray, target: np.ndarray, weight: Optional[np.ndarray],
                label_smoothing: float, reduction: str) -> np.ndarray:
        rows, classes = z.shape
        logp = _log_softmax(z)
        eps = z.dtype.type(label_smoothing)
        smoothed = target * (1 - eps) + eps / classes
        w = np.ones(classes, dtype=z.dtype) if weight is None else weight.astype(z.dtype, copy=False)
        per_row = -(w * smoothed * logp).sum(axis=1)
        self.options = (reduction, eps)
        self.save_for_backward(logp, smoothed, w)
        return _reduce(per_row, reduction, rows)

    def backward(self, grad_out: np.ndarray) -> tuple:
        logp, smoothed, w = self.saved
        reduction, eps = self.options
        rows = logp.shape[0]
        upstream = _spread(grad_out, reduction, rows, rows)
        weighted = w * smoothed
        gz = (weighted.sum(axis=1, keepdims=True) * np.exp(logp) - weighted) * upstream
        gt = -(w * logp) * (1 - eps) * upstream if self.needs_input_grad[1] else None
        return gz, gt


class NLL(Function):
    """Negative log-likelihood of log-probabilities ``x`` at class-index targets."""

    def forward(self, x: np.ndarray, target: np.ndarray, weight: Optional[np.ndarray], ignore_index: int,
                reduction: str) -> np.ndarray:
        rows, classes = x.shape
        keep = target != ignore_index
        safe = np.where(keep, target, 0)
        w = np.ones(classes, dtype=x.dtype) if weight is None else weight.astype(x.dtype, copy=False)
        w_target = np.where(keep, w[safe], 0).astype(x.dtype, copy=False)
        self.denominator = float(w_target.sum())
        self.reduction, self.shape = reduction, x.shape
        self.save_for_backward(safe, w_target)
        return _reduce(-x[np.arange(rows), safe] * w_target, reduction, self.denominator)

    def backward(self, grad_out: np.ndarray) -> tuple:
        safe, w_target = self.saved
        rows = self.shape[0]
        grad = np.zeros(self.shape, dtype=grad_out.dtype)
        upstream = _spread(grad_out, self.reduction, self.denominator, rows)[:, 0]
        grad[np.arange(rows), safe] = -w_target * upstream  # one entry per row: no repeats
        return grad, None


class BinaryCrossEntropy(Function):
    """``−w·(t·log x + (1 − t)·log(1 − x))`` on probabilities, logs clamped at −100 as PyTorch."""

    def forward(self, x: np.ndarray, t: np.ndarray, weight: Optional[np.ndarray], reduction: str) -> np.ndarray:
        with np.errstate(divide="ignore"):
            log_x = np.maximum(np.log(x), -100)
            log_1mx = np.maximum(np.log1p(-x), -100)
        w = 1 if weight is None else weight
        per = -w * (t * log_x + (1 - t) * log_1mx)
        self.reduction, self.weight = reduction, weight
        self.save_for_backward(x, t, log_x, log_1mx)
        return _reduce_elementwise(per, reduction)

    def backward(self, grad_out: np.ndarray) -> tuple:
        x, t, log_x, log_1mx = self.saved
        w = 1 if self.weight is None else self.weight
        upstream = _upstream_elementwise(grad_out, self.reduction, x.size)
        # PyTorch's gradient, with the same 1e-12 floor on x(1 − x).
        gx = w * (x - t) / np.maximum(x * (1 - x), 1e-12) * upstream
        gt = -w * (log_x - log_1mx) * upstream if self.needs_input_grad[1] else None
        return gx.astype(x.dtype, copy=False), None if gt is None else gt.astype(t.dtype, copy=False)


class BinaryCrossEntropyWithLogits(Function):
    """``w·[(1 − t)·z + (1 + (p − 1)·t)·softplus(−z)]``: sigmoid and BCE fused, overflow-free."""

    def forward(self, z: np.ndarray, t: np.ndarray, weight: Optional[np.ndarray], pos_weight: Optional[np.ndarray],
                reduction: str) -> np.ndarray:
        softplus_neg = np.log1p(np.exp(-np.abs(z))) + np.maximum(-z, 0)
        scale = 1 if pos_weight is None else 1 + (pos_weight - 1) * t
        w = 1 if weight is None else weight
        per = w * ((1 - t) * z + scale * softplus_neg)
        self.reduction, self.weight, self.pos_weight = reduction, weight, pos_weight
        self.save_for_backward(z, t, softplus_neg, scale)
        return _reduce_elementwise(per, reduction)

    def backward(self, grad_out: np.ndarray) -> tuple:
        z, t, softplus_neg, scale = self.saved
        w = 1 if self.weight is None else self.weight
        upstream = _upstream_elementwise(grad_out, self.reduction, z.size)
        e = np.exp(-np.abs(z))
        sigmoid_neg = np.where(z >= 0, e / (1 + e), 1 / (1 + e))  # σ(−z)
        gz = w * ((1 - t) - scale * sigmoid_neg) * upstream
        gt = None
        if self.needs_input_grad[1]:
            dscale = 0 if self.pos_weight is None else (self.pos_weight - 1)
            gt = w * (-z + dscale * softplus_neg) * upstream
            gt = gt.astype(t.dtype, copy=False)
        return gz.astype(z.dtype, copy=False), gt
