"""Figures of a model and its training: filters, feature maps, history curves, confusion matrices.

Every function returns a matplotlib ``Figure`` (built without pyplot's global state, on the Agg
backend, never shown) and also writes it as a PNG when given ``path=`` (parent directories are
created). The figure size is ``figsize`` inches at ``dpi``, so the PNG is exactly
``figsize[0]*dpi x figsize[1]*dpi`` pixels.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any, Optional, Sequence

import numpy as np

from cnnkit.autograd.grad_mode import no_grad
from cnnkit.tensor import Tensor
from cnnkit.viz._deps import new_figure, save_figure, to_array
from cnnkit.viz._layers import LayerRef, as_module, capture, eval_mode, param_dtype, resolve_layer
from cnnkit.viz.images import tile


def _finish(fig: Any, path: Any) -> Any:
    if path is not None:
        save_figure(fig, path)
    return fig


def plot_filters(conv_layer_or_weights: Any, path: Any = None, ncols: Optional[int] = None,
                 normalize: Optional[str] = "each", cmap: str = "gray",
                 figsize: Optional[tuple] = None, dpi: int = 100, title: Optional[str] = None,
                 initial: Any = None) -> Any:
    """Show a convolution's filters as image tiles (what first-layer filters learn).

    After a short training the filters still carry much of their random initialisation; pass the
    weights from before training as ``initial`` to also draw what training added
    (``weights − initial``), where the learned edge and stroke detectors stand out.

    Args:
        conv_layer_or_weights: a conv layer (its ``.weight`` is used) or weights ``(O, C, kH, kW)``
            as a NumPy array or Tensor.
        path: write the figure here as PNG (optional).
        ncols: tiles per row; default ``ceil(sqrt(O))`` for ``C`` in (1, 3), else ``C`` (one row
            per filter, one tile per input channel).
        normalize: see :func:`cnnkit.viz.tile` (default ``'each'``: every filter scaled on its own).
        cmap: colormap for single-channel tiles (3-channel filters are drawn as RGB).
        figsize, dpi: figure size in inches (default 6×6, 12×6 with ``initial``) and resolution.
        title: figure title (default describes the filters).
        initial: the same layer's weights before training (array or Tensor of the same shape); adds a
            second panel with the change ``weights − initial``, scaled the same way.

    Shape:
        weights ``(O, C, kH, kW)``: ``C == 3`` gives O RGB tiles, otherwise ``O·C`` grayscale tiles.

    Example:
        >>> import cnnkit
        >>> fig = plot_filters(cnnkit.nn.Conv2d(3, 6, 5))
        >>> fig.axes[0].images[0].get_array().shape
        (11, 17, 3)
    """
    source = conv_layer_or_weights
    weight = getattr(source, "weight", None) if not isinstance(source, (np.ndarray, Tensor)) else None
    what = type(source).__name__ if weight is not None else "weights"
    weights = to_array(weight if weight is not None else source, "plot_filters()", "weights")
    if weights.ndim != 4:
        raise ValueError(f"plot_filters(): expected a Conv2d layer or weights of shape (out_channels, "
                         f"in_channels, kH, kW), got {what} of shape {weights.shape}; for a Conv1d/Conv3d "
                         f"or Linear layer reshape the weights to 4-D first")
    out_c, in_c = weights.shape[:2]
    if weights.size == 0:
        raise ValueError(f"plot_filters(): {what} of shape {weights.shape} holds no filter values to draw; "
                         f"pass a layer with at least one output and input channel")
    panels = [(weights, title or f"{out_c} filters {weights.shape[2]}×{weights.shape[3]}")]
    if initial is not None:
        start = to_array(initial, "plot_filters()", "initial")
        if start.shape != weights.shape:
            raise ValueError(f"plot_filters(): initial weights of shape {start.shape} do not match the filters' "
                             f"{weights.shape}; pass the same layer's weights from before training")
        panels.append((weights - start, "change since initialisation (what training added)"))
    rgb = in_c == 3
    cols = ncols if ncols is not None else (math.ceil(math.sqrt(out_c)) if in_c in (1, 3) else in_c)
    kind = "RGB" if rgb else ("grayscale" if in_c == 1 else f"{in_c} channels per filter, one row each")
    scaling = {"each": "each filter min-max scaled", "all": "one scale for all", None: "raw values"}[normalize]
    fig = new_figure("plot_filters()", figsize or (6.0 * len(panels), 6.0), dpi)
    for index, (values, caption) in enumerate(panels):
        # NaN gaps are drawn transparent, so the tiles stand apart on the figure background
        grid = tile(values, ncols=cols, pad=1, normalize=normalize, pad_value=np.nan)
        if rgb and normalize is None:
            grid = np.clip(grid, 0.0, 1.0)  # RGB is shown as-is; values outside [0, 1] have no colour
        ax = fig.add_subplot(1, len(panels), index + 1)
        ax.imshow(grid, cmap=None if rgb else cmap, interpolation="nearest")
        ax.set_axis_off()
        ax.set_title(f"{caption}\n({kind}; {scaling})" if index or title is None else caption, fontsize=10)
    return _finish(fig, path)


def _as_batch(x: Any, dtype: np.dtype, caller: str) -> Tensor:
    data = to_array(x, caller, "x")
    if data.ndim == 2:  # one grayscale image
        data = data[None, None]
    elif data.ndim == 3:  # one (C, H, W) sample
        data = data[None]
    elif data.ndim != 4 or data.shape[0] != 1:
        raise ValueError(f"{caller}: x must be one input: (H, W), (C, H, W) or (1, C, H, W), got shape "
                         f"{data.shape}; pick one sample, e.g. x[i:i + 1]")
    return Tensor(data.astype(dtype))


def activation_maps(model: Any, x: Any, layer: LayerRef) -> np.ndarray:
    """The output of ``layer`` for one input ``x`` (batch dim dropped), captured with a forward hook.

    The model runs in evaluation mode under ``no_grad``; its training flags are restored and the
    hook is removed afterwards, even on error.

    Args:
        model: a cnnkit Module or ``cnnkit.Model``.
        x: one input ``(H, W)``, ``(C, H, W)`` or ``(1, C, H, W)``.
        layer: a submodule, an index into a Sequential, or a dotted name from ``named_modules()``.

    Example:
        >>> import cnnkit
        >>> net = cnnkit.nn.Sequential(cnnkit.nn.Conv2d(1, 4, 3), cnnkit.nn.ReLU())
        >>> activation_maps(net, cnnkit.zeros(8, 8), 1).shape
        (4, 6, 6)
    """
    module = as_module(model, "activation_maps()")
    name, target = resolve_layer(module, layer, "activation_maps()")
    batch = _as_batch(x, param_dtype(module), "activation_maps()")
    with eval_mode(module), no_grad():
        out = capture(module, target, batch, name, "activation_maps()")
    return np.array(out.data[0], dtype=np.float64)


def plot_activations(model: Any, x: Any, layer: LayerRef, path: Any = None, ncols: Optional[int] = None,
                     normalize: Optional[str] = "each", cmap: str = "viridis",
                     figsize: tuple = (8.0, 8.0), dpi: int = 100) -> Any:
    """The feature maps of one input at ``layer``: one tile per channel (or a bar per unit if flat).

    Args:
        model: a cnnkit Module or ``cnnkit.Model``.
        x: one input ``(H, W)``, ``(C, H, W)`` or ``(1, C, H, W)``.
        layer: a submodule, an index into a Sequential, or a dotted name from ``named_modules()``.
        path: write the figure here as PNG (optional).
        ncols, normalize: grid layout and scaling, see :func:`cnnkit.viz.tile` (default
            ``'each'``: every map scaled on its own, so weak maps stay visible; the title gives the
            overall min and max).
        cmap: colormap of the maps.
        figsize, dpi: figure size in inches and resolution.

    Shape:
        A layer output ``(1, C, H, W)`` gives C tiles; ``(1, F)`` gives a bar chart of F units.

    Example:
        >>> import cnnkit
        >>> net = cnnkit.nn.Sequential(cnnkit.nn.Conv2d(1, 4, 3), cnnkit.nn.ReLU())
        >>> fig = plot_activations(net, cnnkit.randn(1, 8, 8), "0")
        >>> fig.axes[0].images[0].get_array().shape
        (13, 13)
    """
    module = as_module(model, "plot_activations()")
    name, _ = resolve_layer(module, layer, "plot_activations()")
    maps = activation_maps(module, x, layer)
    fig = new_figure("plot_activations()", figsize, dpi)
    ax = fig.add_subplot(1, 1, 1)
    label = f"{name} ({type(dict(module.named_modules())[name]).__name__})" if name else "model output"
    if maps.ndim == 3:
        grid = tile(maps, ncols=ncols, pad=1, normalize=normalize, pad_value=np.nan)  # NaN gaps: transparent
        ax.imshow(grid, cmap=cmap, interpolation="nearest")
        ax.set_axis_off()
        shape = "×".join(map(str, maps.shape))
    elif maps.ndim == 1:
        ax.bar(np.arange(maps.size), maps, color="tab:blue")
        ax.set_xlabel("unit")
        ax.set_ylabel("activation")
        shape = str(maps.size)
    else:
        raise ValueError(f"plot_activations(): layer {name!r} outputs shape {(1,) + maps.shape}; only "
                         f"(1, C, H, W) feature maps or (1, F) vectors can be drawn")
    ax.set_title(f"{label}: {shape}, min {maps.min():.3g}, max {maps.max():.3g}", fontsize=10)
    return _finish(fig, path)


def _epoch_numbers(history: Any) -> Optional[np.ndarray]:
    """1-based epoch numbers of a History (``.epoch`` holds 0-based ones; after ``fit(initial_epoch=k)``
    they start at k), or None when ``history`` does not carry them."""
    holder = history if hasattr(history, "epoch") else getattr(history, "history", None)
    epochs = getattr(holder, "epoch", None)
    if not isinstance(epochs, (list, tuple)) or not epochs or not all(isinstance(e, (int, np.integer)) for e in epochs):
        return None
    return np.asarray(epochs, dtype=np.int64) + 1


def _load_history(history: Any) -> dict:
    if isinstance(history, (str, os.PathLike)):
        try:
            with open(history, encoding="utf-8") as f:
                history = json.load(f)
        except OSError as error:
            raise FileNotFoundError(f"plot_history(): cannot read {os.fspath(history)!r} "
                                    f"({error.strerror or error}); pass a run's history.json") from None
        except json.JSONDecodeError as error:
            raise ValueError(f"plot_history(): {os.fspath(history)!r} is not valid JSON ({error})") from None
    inner = getattr(history, "history", history)
    inner = getattr(inner, "history", inner)  # a cnnkit.Model holds a History, which holds the dict
    if not isinstance(inner, dict):
        raise TypeError(f"plot_history(): expected a History, a dict of lists or a history.json path, got "
                        f"{type(history).__name__}")
    curves = {}
    for key, values in inner.items():
        try:
            array = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"plot_history(): {key!r} must be a list of numbers, got {values!r:.80}") from None
        if array.ndim != 1:
            raise ValueError(f"plot_history(): {key!r} must be a flat list of per-epoch numbers, got shape "
                             f"{array.shape}")
        curves[str(key)] = array
    if not curves or all(v.size == 0 for v in curves.values()):
        raise ValueError("plot_history(): the history is empty (no epochs recorded); train first")
    return curves


def plot_history(history: Any, path: Any = None, figsize: Optional[tuple] = None, dpi: int = 100) -> Any:
    """Loss and metric curves per epoch: one panel per quantity, training solid, ``val_*`` dashed.

    Args:
        history: a ``cnnkit`` History (``model.fit``'s result), a ``cnnkit.Model`` after ``fit``, a
            dict of per-epoch lists, or the path of a run's ``history.json``. A History's own epoch
            numbers label the x axis (a resumed ``fit(initial_epoch=5)`` starts at epoch 6); plain
            lists count from epoch 1.
        path: write the figure here as PNG (optional).
        figsize: default ``(4.5 · panels, 3.6)``; dpi: resolution.

    Example:
        >>> fig = plot_history({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "accuracy": [0.6, 0.8]})
        >>> [ax.get_title() for ax in fig.axes]
        ['loss', 'accuracy']
    """
    curves = _load_history(history)
    numbers = _epoch_numbers(history)
    from matplotlib.ticker import MaxNLocator
    bases: list = []
    for key in curves:
        base = key[4:] if key.startswith("val_") else key
        if base not in bases:
            bases.append(base)
    bases.sort(key=lambda b: b != "loss")  # loss first, the rest in recorded order
    size = figsize or (4.5 * len(bases), 3.6)
    fig = new_figure("plot_history()", size, dpi)
    for i, base in enumerate(bases):
        ax = fig.add_subplot(1, len(bases), i + 1)
        for key, style, label in ((base, "-", "train"), ("val_" + base, "--", "validation")):
            if key in curves and curves[key].size:
                values = curves[key]
                x = numbers if numbers is not None and numbers.size == values.size else np.arange(1, values.size + 1)
                ax.plot(x, values, style, marker="o", markersize=3, label=label)
        ax.set_title(base)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return _finish(fig, path)


def plot_confusion_matrix(y_true: Any, y_pred: Any, class_names: Optional[Sequence[str]] = None,
                          normalize: bool = False, path: Any = None, cmap: str = "Blues",
                          figsize: Optional[tuple] = None, dpi: int = 100) -> Any:
    """The confusion matrix as an annotated heat map (rows: true class, columns: predicted).

    Args:
        y_true: integer labels ``(N,)``.
        y_pred: integer predictions ``(N,)`` or scores ``(N, K)`` (arg-max taken).
        class_names: tick labels; also fixes the number of classes (default: from the data).
        normalize: show each row as fractions of its true class (recall on the diagonal); an
            empty row stays 0.
        path: write the figure here as PNG (optional).
        cmap: colormap; figsize: default ``(1 + 0.6·K, 0.8 + 0.6·K)`` at least 4 inches; dpi.

    Example:
        >>> fig = plot_confusion_matrix([0, 1, 1], [0, 1, 0])
        >>> fig.axes[0].images[0].get_array().tolist()
        [[1, 0], [1, 1]]
    """
    from cnnkit.training.metrics import confusion_matrix

    names = None if class_names is None else [str(c) for c in class_names]
    counts = confusion_matrix(y_true, y_pred, num_classes=None if names is None else len(names))
    k = counts.shape[0]
    if k == 0:
        raise ValueError("plot_confusion_matrix(): y_true and y_pred are empty, so there is no class to draw; "
                         "pass the labels and predictions of at least one sample (or class_names=)")
    names = names or [str(i) for i in range(k)]
    if normalize:
        totals = counts.sum(axis=1, keepdims=True)
        values = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    else:
        values = counts
    side = max(4.0, 0.6 * k)
    # constrained layout keeps the colorbar's labels inside the figure (tight_layout may clip them)
    fig = new_figure("plot_confusion_matrix()", figsize or (side + 1.0, side + 0.8), dpi, layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(values, cmap=cmap, vmin=0, vmax=1.0 if normalize else None, interpolation="nearest")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    if k <= 30:  # beyond that the numbers would not fit in the cells
        threshold = values.max() / 2 if values.max() > 0 else 1
        for i in range(k):
            for j in range(k):
                text = f"{values[i, j]:.2f}" if normalize else str(int(values[i, j]))
                ax.text(j, i, text, ha="center", va="center", fontsize=8,
                        color="white" if values[i, j] > threshold else "black")
    ax.set_xticks(range(k), names, rotation=45 if max(map(len, names)) > 2 else 0)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    total = counts.sum()
    score = f"accuracy {np.trace(counts) / total:.2%} of {total}" if total else "no samples"
    ax.set_title(f"confusion matrix{' (row-normalised)' if normalize else ''}: {score}", fontsize=10)
    return _finish(fig, path)
