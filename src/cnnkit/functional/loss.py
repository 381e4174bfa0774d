"""Loss functions with PyTorch's names, arguments and reductions (``'mean'``, ``'sum'``, ``'none'``).

The slides' quadratic loss ½(y − y*)² is ``0.5 * mse_loss(y, y_star, reduction='sum')`` for
one sample, and ``mse_loss`` averages (y − y*)² over elements. Unlike PyTorch, losses refuse
input/target shapes that differ (PyTorch only warns, and a (N, 1) vs (N,) pair then silently
broadcasts to (N, N)).
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from cnnkit.functional.basic import where
from cnnkit.ops import loss as L
from cnnkit.tensor import Tensor

_REDUCTIONS = ("mean", "sum", "none")


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _check_reduction(reduction: str, what: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{what}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _same_shape(x: Tensor, t: Tensor, what: str) -> None:
    if x.shape != t.shape:
        raise ValueError(
            f"{what}: input shape {x.shape} and target shape {t.shape} differ. They must match "
            "exactly (broadcasting here is almost always a bug, e.g. (N, 1) against (N,)); "
            "reshape one of them, e.g. target.reshape(input.shape)."
        )


def _reduce(values: Tensor, reduction: str, weight: Optional[Any] = None, what: str = "loss",
            mean_over_weights: bool = True) -> Tensor:
    """Reduce an elementwise loss. With ``weight`` (shaped like the input) the mean is
    ``Σ w·loss / Σ w`` (``mean_over_weights``) or ``Σ w·loss / N``, whichever PyTorch uses for that loss."""
    if weight is not None:
        w = weight if isinstance(weight, Tensor) else Tensor(np.asarray(weight))
        if w.shape != values.shape:
            raise ValueError(f"{what}: weight must have the input's shape {values.shape}, got {w.shape}")
        values = values * w
        if reduction == "mean" and mean_over_weights:
            return values.sum() / w.sum()
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    return values


def _rows(input: Tensor, what: str) -> tuple:
    """``(N, C, *d)`` → rows ``(N·prod(d), C)`` with the class dim last, plus the per-row shape."""
    if input.ndim == 1:
        return input.reshape(1, -1), ()
    if input.ndim < 1:
        raise ValueError(f"{what}: input must have a class dimension, got a scalar")
    classes = input.shape[1]
    if input.ndim == 2:
        return input, (input.shape[0],)
    order = (0,) + tuple(range(2, input.ndim)) + (1,)
    return input.permute(*order).reshape(-1, classes), (input.shape[0],) + input.shape[2:]


def _index_target(target: Tensor, row_shape: tuple, classes: int, ignore_index: int, what: str) -> np.ndarray:
    labels = target.data
    if labels.shape != row_shape:
        raise ValueError(f"{what}: class-index target must have shape {row_shape} for this input, got {labels.shape}")
    labels = labels.reshape(-1)
    bad = (labels != ignore_index) & ((labels < 0) | (labels >= classes))
    if bad.any():
        raise ValueError(f"{what}: target {labels[bad][0]} is out of bounds: class indices must be in [0, {classes}) "
                         f"(or ignore_index={ignore_index}); the input has {classes} classes")
    return labels.astype(np.int64, copy=False)


def _weight(weight: Optional[Any], classes: int, what: str) -> Optional[np.ndarray]:
    if weight is None:
        return None
    w = np.asarray(getattr(weight, "data", weight))
    if w.shape != (classes,):
        raise ValueError(f"{what}: weight must have one value per class, shape ({classes},), got {w.shape}")
    return w


def _elementwise_weight(weight: Optional[Any], x: Tensor, what: str) -> Optional[np.ndarray]:
    """A weight broadcast to the input's shape, in the input's dtype (never up-casting float32)."""
    if weight is None:
        return None
    w = np.asarray(getattr(weight, "data", weight))
    try:
        return np.broadcast_to(w, x.shape).astype(x.dtype, copy=False)
    except ValueError:
        raise ValueError(f"{what}: weight of shape {w.shape} cannot be broadcast to the input shape {x.shape}") from None


def cross_entropy(input: Tensor, target: Tensor, weight: Optional[Tensor] = None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy ``−Σ_c t_c · log softmax(x)_c`` between logits and targets, fused and stable.

    Args:
        input: logits ``(N, C)``, ``(N, C, d1, ...)`` or ``(C,)``.
        target: class indices (integer, shape ``(N, d1, ...)``) or class probabilities (float,
            same shape as ``input``).
        weight: per-class weights ``(C,)`` (default None: all 1).
        ignore_index: class-index targets equal to it contribute nothing and are not counted
            (default −100).
        reduction: ``'mean'`` (default; over the summed weights of counted class-index targets, over
            the ``N·d1·...`` rows for probability targets), ``'sum'`` or ``'none'``.
        label_smoothing: ε in [0, 1]: the target becomes ``(1 − ε)·onehot + ε/C`` (default 0.0).

    Shape:
        Output a scalar, or ``(N, d1, ...)`` with ``reduction='none'``.

    Example:
        >>> import cnnkit
        >>> logits = cnnkit.tensor([[2.0, 0.0, 0.0]])
        >>> round(cnnkit.functional.cross_entropy(logits, cnnkit.tensor([0], dtype="int64")).item(), 4)
        0.2395
    """
    what = "cross_entropy"
    _check_reduction(reduction, what)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{what}: label_smoothing must be in [0, 1], got {label_smoothing}")
    x, t = _t(input), _t(target)
    rows, row_shape = _rows(x, what)
    classes = rows.shape[1]
    w = _weight(weight, classes, what)
    if t.dtype.kind in "fc":
        if t.shape != x.shape and t.shape == row_shape:
            raise TypeError(
                f"{what}: the target has shape {t.shape} like class indices, but dtype {t.dtype}. A float "
                f"target means class probabilities (shape {x.shape}); for class indices use an integer "
                "tensor: cnnkit.tensor(labels, dtype='int64') or target.long()."
            )
        _same_shape(x, t, what)
        target_rows, _ = _rows(t, what)
        out = L.CrossEntropyProbs.apply(rows, target_rows, weight=w, label_smoothing=label_smoothing,
                                        reduction=reduction)
    else:
        labels = _index_target(t, row_shape, classes, ignore_index, what)
        out = L.CrossEntropyIndex.apply(rows, Tensor(labels), weight=w, ignore_index=ignore_index,
                                        label_smoothing=label_smoothing, reduction=reduction)
    return out.reshape(row_shape) if reduction == "none" else out


def nll_loss(input: Tensor, target: Tensor, weight: Optional[Tensor] = None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood ``−weight[y] · input[y]`` for log-probabilities (after ``log_softmax``).

    Args:
        input: log-probabilities ``(N, C)``, ``(N, C, d1, ...)`` or ``(C,)``.
        target: integer class indices ``(N, d1, ...)``.
        weight: per-class weights ``(C,)`` (default None: all 1).
        ignore_index: targets equal to it contribute nothing and are not counted (default −100).
        reduction: ``'mean'`` (default; over the summed weights of counted targets), ``'sum'`` or
            ``'none'``.

    Shape:
        Output a scalar, or the target's shape with ``reduction='none'``.

    Example:
        >>> import cnnkit
        >>> logp = cnnkit.tensor([[-1.0, -2.0]])
        >>> cnnkit.functional.nll_loss(logp, cnnkit.tensor([1], dtype="int64")).item()
        2.0
    """
    what = "nll_loss"
    _check_reduction(reduction, what)
    x, t = _t(input), _t(target)
    rows, row_shape = _rows(x, what)
    if t.dtype.kind in "fc":
        raise TypeError(f"{what}: target must hold integer class indices, got dtype {t.dtype}")
    labels = _index_target(t, row_shape, rows.shape[1], ignore_index, what)
    out = L.NLL.apply(rows, Tensor(labels), weight=_weight(weight, rows.shape[1], what),
                      ignore_index=ignore_index, reduction=reduction)
    return out.reshape(row_shape) if reduction == "none" else out


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean", weight: Optional[Tensor] = None) -> Tensor:
    """Mean squared error ``mean((x − y)²)`` (averaged over all elements by default).

    Unlike PyTorch, input and target shapes must match exactly (PyTorch warns and broadcasts).

    Args:
        input, target: tensors of the same shape.
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'``.
        weight: optional per-element weights broadcast to ``input`` (default None); the mean then
            becomes ``Σ w·e / Σ w`` (PyTorch 2.13's ``weight=``).

    Shape:
        Output a scalar, or the input's shape with ``reduction='none'``.

    Example:
        >>> import cnnkit
        >>> cnnkit.functional.mse_loss(cnnkit.tensor([1.0, 3.0]), cnnkit.tensor([0.0, 0.0])).item()
        5.0
        >>> cnnkit.functional.mse_loss(cnnkit.tensor([1.0, 3.0]), cnnkit.zeros(2), weight=[3.0, 1.0]).item()
        3.0
    """
    _check_reduction(reduction, "mse_loss")
    x, t = _t(input), _t(target)
    _same_shape(x, t, "mse_loss")
    diff = x - t
    return _reduce(diff * diff, reduction, weight, "mse_loss")


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean", weight: Optional[Tensor] = None) -> Tensor:
    """Mean absolute error ``mean(|x − y|)`` (arguments as :func:`mse_loss`).

    Args:
        input, target: tensors of the same shape.
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'``.
        weight: optional per-element weights (default None); the mean becomes ``Σ w·|e| / Σ w``.

    Shape:
        Output a scalar, or the input's shape with ``reduction='none'``.

    Example:
        >>> import cnnkit
        >>> cnnkit.functional.l1_loss(cnnkit.tensor([1.0, -3.0]), cnnkit.zeros(2)).item()
        2.0
    """
    _check_reduction(reduction, "l1_loss")
    x, t = _t(input), _t(target)
    _same_shape(x, t, "l1_loss")
    return _reduce((x - t).abs(), reduction, weight, "l1_loss")


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Optional[Tensor] = None) -> Tensor:
    """Huber loss: ``½d²`` where ``|d| < delta``, ``delta·(|d| − ½delta)`` elsewhere (``d = x − y``).

    With ``weight`` the mean is ``Σ w·ℓ / N`` over the N elements, as PyTorch, not ``/ Σ w`` as
    :func:`mse_loss` and :func:`l1_loss`.

    Args:
        input, target: tensors of the same shape.
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'``.
        delta: where the loss turns from quadratic to linear; must be positive (default 1.0).
        weight: optional per-element weights broadcast to ``input`` (default None).

    Shape:
        Output a scalar, or the input's shape with ``reduction='none'``.

    Example:
        >>> import cnnkit
        >>> x = cnnkit.tensor([0.5, 3.0])
        >>> cnnkit.functional.huber_loss(x, cnnkit.zeros(2), weight=[2.0, 0.0]).item()
        0.125
    """
    _check_reduction(reduction, "huber_loss")
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    x, t = _t(input), _t(target)
    _same_shape(x, t, "huber_loss")
    d = x - t
    a = d.abs()
    # PyTorch averages a weighted Huber loss over elements (not over Σw as for MSE and L1).
    return _reduce(where(a < delta, d * d * 0.5, (a - 0.5 * delta) * delta), reduction, weight, "huber_loss",
                   mean_over_weights=False)


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Optional[Tensor] = None,
                         reduction: str = "mean") -> Tensor:
    """Binary cross-entropy ``−w·(t·log x + (1 − t)·log(1 − x))`` for probabilities ``x`` in [0, 1].

    Logs are floored at −100, as PyTorch; inputs outside [0, 1] (or NaN) raise.

    Args:
        input: probabilities (after a sigmoid).
        target: targets in [0, 1], same shape as ``input``.
        weight: per-element weights broadcast to ``input`` (default None).
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'``.

    Shape:
        Output a scalar, or the input's shape with ``reduction='none'``.

    Example:
        >>> import cnnkit
        >>> loss = cnnkit.functional.binary_cross_entropy(cnnkit.tensor([0.5]), cnnkit.tensor([1.0]))
        >>> round(loss.item(), 4)
        0.6931
    """
    what = "binary_cross_entropy"
    _check_reduction(reduction, what)
    x, t = _t(input), _t(target)
    _same_shape(x, t, what)
    if x.size and (np.nanmin(x.data) < 0 or np.nanmax(x.data) > 1 or np.isnan(x.data).any()):
        raise ValueError(f"{what}: all input values must be probabilities in [0, 1] (got min {x.data.min():.4g}, "
                         f"max {x.data.max():.4g}); apply sigmoid first or use binary_cross_entropy_with_logits")
    w = _elementwise_weight(weight, x, what)
    return L.BinaryCrossEntropy.apply(x, t.to(x.dtype) if t.dtype != x.dtype else t, weight=w, reduction=reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Optional[Tensor] = None,
                                     reduction: str = "mean", pos_weight: Optional[Tensor] = None) -> Tensor:
    """Sigmoid + binary cross-entropy in one stable op: ``−w·(p·t·log σ(x) + (1 − t)·log(1 − σ(x)))``.

    Prefer it to ``sigmoid`` followed by :func:`binary_cross_entropy`.

    Args:
        input: logits.
        target: targets in [0, 1], same shape as ``input``.
        weight: per-element weights broadcast to ``input`` (default None).
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'``.
        pos_weight: weight ``p`` of positive examples, broadcast over the last dimension (one per
            class; default None: 1).

    Shape:
        Input and target ``(*, C)``, ``pos_weight`` ``(C,)``; output a scalar, or the input's shape
        with ``reduction='none'``.

    Example:
        >>> import cnnkit
        >>> loss = cnnkit.functional.binary_cross_entropy_with_logits(cnnkit.zeros(2, 3), cnnkit.ones(2, 3))
        >>> round(loss.item(), 4)
        0.6931
    """
    what = "binary_cross_entropy_with_logits"
    _check_reduction(reduction, what)
    x, t = _t(input), _t(target)
    _same_shape(x, t, what)
    w = _elementwise_weight(weight, x, what)
    pw = _elementwise_weight(pos_weight, x, what + " (pos_weight)")
    return L.BinaryCrossEntropyWithLogits.apply(x, t.to(x.dtype) if t.dtype != x.dtype else t, weight=w,
                                                pos_weight=pw, reduction=reduction)
