"""Loss modules wrapping :mod:`cnnkit.functional.loss` (PyTorch names and arguments)."""

from __future__ import annotations

from typing import Any, Optional

import cnnkit.functional as F
from cnnkit.nn.module import Module
from cnnkit.tensor import Tensor


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"{type(self).__name__}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        self.reduction = reduction

    def extra_repr(self) -> str:
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class _WeightedLoss(_Loss):
    def __init__(self, weight: Optional[Any] = None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.register_buffer("weight", None if weight is None else Tensor(weight))


class CrossEntropyLoss(_WeightedLoss):
    """Softmax cross-entropy on logits (log-softmax and NLL fused, numerically stable).

    Args:
        weight: per-class weights ``(C,)``.
        ignore_index: class-index targets to skip.
        reduction: ``'mean'``, ``'sum'`` or ``'none'``.
        label_smoothing: ε: targets become ``(1 − ε)·onehot + ε/C``.

    Shape:
        input ``(N, C)`` or ``(N, C, d1, ...)``; target class indices ``(N, d1, ...)`` or
        probabilities shaped like the input.

    Example:
        >>> import cnnkit
        >>> loss = cnnkit.nn.CrossEntropyLoss()
        >>> round(loss(cnnkit.zeros(4, 10), cnnkit.tensor([1, 2, 3, 4], dtype="int64")).item(), 4)
        2.3026
    """

    def __init__(self, weight: Optional[Any] = None, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0) -> None:
        super().__init__(weight, reduction)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(input, target, self.weight, self.ignore_index, self.reduction, self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood on log-probabilities (use after :class:`LogSoftmax`)."""

    def __init__(self, weight: Optional[Any] = None, ignore_index: int = -100, reduction: str = "mean") -> None:
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class MSELoss(_Loss):
    """Mean squared error; the slides' quadratic loss ½(y − y*)² is ``0.5 * MSELoss('sum')`` per sample.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.MSELoss()(cnnkit.tensor([1.0, 3.0]), cnnkit.tensor([0.0, 0.0])).item()
        5.0
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    """Mean absolute error."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.l1_loss(input, target, self.reduction)


class HuberLoss(_Loss):
    """Quadratic below ``delta``, linear above (robust regression)."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        self.delta = delta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.huber_loss(input, target, self.reduction, self.delta)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy on probabilities in [0, 1] (after a sigmoid)."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(_WeightedLoss):
    """Sigmoid + binary cross-entropy fused (stable for any logit); ``pos_weight`` per class."""

    def __init__(self, weight: Optional[Any] = None, reduction: str = "mean", pos_weight: Optional[Any] = None) -> None:
        super().__init__(weight, reduction)
        self.register_buffer("pos_weight", None if pos_weight is None else Tensor(pos_weight))

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, self.weight, self.reduction, self.pos_weight)
