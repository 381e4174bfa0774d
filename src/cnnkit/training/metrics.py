"""Metrics for ``Model.compile(metrics=[...])``: Keras names, computed on NumPy outputs.

Each metric is ``fn(y_pred, y_true) -> float`` (mean over the batch); ``Model`` averages the
batch values weighted by batch size, so an epoch's figure is the exact mean over its samples.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np


def _aligned(y_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
    """``y_true`` in the predictions' shape when the sizes agree (``(N,)`` targets for ``(N, 1)`` outputs)."""
    return y_true.reshape(y_pred.shape) if y_true.size == y_pred.size else y_true


def sparse_categorical_accuracy(y_pred: np.ndarray, y_true: np.ndarray) -> float:
    """Fraction of samples whose arg-max class equals the integer label."""
    return float(np.mean(np.argmax(y_pred, axis=1) == y_true.reshape(y_pred.shape[0], *y_pred.shape[2:])))


def categorical_accuracy(y_pred: np.ndarray, y_true: np.ndarray) -> float:
    """Fraction of samples whose arg-max class equals the arg-max of the one-hot target."""
    return float(np.mean(np.argmax(y_pred, axis=1) == np.argmax(y_true, axis=1)))


def binary_accuracy(y_pred: np.ndarray, y_true: np.ndarray, threshold: float = 0.5) -> float:
    """Fraction of elements on the right side of ``threshold`` (``y_pred`` are probabilities)."""
    return float(np.mean((y_pred > threshold) == (_aligned(y_pred, y_true) > 0.5)))


def mean_absolute_error(y_pred: np.ndarray, y_true: np.ndarray) -> float:
    return float(np.mean(np.abs(y_pred - _aligned(y_pred, y_true))))


def mean_squared_error(y_pred: np.ndarray, y_true: np.ndarray) -> float:
    return float(np.mean((y_pred - _aligned(y_pred, y_true)) ** 2))


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int | None = None) -> np.ndarray:
    """Counts ``C[i, j]`` of samples of true class ``i`` predicted as class ``j`` (int64).

    Args:
        y_true: integer labels, shape ``(N,)``.
        y_pred: integer predictions ``(N,)``, or scores/probabilities ``(N, K)`` (arg-max is taken).
        num_classes: the matrix size (default: one more than the largest label or prediction).

    Example:
        >>> confusion_matrix([0, 1, 1], [0, 1, 0]).tolist()
        [[1, 0], [1, 1]]
    """
    y_true = np.asarray(y_true).reshape(-1)
    y_pred = np.asarray(y_pred)
    if y_pred.ndim == 2:  # scores: their width is the number of classes
        num_classes = y_pred.shape[1] if num_classes is None else num_classes
        y_pred = np.argmax(y_pred, axis=1) if len(y_pred) else np.zeros(0, np.int64)
    y_pred = y_pred.reshape(-1)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"confusion_matrix: {y_true.size} labels but {y_pred.size} predictions; pass one per sample")
    for name, v in (("y_true", y_true), ("y_pred", y_pred)):
        if v.size and (not np.all(np.isfinite(v)) or np.any(v < 0) or np.any(v != np.round(v))):
            raise ValueError(f"confusion_matrix: {name} must hold non-negative integer classes")
    y_true, y_pred = y_true.astype(np.int64), y_pred.astype(np.int64)
    largest = int(max(y_true.max(initial=-1), y_pred.max(initial=-1))) + 1
    k = largest if num_classes is None else int(num_classes)
    if largest > k:
        raise ValueError(f"confusion_matrix: class {largest - 1} does not fit num_classes={k}")
    return np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)


_ACCURACY = {"sparse_categorical_crossentropy": sparse_categorical_accuracy,
             "categorical_crossentropy": categorical_accuracy,
             "binary_crossentropy": binary_accuracy}
_NAMED = {"sparse_categorical_accuracy": sparse_categorical_accuracy, "categorical_accuracy": categorical_accuracy,
          "binary_accuracy": binary_accuracy, "mae": mean_absolute_error, "mean_absolute_error": mean_absolute_error,
          "mse": mean_squared_error, "mean_squared_error": mean_squared_error}


def resolve(metric: Any, loss_name: str) -> tuple:
    """``(name, fn)`` for a metric given as a Keras name or a callable ``fn(y_pred, y_true)``.

    ``'accuracy'``/``'acc'`` picks the accuracy that matches the loss, as Keras does.
    """
    if callable(metric):
        return getattr(metric, "__name__", type(metric).__name__), metric
    if metric in ("accuracy", "acc"):
        return "accuracy", _ACCURACY.get(loss_name, sparse_categorical_accuracy)
    if metric in _NAMED:
        return metric, _NAMED[metric]
    raise ValueError(f"unknown metric {metric!r}: use 'accuracy', one of {sorted(_NAMED)}, or a callable "
                     "fn(y_pred, y_true) -> float")


MetricFn = Callable[[np.ndarray, np.ndarray], float]
