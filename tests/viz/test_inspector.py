"""viz.inspect: captured statistics against a NumPy forward/backward written out by hand, model state
left untouched, PNG views, the self-contained HTML page, and its errors."""

from __future__ import annotations

import re

import numpy as np
import pytest

import cnnkit
from cnnkit import nn
from cnnkit.viz import inspect

pytest.importorskip("PIL")


def _net(seed=0):
    cnnkit.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(48, 5))


def _batch(n=3, seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 2, 8, 8)).astype(np.float32), rng.integers(0, 5, n)


# ------------------------------------------------------------------- reference written by hand
def _conv(x, w, b):
    """Cross-correlation with padding 1, stride 1: out[n,o,i,j] = Σ w[o,c,p,q]·xpad[n,c,i+p,j+q] + b[o]."""
    n, c, h, wd = x.shape
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
    out = np.zeros((n, w.shape[0], h, wd))
    for p in range(3):
        for q in range(3):
            out += np.einsum("nchw,oc->nohw", xp[:, :, p:p + h, q:q + wd], w[:, :, p, q])
    return out + b[None, :, None, None], xp


def _reference(model, x, y):
    """Forward and backward of _net by hand (float64): activations, d loss/d activation, weight grads."""
    w1, b1 = model[0].weight.numpy().astype(np.float64), model[0].bias.numpy().astype(np.float64)
    w2, b2 = model[4].weight.numpy().astype(np.float64), model[4].bias.numpy().astype(np.float64)
    n = len(x)
    a0, xp = _conv(x, w1, b1)
    a1 = np.maximum(a0, 0)
    windows = a1.reshape(n, 3, 4, 2, 4, 2)
    a2 = windows.max(axis=(3, 5))
    a3 = a2.reshape(n, -1)
    a4 = a3 @ w2.T + b2
    shifted = a4 - a4.max(axis=1, keepdims=True)
    prob = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(prob[np.arange(n), y]))
    g4 = (prob - np.eye(5)[y]) / n
    g3 = g4 @ w2
    g2 = g3.reshape(a2.shape)
    # Max pooling sends each window's gradient to its (first) largest element.
    flat = windows.transpose(0, 1, 2, 4, 3, 5).reshape(n, 3, 4, 4, 4)
    mask = np.zeros_like(flat)
    idx = flat.argmax(axis=-1)
    np.put_along_axis(mask, idx[..., None], 1.0, axis=-1)
    g1 = (mask * g2[..., None]).reshape(n, 3, 4, 4, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(a1.shape)
    g0 = g1 * (a0 > 0)
    gw1 = np.zeros_like(w1)
    for p in range(3):
        for q in range(3):
            gw1[:, :, p, q] = np.einsum("nohw,nchw->oc", g0, xp[:, :, p:p + 8, q:q + 8])
    gx = np.zeros_like(xp)
    for p in range(3):
        for q in range(3):
            gx[:, :, p:p + 8, q:q + 8] += np.einsum("nohw,oc->nchw", g0, w1[:, :, p, q])
    return {"loss": loss, "acts": [x, a0, a1, a2, a3, a4], "grads": [gx[:, :, 1:-1, 1:-1], g0, g1, g2, g3, g4],
            "weight_grads": {"0": (gw1, g0.sum(axis=(0, 2, 3))), "4": (g4.T @ a3, g4.sum(axis=0))}}


def test_statistics_match_a_forward_and_backward_by_hand():
    model = _net()
    x, y = _batch()
    report = inspect(model, x, y)
    ref = _reference(model, x, y)
    assert [(r.name, r.type) for r in report.layers] == [
        ("input", "Input"), ("0", "Conv2d"), ("1", "ReLU"), ("2", "MaxPool2d"), ("3", "Flatten"), ("4", "Linear")]
    assert report.loss == pytest.approx(ref["loss"], rel=1e-5)
    for record, act, grad in zip(report.layers, ref["acts"], ref["grads"]):
        assert record.output_shape == act.shape[1:]
        np.testing.assert_allclose(record.activation, act, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(record.gradient, grad, rtol=1e-4, atol=1e-7)
        assert record.max_activation == pytest.approx(act.max(), rel=1e-5, abs=1e-6)
        assert record.min_activation == pytest.approx(act.min(), rel=1e-5, abs=1e-6)
        assert record.max_gradient == pytest.approx(grad.max(), rel=1e-4, abs=1e-8)
        assert record.min_gradient == pytest.approx(grad.min(), rel=1e-4, abs=1e-8)
    for name, (gw, gb) in ref["weight_grads"].items():
        record = report.layer(name)
        np.testing.assert_allclose(record.weight_grads["weight"], gw, rtol=1e-4, atol=1e-7)
        np.testing.assert_allclose(record.weight_grads["bias"], gb, rtol=1e-4, atol=1e-7)
    conv, linear = report.layer("0"), report.layer("4")
    assert (conv.params, conv.kernel_size, conv.stride) == (2 * 3 * 9 + 3, (3, 3), (1, 1))
    assert (linear.params, linear.kernel_size) == (48 * 5 + 5, None)
    assert conv.macs == 3 * 8 * 8 * (2 * 9) and linear.macs == 5 * 48
    assert (conv.receptive_field, report.layer("2").receptive_field) == (3, 4)
    assert report.layer("2").kernel_size == (2, 2) and report.layer("2").stride == (2, 2)


def test_without_labels_the_loss_is_the_sum_of_top_scores():
    model = _net()
    x, _ = _batch()
    report = inspect(model, x)
    logits = _reference(model, x, np.zeros(3, int))["acts"][-1]
    assert report.loss == pytest.approx(logits.max(axis=1).sum(), rel=1e-5)
    np.testing.assert_array_equal(report.layers[-1].gradient, np.eye(5)[logits.argmax(axis=1)])
    assert report.labels is None


def test_softmax_output_uses_the_log_of_the_probabilities():
    cnnkit.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.Softmax(dim=1))
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    y = np.array([0, 1, 2, 1, 0])
    report = inspect(model, x, y)
    z = x.astype(np.float64) @ model[0].weight.numpy().T + model[0].bias.numpy()
    logp = z - z.max(1, keepdims=True) - np.log(np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True))
    assert report.loss == pytest.approx(-logp[np.arange(5), y].mean(), rel=1e-5)


def test_model_state_is_left_as_it_was():
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.Dropout(0.5),
                          nn.Flatten(), nn.Linear(192, 5))
    model.train()
    model[1].eval()  # a mixed mode must come back exactly
    grads = {}
    for i, p in enumerate(model.parameters()):
        if i % 2 == 0:
            p.grad = cnnkit.tensor(np.full(p.shape, 7.0, np.float32))
            grads[id(p)] = p.grad
    mean_before = model[1].running_mean.numpy().copy()
    x, y = _batch()
    report = inspect(model, x, y)
    assert [m.training for m in model.modules()] == [True, True, False, True, True, True, True]
    for i, p in enumerate(model.parameters()):
        if i % 2 == 0:
            assert p.grad is grads[id(p)] and np.all(p.grad.numpy() == 7.0)
        else:
            assert p.grad is None
    assert all(not m._forward_hooks for m in model.modules())
    np.testing.assert_array_equal(model[1].running_mean.numpy(), mean_before)  # eval mode: BN untouched
    # Dropout was off: two inspections agree exactly.
    np.testing.assert_array_equal(inspect(model, x, y).layers[-1].activation, report.layers[-1].activation)


class _Boom(nn.Module):
    def forward(self, x):
        raise RuntimeError("boom")


def test_errors_inside_the_model_still_restore_everything():
    model = nn.Sequential(nn.Flatten(), nn.Linear(128, 5), _Boom())
    model.train()
    weight_grad = cnnkit.ones(5, 128)
    model[1].weight.grad = weight_grad
    with pytest.raises(RuntimeError, match="boom"):
        inspect(model, _batch()[0])
    assert all(m.training for m in model.modules())
    assert all(not m._forward_hooks for m in model.modules())
    assert model[1].weight.grad is weight_grad and model[1].bias.grad is None


def test_a_module_called_twice_gets_a_record_per_call():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            return self.fc(self.fc(x))

    cnnkit.manual_seed(3)
    model = Twice()
    x = np.random.default_rng(2).standard_normal((2, 4)).astype(np.float32)
    report = inspect(model, x, [1, 3])
    assert [(r.name, r.call) for r in report.layers] == [("input", 1), ("fc", 1), ("fc", 2)]
    w, b = model.fc.weight.numpy().astype(np.float64), model.fc.bias.numpy()
    h1 = x @ w.T + b
    h2 = h1 @ w.T + b
    np.testing.assert_allclose(report.layer("fc", 2).activation, h2, rtol=1e-5)
    p = np.exp(h2 - h2.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    g2 = (p - np.eye(4)[[1, 3]]) / 2
    np.testing.assert_allclose(report.layer("fc", 2).gradient, g2, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(report.layer("fc", 1).gradient, g2 @ w, rtol=1e-4, atol=1e-7)
    assert report.layer("fc", 2).panel_id != report.layer("fc", 1).panel_id


@pytest.mark.parametrize("x, y, match", [
    (np.zeros((0, 2, 8, 8)), None, "non-empty batch"),
    (np.zeros(8), None, r"shaped \(N, ...\)"),
    (np.zeros((3, 2, 8, 8)), [1, 2], "2 labels for a batch of 3"),
    (np.zeros((3, 2, 8, 8)), [0, 1, 5], r"labels must be in \[0, 5\)"),
    (np.zeros((3, 2, 8, 8)), [0.5, 1, 2], "integer class labels"),
])
def test_bad_inputs_are_explained(x, y, match):
    with pytest.raises(ValueError, match=match):
        inspect(_net(), x, y)


def test_a_model_without_class_scores_is_explained():
    with pytest.raises(ValueError, match=r"one \(N, classes\) Tensor"):
        inspect(nn.Sequential(nn.Conv2d(2, 1, 3)), _batch()[0])
    with pytest.raises(TypeError, match="cnnkit.nn.Module or a cnnkit.Model"):
        inspect("model", _batch()[0])


# ------------------------------------------------------------------------------------ PNG views
def test_png_views_are_valid_non_blank_and_sized_as_documented(tmp_path):
    from PIL import Image

    model = _net()
    x, y = _batch()
    paths = inspect(model, x, y).save_png(tmp_path / "png")
    # (grid height, width) of sample 0's maps, 1 px apart, ceil(sqrt(C)) per row; vectors one pixel per
    # unit, up to 32 per row; conv weights one row per filter; Linear weights as they are. Then the
    # tile side for the documented enlargement max(1, min(8, 64 // side, 1024 // grid side)).
    maps = {"input": ((8, 17), 8), "0": ((17, 17), 8), "1": ((17, 17), 8), "2": ((9, 9), 4),
            "3": ((3, 63), 1), "4": ((1, 9), 1)}
    weights = {"0": ((3 * 3 + 2, 2 * 3 + 1), 3), "4": ((5, 48), 48)}
    found = set()
    for path in paths:
        name = str(path).rsplit("/", 1)[1]
        key, view = re.fullmatch(r"\d\d_layer-(\w+?)_(activations|gradients|weights|weight_grads)\.png", name).groups()
        found.add((key, view))
        (height, width), side = (weights if view.startswith("weight") else maps)[key]
        scale = max(1, min(8, 64 // side, 1024 // max(height, width)))
        with Image.open(path) as image:
            image.verify()
        with Image.open(path) as image:
            assert image.format == "PNG" and image.size == (width * scale, height * scale), name
            pixels = np.asarray(image)
        assert pixels.min() != pixels.max(), f"{name} is blank"
    assert found == {(k, v) for k in maps for v in ("activations", "gradients")} | {
        (k, v) for k in weights for v in ("weights", "weight_grads")}


# ------------------------------------------------------------------------------------------ HTML
def _outside_data_uris(text):
    return re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "data:", text)


def test_html_is_self_contained_with_a_panel_per_layer(tmp_path):
    model = _net()
    x, y = _batch()
    report = inspect(model, x, y)
    path = report.save_html(tmp_path / "sub" / "report.html")
    text = open(path, encoding="utf-8").read()
    bare = _outside_data_uris(text)
    for banned in ("http:", "https:", "//", "@import", "url(", "<link", "<iframe", "src=\"/", "@font-face"):
        assert banned not in bare, banned
    sources = re.findall(r"\bsrc=\"([^\"]*)\"", text)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert all(h.startswith("#") for h in re.findall(r"\bhref=\"([^\"]*)\"", text))
    panels = re.findall(r"<div class=\"layer-panel\" id=\"([^\"]+)\"", text)
    assert panels == [r.panel_id for r in report.layers] and len(set(panels)) == len(panels)
    assert text.index("<table class=\"summary\">") < text.index("class=\"layer-panel\"")
    for record in report.layers:
        assert f"{record.max_activation:.6g}" in text and f"{record.min_gradient:.6g}" in text
    assert "3 × 3, stride 1 × 1" in text and "Conv2d(2→3, K=3, S=1, P=1)" in text
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["report.html"]  # no temporary file left


def test_failed_html_write_leaves_no_temporary_file_and_keeps_the_old_page(tmp_path, monkeypatch):
    import os

    report = inspect(_net(), *_batch())
    target = tmp_path / "report.html"
    target.write_text("old page", encoding="utf-8")

    def no_rename(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", no_rename)
    with pytest.raises(OSError, match="No space left"):
        report.save_html(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]
    assert target.read_text(encoding="utf-8") == "old page"


def test_panel_ids_stay_unique_when_names_slug_alike(tmp_path):
    class Clash(nn.Module):
        def __init__(self):
            super().__init__()
            self.input = nn.Linear(3, 3)
            self.conv = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3))
            self.conv_1 = nn.Linear(3, 2)

        def forward(self, x):
            return self.conv_1(self.conv(self.input(x)))

    cnnkit.manual_seed(0)
    report = inspect(Clash(), np.ones((1, 3), np.float32))
    names = [r.name for r in report.layers]
    assert names == ["input", "input", "conv.0", "conv.1", "conv_1"]
    ids = [r.panel_id for r in report.layers]
    assert len(set(ids)) == len(ids) and ids[0] == "layer-input"
    text = report.to_html()
    assert re.findall(r"<div class=\"layer-panel\" id=\"([^\"]+)\"", text) == ids
    files = report.save_png(tmp_path)
    assert len(set(files)) == len(files) == len(list(tmp_path.iterdir()))


def test_a_single_layer_model_gets_a_titled_panel():
    cnnkit.manual_seed(0)
    layer = nn.Linear(3, 2)
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    report = inspect(layer, x, [0, 1])
    assert [(r.name, r.type, r.params) for r in report.layers] == [("input", "Input", 0), ("", "Linear", 8)]
    np.testing.assert_allclose(report.layers[1].activation, x @ layer.weight.numpy().T + layer.bias.numpy(), rtol=1e-5)
    assert "<h3>(the model itself) <span class=\"muted\">Linear</span></h3>" in report.to_html()


def test_html_escapes_names():
    cnnkit.manual_seed(0)
    model = nn.Sequential()
    model.add_module("<script>alert(1)</script>&", nn.Linear(3, 2))
    text = inspect(model, np.ones((1, 3), np.float32)).to_html()
    assert "<script>alert" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;&amp;" in text
