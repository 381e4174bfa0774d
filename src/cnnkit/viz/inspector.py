"""A ConvNetJS-style inspector: every layer's activations, gradients, weights and statistics.

:func:`inspect` runs one forward and one backward pass on a batch and returns a :class:`Report`
with a record per layer call; ``report.save_html(path)`` writes one self-contained page (the
model summary on top, then a panel per layer as in ConvNetJS's demos) and
``report.save_png(directory)`` writes the same pictures as PNG files.

What is captured, and how the model is left:

* Records are kept for the *leaf* modules (no children), in the order they run, after an
  ``input`` record. A module called twice gets two records (``call`` 1 and 2); names are the
  dotted names of ``named_modules()``.
* The pass runs in evaluation mode by default (``train=False``: dropout off, BatchNorm on its
  running statistics, which therefore stay unchanged); every module's mode is restored after.
* The loss is the mean cross-entropy of the outputs (taken as logits; the log of the outputs when
  the last layer is a Softmax) against ``y`` when labels are given, else the sum over the batch
  of each sample's largest output (the gradient then shows what drives the top prediction).
* Activation gradients are d loss / d output of each layer call, read through ``retain_grad`` on
  that call's output, so two calls of one module keep their own gradients. Weight gradients are
  those of this single backward: the parameters' existing ``.grad`` values are set aside before
  and put back after (the same objects, untouched), so inspecting never disturbs training.
* Forward hooks are removed afterwards, even when the model raises.
* Statistics (``max_activation`` ...) are over the whole batch; pictures show the first sample.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from cnnkit.autograd.grad_mode import enable_grad
from cnnkit.nn.module import Module
from cnnkit.tensor import Tensor
from cnnkit.viz._layers import as_module, param_dtype


@dataclass
class LayerStats:
    """One layer call (or the input) as captured by :func:`inspect`.

    Attributes:
        name: dotted name from ``named_modules()`` (``"input"`` for the input record).
        type: the module's class name (``"Input"`` for the input).
        call: 1 for the module's first call in the pass, 2 for its second ...
        output_shape: one sample's output shape (batch excluded).
        params: parameter count of the module itself.
        kernel_size, stride: window and stride per spatial axis for conv and pooling layers, else None.
        macs: multiply-adds per sample (the summary's convention), receptive_field: in input pixels
            (None once the output has no spatial axes).
        max_activation, min_activation: over the whole batch of outputs.
        max_gradient, min_gradient: of d loss / d output over the whole batch (None when no
            gradient reached the output).
        activation, gradient: the captured arrays ``(N, *output_shape)`` (gradient may be None).
        weights, weight_grads: ``{parameter name: array}`` (a gradient is None when none arrived).
    """

    name: str
    type: str
    call: int
    output_shape: tuple
    params: int
    max_activation: float
    min_activation: float
    max_gradient: Optional[float]
    min_gradient: Optional[float]
    activation: np.ndarray
    gradient: Optional[np.ndarray]
    weights: dict = field(default_factory=dict)
    weight_grads: dict = field(default_factory=dict)
    kernel_size: Optional[tuple] = None
    stride: Optional[tuple] = None
    macs: int = 0
    receptive_field: Any = None
    html_id: str = ""

    @property
    def panel_id(self) -> str:
        """The HTML id of this layer's panel, also in its PNG file names: ``layer-<name>`` (other
        characters than letters and digits as ``-``), ``-<call>`` for repeated calls. :func:`inspect`
        sets ``html_id`` to keep it unique in the report (``conv_1`` and ``conv.1``, or a layer named
        ``input``, get ``-2`` appended)."""
        if self.html_id:
            return self.html_id
        slug = "".join(c if c.isalnum() else "-" for c in self.name) or "model"
        return f"layer-{slug}" + (f"-{self.call}" if self.call > 1 else "")


@dataclass
class Report:
    """What :func:`inspect` captured: ``layers`` (input first), the model summary and the loss.

    Attributes:
        layers: :class:`LayerStats` per layer call, the input first.
        summary: the :class:`cnnkit.training.summary.Summary` of the model for one sample.
        loss: the value that was back-propagated, loss_kind: how it was formed.
        outputs: the model's outputs for the batch; labels: ``y`` (or None).
        model_name: the model's class name.
    """

    layers: list
    summary: Any
    loss: float
    loss_kind: str
    outputs: np.ndarray
    labels: Optional[np.ndarray]
    model_name: str

    def layer(self, name: str, call: int = 1) -> LayerStats:
        """The record of layer ``name`` (its ``call``-th call).

        Raises:
            KeyError: naming the recorded layers.
        """
        for record in self.layers:
            if record.name == name and record.call == call:
                return record
        names = ", ".join(repr(r.name) for r in self.layers)
        raise KeyError(f"Report.layer(): no record for {name!r} (call {call}); recorded: {names}")

    def to_html(self) -> str:
        """The inspector page as a string (see :meth:`save_html`)."""
        from cnnkit.viz.html import render_html

        return render_html(self)

    def save_html(self, path: Any) -> str:
        """Write one self-contained HTML file (inline CSS, images as PNG data URIs; opens offline).

        Args:
            path: the file to write (parent directories are created).

        Returns:
            The path written.
        """
        import threading

        path = os.fspath(path)
        text = self.to_html()
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        # Written beside ``path`` under a name of this process and thread, then renamed over it: a
        # crash never leaves half a page at ``path``, two writers never share the temporary file,
        # and a failure removes it (plain open(), so the page gets the usual umask permissions).
        tmp = f"{path}.{os.getpid()}-{threading.get_ident()}.tmp"
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(tmp)
            raise
        return path

    def save_png(self, directory: Any) -> list:
        """Write the pictures of every layer as PNG files in ``directory`` (created if needed).

        Files are named ``<index>_<panel id>_<view>.png`` with views ``activations``,
        ``gradients``, ``weights`` and ``weight_grads`` (the last two only for layers with weights).

        Returns:
            The paths written, in layer order.

        Example:
            >>> import os, tempfile
            >>> import numpy as np
            >>> from cnnkit import nn, viz
            >>> net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 3))
            >>> report = viz.inspect(net, np.ones((1, 1, 4, 4), np.float32))
            >>> with tempfile.TemporaryDirectory() as folder:
            ...     names = [os.path.basename(p) for p in report.save_png(folder)]
            >>> names[:3]
            ['00_layer-input_activations.png', '00_layer-input_gradients.png', '01_layer-0_activations.png']
        """
        from cnnkit.viz.html import layer_views

        directory = os.fspath(directory)
        os.makedirs(directory, exist_ok=True)
        written = []
        for index, record in enumerate(self.layers):
            for view in layer_views(record):
                path = os.path.join(directory, f"{index:02d}_{record.panel_id}_{view.key}.png")
                with open(path, "wb") as f:
                    f.write(view.png())
                written.append(path)
        return written


def _batch(x: Any, dtype: np.dtype) -> np.ndarray:
    array = np.asarray(x.data if isinstance(x, Tensor) else x)
    if array.dtype.kind not in "fiub" or array.ndim < 2 or array.shape[0] == 0:
        raise ValueError(f"inspect(): x must be a non-empty batch of numbers shaped (N, ...), e.g. (N, C, H, W); "
                         f"got {array.dtype} array of shape {array.shape}")
    return array.astype(dtype, copy=False)


def _labels(y: Any, n: int) -> Optional[np.ndarray]:
    if y is None:
        return None
    labels = np.asarray(y.data if isinstance(y, Tensor) else y).reshape(-1)
    if labels.dtype.kind not in "iu" and not (labels.dtype.kind == "f" and np.all(labels == np.round(labels))):
        raise ValueError(f"inspect(): y must hold integer class labels, got {labels.dtype}")
    if labels.shape[0] != n:
        raise ValueError(f"inspect(): y has {labels.shape[0]} labels for a batch of {n} inputs")
    return labels.astype(np.int64)


def _loss(out: Any, labels: Optional[np.ndarray], last: Optional[Module]) -> tuple:
    from cnnkit import functional as F
    from cnnkit.nn.activation import Softmax

    if not isinstance(out, Tensor) or out.ndim != 2:
        raise ValueError(f"inspect(): the model must return one (N, classes) Tensor, got "
                         f"{getattr(out, 'shape', type(out).__name__)}")
    if labels is None:
        return out.max(dim=1).sum(), "sum of each sample's largest output"
    if labels.min(initial=0) < 0 or labels.max(initial=0) >= out.shape[1]:
        raise ValueError(f"inspect(): labels must be in [0, {out.shape[1]}), got {labels.min()}..{labels.max()}")
    target = Tensor(labels)
    if isinstance(last, Softmax):
        return F.nll_loss(out.log(), target), "cross-entropy (log of the Softmax outputs)"
    return F.cross_entropy(out, target), "cross-entropy (mean over the batch)"


def _geometry(module: Module, input_shape: tuple) -> tuple:
    """The summary and, per (name, call), ``(kernel, stride, macs, receptive field)``, from cnnkit's tracer."""
    from cnnkit.training.summary import summary
    from cnnkit.training.trace import trace

    table = summary(module, input_shape, show=False)
    geometry: dict = {}
    for record, row in zip(trace(module, input_shape), table.rows):
        key = (record.name, sum(1 for k in geometry if k[0] == record.name) + 1)
        geometry[key] = (record.kernel, record.stride, row["macs"], row["receptive_field"])
    return table, geometry


def _stats(values: Optional[np.ndarray]) -> tuple:
    if values is None or values.size == 0:
        return None, None
    return float(values.max()), float(values.min())


def inspect(model: Any, x: Any, y: Any = None, train: bool = False) -> Report:
    """Run ``model`` forward and backward on the batch ``x`` and capture every layer.

    Args:
        model: a ``cnnkit.nn.Module`` or a ``cnnkit.Model``; it must return ``(N, classes)`` scores.
        x: the batch ``(N, C, H, W)`` (NumPy array or Tensor; cast to the weights' dtype).
        y: integer labels ``(N,)`` for a cross-entropy loss, or None (loss: sum of the top scores).
        train: run in training mode (dropout active, BatchNorm batch statistics, which then also
            update its running statistics); default evaluation mode. The mode is restored after.

    Returns:
        A :class:`Report`.

    Shape:
        x: ``(N, *input_shape)``; y: ``(N,)``.

    Example:
        >>> import numpy as np, cnnkit
        >>> from cnnkit import nn, viz
        >>> net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3))
        >>> report = viz.inspect(net, np.ones((2, 1, 4, 4), np.float32), y=[0, 2])
        >>> [(r.name, r.output_shape) for r in report.layers]
        [('input', (1, 4, 4)), ('0', (2, 2, 2)), ('1', (2, 2, 2)), ('2', (8,)), ('3', (3,))]
    """
    module = as_module(model, "inspect()")
    batch = _batch(x, param_dtype(module))
    labels = _labels(y, batch.shape[0])
    names = {id(m): name for name, m in module.named_modules()}
    leaves = [m for m in module.modules() if not any(True for _ in m.children())]
    calls: list = []  # (module, output tensor) per leaf call, in execution order

    def hook(layer: Module, args: tuple, out: Any) -> None:
        if isinstance(out, Tensor) and out.requires_grad:
            out.retain_grad()
        calls.append((layer, out))

    params = list(module.parameters())
    saved_grads = [p.grad for p in params]
    modes = [(m, m.training) for m in module.modules()]
    handles = [m.register_forward_hook(hook) for m in leaves]
    inputs = Tensor(batch, requires_grad=True)
    try:
        module.train(train)
        for p in params:
            p.grad = None
        with enable_grad():
            out = module(inputs)
            loss, loss_kind = _loss(out, labels, calls[-1][0] if calls else None)
            loss.backward()
        weight_grads = {id(p): (None if p.grad is None else np.array(p.grad.data)) for p in params}
    finally:
        for h in handles:
            h.remove()
        for m, mode in modes:
            object.__setattr__(m, "training", mode)
        for p, g in zip(params, saved_grads):
            p.grad = g

    table, geometry = _geometry(module, tuple(batch.shape[1:]))
    grad_x = None if inputs.grad is None else np.array(inputs.grad.data)
    records = [LayerStats(name="input", type="Input", call=1, output_shape=tuple(batch.shape[1:]), params=0,
                          max_activation=float(batch.max()), min_activation=float(batch.min()),
                          max_gradient=_stats(grad_x)[0], min_gradient=_stats(grad_x)[1],
                          activation=np.array(batch), gradient=grad_x)]
    seen: dict = {}
    for layer, output in calls:
        name = names.get(id(layer), type(layer).__name__)
        seen[name] = seen.get(name, 0) + 1
        activation = np.array(output.data) if isinstance(output, Tensor) else np.asarray(output)
        gradient = None
        if isinstance(output, Tensor) and output.grad is not None:
            gradient = np.array(output.grad.data)
        kernel, stride, macs, rf = geometry.get((name, seen[name]), (None, None, 0, None))
        own = list(layer.named_parameters(recurse=False))
        records.append(LayerStats(
            name=name, type=type(layer).__name__, call=seen[name], output_shape=tuple(activation.shape[1:]),
            params=sum(p.size for _, p in own),
            max_activation=_stats(activation)[0], min_activation=_stats(activation)[1],
            max_gradient=_stats(gradient)[0], min_gradient=_stats(gradient)[1],
            activation=activation, gradient=gradient,
            weights={n: np.array(p.data) for n, p in own}, weight_grads={n: weight_grads.get(id(p)) for n, p in own},
            kernel_size=kernel, stride=stride, macs=macs, receptive_field=rf))
        if isinstance(output, Tensor):
            output._retains_grad = False  # the caller may keep these tensors: stop filling .grad
            output.grad = None
    used: set = set()
    for record in records:  # one id per panel: the page's links and the PNG names must not collide
        candidate, k = record.panel_id, 2
        while candidate in used:
            candidate, k = f"{record.panel_id}-{k}", k + 1
        used.add(candidate)
        record.html_id = candidate
    return Report(layers=records, summary=table, loss=float(loss.data), loss_kind=loss_kind,
                  outputs=np.array(out.data), labels=labels, model_name=type(module).__name__)


def write_report(model: Any, x: Any, y: Any, path: Any, max_images: int = 8) -> str:
    """Inspect ``model`` on the first ``max_images`` of ``(x, y)`` and write the HTML page to ``path``.

    Called by ``cnnkit train`` at the end of a run and by ``cnnkit report``.

    Args:
        model: a ``cnnkit.nn.Module`` or ``cnnkit.Model``.
        x, y: a batch and its labels (``y`` may be None).
        path: the HTML file to write.
        max_images: how many samples to run (default 8; the page shows the first).

    Returns:
        The path written.
    """
    if max_images < 1:
        raise ValueError(f"write_report(): max_images must be at least 1, got {max_images}")
    y = None if y is None else np.asarray(y)[:max_images]
    return inspect(model, np.asarray(getattr(x, "data", x))[:max_images], y).save_html(path)
