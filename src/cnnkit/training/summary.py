"""Keras-style model summaries in the slides' format, and the sizing calculators.

The multiply-add convention is the slides': weights only, per sample (a 3×32×32 input, ten 5×5
filters, stride 1, pad 2 → 10·32·32·(3·5·5) = 768,000); ``macs="with_bias"`` adds one per output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import numpy as np

from cnnkit.nn.module import Module
from cnnkit.training.trace import flat, prod, receptive_fields, trace


def _shape(shape: tuple) -> str:
    return " × ".join(str(n) for n in shape) if shape else "scalar"


@dataclass
class Summary:
    """A model's layer table: printed by ``str()``, exported with :meth:`to_markdown` / :meth:`to_dict`.

    Attributes:
        rows: one dict per layer (``name, layer, output_shape, weight_formula, params, macs,
            receptive_field, jump, fits``).
        total_params, trainable_params, total_macs: totals over the rows.
        activation_bytes: memory of all layer outputs for one sample.
    """

    input_shape: tuple
    rows: list = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0
    total_macs: int = 0
    activation_bytes: int = 0
    macs_convention: str = "weights"

    def _table(self) -> list:
        header = ["Layer", "Output shape", "Weights", "Params", "MACs", "RF", "Jump"]
        body = [["input", _shape(self.input_shape), "", "0", "0", "1", "1"]]
        for r in self.rows:
            rf = "—" if r["receptive_field"] is None else str(r["receptive_field"])
            jump = "—" if r["jump"] is None else str(r["jump"])
            flag = "" if r["fits"] else "  ⚠ does not tile"
            body.append([f"{r['name']}: {r['layer']}{flag}", _shape(r["output_shape"]), r["weight_formula"],
                         f"{r['params']:,}", f"{r['macs']:,}", rf, jump])
        return [header] + body

    def __str__(self) -> str:
        table = self._table()
        widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
        rule = "─" * (sum(widths) + 2 * (len(widths) - 1))
        convention = "weights only" if self.macs_convention == "weights" else "weights and biases"
        lines = [f"Model summary (input {_shape(self.input_shape)}; MACs = multiply-adds per sample, {convention})", rule]
        for i, row in enumerate(table):
            lines.append("  ".join(c.ljust(w) if j < 3 else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths))))
            if i == 0:
                lines.append(rule)
        lines += [rule, f"Total params: {self.total_params:,}", f"Trainable params: {self.trainable_params:,}",
                  f"Non-trainable params: {self.total_params - self.trainable_params:,}",
                  f"Total MACs: {self.total_macs:,}",
                  f"Activation memory per sample: {self.activation_bytes / 1024:,.1f} KiB"]
        unfit = [r["name"] for r in self.rows if not r["fits"]]
        if unfit:
            lines.append("⚠ windows do not tile the input in: " + ", ".join(unfit))
        return "\n".join(lines)

    def to_markdown(self) -> str:
        """The table as GitHub-flavoured Markdown, with the totals below it."""
        table = self._table()
        lines = ["| " + " | ".join(table[0]) + " |", "|" + "---|" * len(table[0])]
        lines += ["| " + " | ".join(row) + " |" for row in table[1:]]
        lines += ["", f"Total params: {self.total_params:,} (trainable {self.trainable_params:,}); "
                      f"total MACs: {self.total_macs:,}"]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """Plain data (JSON-serialisable)."""
        return {"input_shape": list(self.input_shape), "rows": [dict(r) for r in self.rows],
                "total_params": self.total_params, "trainable_params": self.trainable_params,
                "total_macs": self.total_macs, "activation_bytes": self.activation_bytes,
                "macs_convention": self.macs_convention}


def _layer_text(module: Module) -> str:
    """A compact description in the slides' style: ``Conv2d(1→20, K=5, S=1, P=2)``, ``MaxPool2d(K=2, S=2)``."""
    from cnnkit.nn.conv import _ConvNd
    from cnnkit.nn.linear import Linear
    from cnnkit.nn.pooling import _WindowPool

    name = type(module).__name__
    one = lambda t: t[0] if isinstance(t, tuple) and len(set(t)) == 1 else t  # noqa: E731
    if isinstance(module, _ConvNd):
        text = f"{name}({module.in_channels}→{module.out_channels}, K={one(module.kernel_size)}, S={one(module.stride)}"
        text += f", P={one(module.padding)}" if module.padding != (0,) * len(module.kernel_size) else ""
        text += f", D={one(module.dilation)}" if set(module.dilation) != {1} else ""
        return text + (f", groups={module.groups})" if module.groups != 1 else ")")
    if isinstance(module, _WindowPool):
        text = f"{name}(K={one(module.kernel_size)}, S={one(module.stride)}"
        return text + (f", P={one(module.padding)})" if any(module.padding) else ")")
    if isinstance(module, Linear):
        return f"{name}({module.in_features}→{module.out_features})"
    extra = module.extra_repr()
    return f"{name}({extra})" if extra and len(extra) <= 30 and "\n" not in extra else name


def summary(module: Module, input_shape: Sequence[int], macs: str = "weights", show: bool = True,
            dtype: Any = np.float32) -> Summary:
    """Print and return the layer table of ``module`` for one sample of ``input_shape`` (C, H, W).

    Args:
        module: the model (any Module; leaf layers are listed in call order).
        input_shape: one sample's shape, without the batch dimension.
        macs: ``"weights"`` (the slides' convention) or ``"with_bias"``.
        show: print the table.
        dtype: dtype of the trial input.

    Returns:
        A :class:`Summary`.

    Example:
        >>> import cnnkit
        >>> net = cnnkit.nn.Sequential(cnnkit.nn.Conv2d(3, 10, 5, padding=2))
        >>> s = cnnkit.summary(net, (3, 32, 32), show=False)
        >>> s.total_params, s.total_macs, s.rows[0]["weight_formula"]
        (760, 768000, '10 × (3 × 5 × 5 + 1)')
    """
    if macs not in ("weights", "with_bias"):
        raise ValueError(f"summary: macs must be 'weights' or 'with_bias', got {macs!r}")
    records = trace(module, input_shape, dtype)
    fields = receptive_fields(records)
    result = Summary(input_shape=tuple(input_shape), macs_convention=macs)
    itemsize = np.dtype(dtype).itemsize
    for record, rf in zip(records, fields):
        count = record.macs + (record.bias_macs if macs == "with_bias" else 0)
        result.rows.append({
            "name": record.name, "layer": _layer_text(record.module), "output_shape": record.output_shape,
            "weight_formula": record.formula, "params": record.params, "macs": count,
            "receptive_field": None if rf is None else flat(rf[0]), "jump": None if rf is None else flat(rf[1]),
            "fits": record.fits,
        })
        result.total_macs += count
        result.activation_bytes += prod(record.output_shape) * itemsize
    # Totals count every parameter once, including those of non-leaf modules and shared ones.
    result.total_params = sum(p.size for p in module.parameters())
    result.trainable_params = sum(p.size for p in module.parameters() if p.requires_grad)
    if show:
        print(result)
    return result


def count_parameters(module: Module, trainable_only: bool = False) -> int:
    """Number of parameters (each shared parameter once).

    Example:
        >>> import cnnkit
        >>> cnnkit.count_parameters(cnnkit.nn.Linear(2450, 500))
        1225500
    """
    return sum(p.size for p in module.parameters() if p.requires_grad or not trainable_only)


def count_macs(module: Module, input_shape: Sequence[int], with_bias: bool = False) -> int:
    """Multiply-adds of one forward pass for one sample (weights only unless ``with_bias``).

    Example:
        >>> import cnnkit
        >>> cnnkit.count_macs(cnnkit.nn.Conv2d(3, 10, 5, padding=2), (3, 32, 32))
        768000
    """
    return sum(r.macs + (r.bias_macs if with_bias else 0) for r in trace(module, input_shape))


@dataclass
class ReceptiveField:
    """The receptive field of one layer's output units: ``size`` input pixels, ``jump`` = effective stride.

    ``verified`` is True when back-propagating a one-hot gradient from an interior output unit
    lit exactly ``size`` input pixels per axis, None when no interior unit exists to check.
    """

    name: str
    size: Any
    jump: Any
    verified: Optional[bool] = None


def receptive_field(module: Module, input_shape: Sequence[int], verify: bool = True) -> list:
    """Receptive field size and jump of every spatial layer, in closed form and checked empirically.

    Closed form: ``RF_L = RF_{L−1} + (K_L − 1)·∏_{i<L} S_i`` with the dilated kernel
    ``K = D·(K − 1) + 1`` (pooling windows count as kernels). Empirically, a copy of the model with
    positive weights and every pooling window turned into an all-ones depthwise convolution (so
    each input that *can* influence a unit does) back-propagates a one-hot gradient from an
    interior output unit; the extent of the non-zero input gradient must equal the closed form.

    Example:
        >>> import cnnkit
        >>> nn = cnnkit.nn
        >>> net = nn.Sequential(nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3))
        >>> [(r.size, r.verified) for r in cnnkit.receptive_field(net, (1, 16, 16))]
        [(3, True), (5, True), (7, True)]
    """
    records = trace(module, input_shape)
    fields = receptive_fields(records)
    spatial = [(r, f) for r, f in zip(records, fields) if f is not None]
    entries = [ReceptiveField(r.name, flat(f[0]), flat(f[1])) for r, f in spatial]
    if verify and entries:
        from cnnkit.training.rf_check import empirical_extents

        measured = empirical_extents(module, input_shape, spatial)
        for entry, extent, (_, f) in zip(entries, measured, spatial):
            entry.verified = None if extent is None else tuple(extent) == tuple(f[0])
    return entries
