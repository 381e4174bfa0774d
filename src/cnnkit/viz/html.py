"""The inspector's pictures and its self-contained HTML page (see :mod:`cnnkit.viz.inspector`).

Pictures, for the first sample of the batch:

* a ``(C, H, W)`` output (or its gradient) is a grid of its channels, each min-max scaled on its
  own, ``ceil(sqrt(C))`` per row, 1 pixel apart; a ``(F,)`` output is a grid of one pixel per unit,
  up to 32 per row, scaled together (as ConvNetJS draws fully connected layers); other shapes are
  flattened to one of these two;
* conv weights ``(O, I, kh, kw)`` are one row per filter and one column per input channel (RGB
  tiles when I = 3); 2-D weights (Linear) are one image, rows = output units; 1-D weights are
  drawn like a ``(F,)`` output.

At most :data:`MAX_MAPS` channels, :data:`MAX_UNITS` units, :data:`MAX_FILTERS` filters x
:data:`MAX_CHANNELS` channels and :data:`MAX_MATRIX` rows/columns are drawn; the caption says so
when a picture is cut. Every grid is enlarged by the integer factor of :func:`scale_for`.

The page has no external reference: inline CSS, one tiny inline script (click a layer's title to
fold its pictures), images as ``data:image/png`` URIs; all text is HTML-escaped.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

MAX_MAPS = 64
MAX_UNITS = 1024
MAX_FILTERS = 32
MAX_CHANNELS = 16
MAX_MATRIX = 512


def scale_for(tile_shape: tuple, grid_shape: tuple) -> int:
    """The nearest-neighbour enlargement of a grid: ``max(1, min(8, 64 // tile side, 1024 // grid side))``.

    Small tiles (5x5 filters, 1x1 units) become visible, big grids stay under about 1024 pixels.
    """
    return max(1, min(8, 64 // max(tile_shape[:2]), 1024 // max(grid_shape[:2])))


@dataclass
class View:
    """One picture of a layer: ``key`` (file suffix), ``title``, the image and its enlargement."""

    key: str
    title: str
    image: np.ndarray
    scale: int
    note: str = ""

    def png(self) -> bytes:
        from cnnkit.viz.images import to_png_bytes

        rgb = self.image.ndim == 3
        return to_png_bytes(self.image, scale=self.scale, vmin=0.0 if rgb else None, vmax=1.0 if rgb else None)

    def data_uri(self) -> str:
        import base64

        return "data:image/png;base64," + base64.b64encode(self.png()).decode("ascii")


def _units(values: np.ndarray, what: str) -> tuple:
    """A ``(F,)`` vector as one pixel per unit."""
    from cnnkit.viz.images import tile

    flat = values.reshape(-1)
    note = f"first {MAX_UNITS} of {flat.size} {what}" if flat.size > MAX_UNITS else ""
    flat = flat[:MAX_UNITS]
    grid = tile(flat.reshape(-1, 1, 1), ncols=min(flat.size, 32), pad=1, normalize="all")
    return grid, (1, 1), note


def _maps(values: np.ndarray) -> tuple:
    """One sample's output (or gradient) as ``(grid, tile shape, note)``."""
    from cnnkit.viz.images import tile

    if values.ndim <= 1:
        return _units(values, "units")
    maps = values.reshape(values.shape[0], 1, -1) if values.ndim == 2 else values.reshape(-1, *values.shape[-2:])
    note = f"first {MAX_MAPS} of {maps.shape[0]} channels" if maps.shape[0] > MAX_MAPS else ""
    maps = maps[:MAX_MAPS]
    return tile(maps, pad=1, normalize="each"), maps.shape[1:], note


def _weights(values: np.ndarray) -> tuple:
    """A parameter (or its gradient) as ``(grid or image, tile shape, note)``."""
    from cnnkit.viz.images import tile

    if values.ndim <= 1:
        return _units(values, "values")
    if values.ndim == 2:
        rows, cols = min(values.shape[0], MAX_MATRIX), min(values.shape[1], MAX_MATRIX)
        note = f"first {rows} x {cols} of {values.shape[0]} x {values.shape[1]}" if (rows, cols) != values.shape else ""
        image = np.array(values[:rows, :cols], dtype=np.float64)
        return image, image.shape, note
    w = values.reshape(values.shape[0], values.shape[1], values.shape[2], -1)
    o, i = w.shape[:2]
    if i == 3:  # colour filters: one RGB tile per filter
        kept = w[:MAX_FILTERS]
        note = f"first {MAX_FILTERS} of {o} filters" if o > MAX_FILTERS else ""
        return tile(kept, pad=1, normalize="each"), kept.shape[2:], note
    kept = w[:MAX_FILTERS, :MAX_CHANNELS]
    cut = [f"{MAX_FILTERS} of {o} filters" if o > MAX_FILTERS else "",
           f"{MAX_CHANNELS} of {i} input channels" if i > MAX_CHANNELS else ""]
    note = ("first " + " x ".join(c for c in cut if c)) if any(cut) else ""
    ncols = kept.shape[1] if kept.shape[1] > 1 else None  # one row per filter
    return tile(kept, ncols=ncols, pad=1, normalize="each"), kept.shape[2:], note


def _view(key: str, title: str, values: Optional[np.ndarray], layout: Any) -> Optional[View]:
    if values is None or values.size == 0 or not np.all(np.isfinite(values)):
        return None
    image, tile_shape, note = layout(np.asarray(values, dtype=np.float64))
    return View(key, title, image, scale_for(tile_shape, image.shape), note)


def shown_parameter(record: Any) -> Optional[str]:
    """The parameter a layer's weight pictures show: ``weight`` when it has one, else its first."""
    if "weight" in record.weights:
        return "weight"
    return next(iter(record.weights), None)


def layer_views(record: Any) -> list:
    """The pictures of one :class:`~cnnkit.viz.inspector.LayerStats`: activations, gradients,
    weights and weight gradients (those that exist), for the first sample."""
    views = [_view("activations", "Activations", record.activation[0], _maps),
             _view("gradients", "Activation gradients", None if record.gradient is None else record.gradient[0], _maps)]
    name = shown_parameter(record)
    if name is not None:
        views.append(_view("weights", f"Weights ({name})", record.weights[name], _weights))
        views.append(_view("weight_grads", f"Weight gradients ({name})", record.weight_grads.get(name), _weights))
    return [v for v in views if v is not None]


# ------------------------------------------------------------------------------------------ page
_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;margin:1.5em;color:#222;
background:#fafafa}
h1{font-size:1.5em;margin:0 0 .2em}h2{font-size:1.2em;margin:1.2em 0 .4em}
table.summary{border-collapse:collapse;font-size:.85em;background:#fff}
table.summary th,table.summary td{border:1px solid #ddd;padding:.25em .6em;text-align:right}
table.summary th:nth-child(-n+2),table.summary td:nth-child(-n+2){text-align:left}
.layer-panel{display:flex;gap:1.2em;background:#fff;border:1px solid #ddd;border-radius:4px;margin:.6em 0;
padding:.6em}
.layer-info{min-width:17em;max-width:17em;font-size:.85em}
.layer-info h3{margin:0 0 .3em;font-size:1.05em;cursor:pointer}
.layer-info dl{display:grid;grid-template-columns:auto auto;gap:.1em .6em;margin:0}
.layer-info dt{color:#666}.layer-info dd{margin:0;font-family:ui-monospace,Menlo,Consolas,monospace}
.layer-views{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}
.layer-views figure{margin:0}.layer-views figcaption{font-size:.8em;color:#555}
.layer-views img{image-rendering:pixelated;max-width:46em;border:1px solid #ccc}
.collapsed .layer-views{display:none}.muted{color:#888}
"""

# Click a layer's title to fold its pictures (no external code, no network).
_JS = ("document.querySelectorAll('.layer-info h3').forEach(function(h){h.addEventListener('click',"
       "function(){h.closest('.layer-panel').classList.toggle('collapsed');});});")


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: Optional[float]) -> str:
    return "—" if value is None else f"{value:.6g}"


def _dims(shape: Any) -> str:
    if shape is None:
        return "—"
    if isinstance(shape, (tuple, list)):
        return " × ".join(str(n) for n in shape) if shape else "scalar"
    return str(shape)


def _summary_table(report: Any) -> str:
    s = report.summary
    rows = ["<tr><th>Layer</th><th>Type</th><th>Output shape</th><th>Weights</th><th>Params</th><th>MACs</th>"
            "<th>Receptive field</th><th>Jump</th></tr>",
            f"<tr><td><a href=\"#layer-input\">input</a></td><td>Input</td><td>{_e(_dims(s.input_shape))}</td>"
            "<td></td><td>0</td><td>0</td><td>1</td><td>1</td></tr>"]
    ids: dict = {}
    for record in report.layers[1:]:
        ids.setdefault(record.name, []).append(record.panel_id)
    seen: dict = {}
    for r in s.rows:
        seen[r["name"]] = seen.get(r["name"], 0) + 1
        targets = ids.get(r["name"], [])
        target = targets[seen[r["name"]] - 1] if seen[r["name"]] <= len(targets) else None
        name = f"<a href=\"#{_e(target)}\">{_e(r['name'])}</a>" if target else _e(r["name"])
        rows.append(f"<tr><td>{name}</td><td>{_e(r['layer'])}</td><td>{_e(_dims(r['output_shape']))}</td>"
                    f"<td>{_e(r['weight_formula'])}</td><td>{r['params']:,}</td><td>{r['macs']:,}</td>"
                    f"<td>{_e(_dims(r['receptive_field']))}</td><td>{_e(_dims(r['jump']))}</td></tr>")
    totals = (f"Total params: {s.total_params:,} (trainable {s.trainable_params:,}); total MACs per sample: "
              f"{s.total_macs:,}; activation memory per sample: {s.activation_bytes / 1024:,.1f} KiB")
    return f"<table class=\"summary\">{''.join(rows)}</table><p>{_e(totals)}</p>"


def _panel(record: Any) -> str:
    window = "—"
    if record.kernel_size is not None:
        window = f"{_dims(record.kernel_size)}, stride {_dims(record.stride)}"
    facts = [("output shape", _dims(record.output_shape)), ("filter, stride", window),
             ("parameters", f"{record.params:,}"), ("MACs", f"{record.macs:,}"),
             ("receptive field", _dims(record.receptive_field)),
             ("max activation", _num(record.max_activation)), ("min activation", _num(record.min_activation)),
             ("max gradient", _num(record.max_gradient)), ("min gradient", _num(record.min_gradient))]
    for pname, values in record.weights.items():
        grad = record.weight_grads.get(pname)
        facts.append((f"{pname} {_dims(values.shape)}", f"[{_num(float(values.min()))}, {_num(float(values.max()))}]"
                      if values.size else "empty"))
        facts.append((f"{pname} gradient", "—" if grad is None or not grad.size else
                      f"[{_num(float(grad.min()))}, {_num(float(grad.max()))}]"))
    info = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts)
    # A model that is itself one layer (inspect(nn.Linear(3, 2), x)) has the empty name.
    title = (record.name or "(the model itself)") + (f" (call {record.call})" if record.call > 1 else "")
    figures = []
    for view in layer_views(record):
        caption = view.title + (f" — {view.note}" if view.note else "")
        figures.append(f"<figure class=\"view-{_e(view.key)}\"><img alt=\"{_e(caption)}\" src=\"{view.data_uri()}\">"
                       f"<figcaption>{_e(caption)}</figcaption></figure>")
    if not figures:
        figures.append("<p class=\"muted\">nothing to draw (non-finite or empty values)</p>")
    return (f"<div class=\"layer-panel\" id=\"{_e(record.panel_id)}\" data-layer=\"{_e(record.name)}\">"
            f"<div class=\"layer-info\"><h3>{_e(title)} <span class=\"muted\">{_e(record.type)}</span></h3>"
            f"<dl>{info}</dl></div><div class=\"layer-views\">{''.join(figures)}</div></div>")


def render_html(report: Any) -> str:
    """The whole inspector page for a :class:`~cnnkit.viz.inspector.Report` as one string."""
    outputs = report.outputs
    first = ""
    if outputs.ndim == 2 and outputs.shape[0]:
        predicted = int(np.argmax(outputs[0]))
        label = "" if report.labels is None else f", label {int(report.labels[0])}"
        first = f"Sample 0: predicted class {predicted} (score {_num(float(outputs[0, predicted]))}){label}. "
    n = report.layers[0].activation.shape[0]
    intro = (f"{report.model_name}, batch of {n}; loss = {report.loss_kind}: {_num(report.loss)}. {first}"
             "Statistics are over the whole batch; pictures show sample 0 (each map min-max scaled).")
    panels = "".join(_panel(r) for r in report.layers)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>cnnkit inspector — {_e(report.model_name)}</title><style>{_CSS}</style></head><body>"
            f"<h1>cnnkit inspector</h1><p>{_e(intro)}</p><h2>Summary</h2>{_summary_table(report)}"
            f"<h2>Layers</h2><div id=\"layers\">{panels}</div><script>{_JS}</script></body></html>\n")

