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
    """Softmax cross-entropy on logits: ``−Σ_c t_c · log softmax(x)_c`` (log-softmax and NLL fused, stable).

    Args:
        weight: per-class weights ``(C,)`` (default None: all 1).
        ignore_index: class-index targets equal to it are skipped and not counted (default −100).
        reduction: ``'mean'`` (default; over the summed weights of the counted class-index targets,
            over the ``N·d1·...`` rows for probability targets), ``'sum'`` or ``'none'``.
        label_smoothing: ε in [0, 1]: targets become ``(1 − ε)·onehot + ε/C`` (default 0.0).

    Shape:
        Input ``(N, C)``, ``(N, C, d1, ...)`` or ``(C,)``; target class indices (integer)
        ``(N, d1, ...)`` or probabilities (float) shaped like the input. Output a scalar, or
        ``(N, d1, ...)`` with ``reduction='none'``.

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
    """Negative log-likelihood ``−weight[y] · input[y]`` on log-probabilities (use after :class:`LogSoftmax`).

    Args:
        weight: per-class weights ``(C,)`` (default None: all 1).
        ignore_index: targets equal to it are skipped and not counted (default −100).
        reduction: ``'mean'`` (over the summed weights of counted targets; default), ``'sum'`` or
            ``'none'``.

    Shape:
        Input ``(N, C)``, ``(N, C, d1, ...)`` or ``(C,)``; target integer class indices
        ``(N, d1, ...)``. Output a scalar, or the target's shape with ``reduction='none'``.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.NLLLoss()(cnnkit.tensor([[-1.0, -2.0]]), cnnkit.tensor([1], dtype="int64")).item()
        2.0
    """

    def __init__(self, weight: Optional[Any] = None, ignore_index: int = -100, reduction: str = "mean") -> None:
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class MSELoss(_Loss):
    """Mean squared error ``mean((x − y)²)``; the slides' ½(y − y*)² is ``0.5 * MSELoss('sum')`` per sample.

    Args:
        reduction: ``'mean'`` (over all elements; default), ``'sum'`` or ``'none'``.

    Shape:
        Input and target of the same shape (refused otherwise, where PyTorch warns and broadcasts);
        output a scalar, or the input's shape with ``reduction='none'``.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.MSELoss()(cnnkit.tensor([1.0, 3.0]), cnnkit.tensor([0.0, 0.0])).item()
        5.0
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    """Mean absolute error ``mean(|x − y|)``.

    Args:
        reduction: ``'mean'`` (over all elements; default), ``'sum'`` or ``'none'``.

    Shape:
        Input and target of the same shape (refused otherwise); output a scalar, or the input's
        shape with ``reduction='none'``.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.L1Loss()(cnnkit.tensor([1.0, -3.0]), cnnkit.zeros(2)).item()
        2.0
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.l1_loss(input, target, self.reduction)


class HuberLoss(_Loss):
    """Huber loss: ``½d²`` where ``|d| < delta``, ``delta · (|d| − ½delta)`` elsewhere, ``d = x − y``.

    Quadratic near 0 and linear for outliers (robust regression). Per-element weights are
    available through :func:`cnnkit.functional.huber_loss`.

    Args:
        reduction: ``'mean'`` (over all elements; default), ``'sum'`` or ``'none'``.
        delta: where the loss turns from quadratic to linear; must be positive (default 1.0).

    Shape:
        Input and target of the same shape (refused otherwise); output a scalar, or the input's
        shape with ``reduction='none'``.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.HuberLoss()(cnnkit.tensor([0.5, 3.0]), cnnkit.zeros(2)).item()
        1.3125
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        self.delta = delta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.huber_loss(input, target, self.reduction, self.delta)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy ``−w · (t·log x + (1 − t)·log(1 − x))`` on probabilities ``x`` in [0, 1].

    Apply a sigmoid first, or prefer :class:`BCEWithLogitsLoss` on logits. Logs are floored at
    −100, as PyTorch; inputs outside [0, 1] raise.

    Args:
        weight: per-element weights broadcast to the input's shape (default None).
        reduction: ``'mean'`` (over all elements; default), ``'sum'`` or ``'none'``.

    Shape:
        Input and target of the same shape; output a scalar, or the input's shape with
        ``reduction='none'``.

    Example:
        >>> import cnnkit
        >>> round(cnnkit.nn.BCELoss()(cnnkit.tensor([0.5]), cnnkit.tensor([1.0])).item(), 4)
        0.6931
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(_WeightedLoss):
    """Sigmoid + binary cross-entropy fused and stable: ``−w·(p·t·log σ(x) + (1 − t)·log(1 − σ(x)))``.

    Args:
        weight: per-element weights broadcast to the input's shape (default None).
        reduction: ``'mean'`` (over all elements; default), ``'sum'`` or ``'none'``.
        pos_weight: weight ``p`` of the positive term, broadcast over the last dimension (one per
            class; default None: 1).

    Shape:
        Input and target of the same shape ``(*, C)``; ``pos_weight`` ``(C,)``; output a scalar, or
        the input's shape with ``reduction='none'``.

    Example:
        >>> import cnnkit
        >>> loss = cnnkit.nn.BCEWithLogitsLoss(pos_weight=[2.0])
        >>> round(loss(cnnkit.zeros(1, 1), cnnkit.ones(1, 1)).item(), 4)
        1.3863
    """

    def __init__(self, weight: Optional[Any] = None, reduction: str = "mean", pos_weight: Optional[Any] = None) -> None:
        super().__init__(weight, reduction)
        self.register_buffer("pos_weight", None if pos_weight is None else Tensor(pos_weight))

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, self.weight, self.reduction, self.pos_weight)
