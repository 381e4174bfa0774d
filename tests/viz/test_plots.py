"""plot_filters, plot_activations, plot_history and plot_confusion_matrix: PNGs and plotted data."""

import json
import re

import numpy as np
import pytest

import cnnkit
from cnnkit import nn
from cnnkit.viz import activation_maps, plot_activations, plot_confusion_matrix, plot_filters, plot_history


def _minmax(a):
    return (a - a.min()) / (a.max() - a.min())


def test_filters_rgb_grid_and_png(tmp_path, check_png):
    cnnkit.manual_seed(0)
    conv = nn.Conv2d(3, 6, 5)
    path = tmp_path / "deep" / "dir" / "filters.png"
    fig = plot_filters(conv, path=path, figsize=(4, 3), dpi=50)
    check_png(path, (200, 150))
    shown = fig.axes[0].images[0].get_array()
    weights = conv.weight.data.astype(np.float64)
    assert shown.shape == (2 * 5 + 1, 3 * 5 + 2, 3)  # ceil(sqrt(6)) = 3 columns, 2 rows
    for k in range(6):
        r, c = divmod(k, 3)
        block = np.asarray(shown[r * 6:r * 6 + 5, c * 6:c * 6 + 5])
        np.testing.assert_allclose(block, _minmax(weights[k]).transpose(1, 2, 0))


def test_filters_multichannel_one_row_per_filter():
    rng = np.random.default_rng(1)
    weights = rng.normal(size=(2, 4, 3, 3))
    shown = plot_filters(weights, normalize="all").axes[0].images[0].get_array()
    assert shown.shape == (2 * 3 + 1, 4 * 3 + 3)
    scaled = (weights - weights.min()) / (weights.max() - weights.min())
    for o in range(2):
        for c in range(4):
            np.testing.assert_allclose(shown[o * 4:o * 4 + 3, c * 4:c * 4 + 3], scaled[o, c])
    assert np.ma.getmaskarray(shown)[3].all() or np.isnan(np.asarray(shown[3], dtype=float)).all()


def test_filters_with_initial_weights_add_the_learned_change(tmp_path, check_png):
    rng = np.random.default_rng(2)
    start = rng.normal(size=(4, 1, 5, 5))
    now = start + np.linspace(-1, 1, 5)[None, None, None, :]  # training added a horizontal ramp
    path = tmp_path / "filters.png"
    fig = plot_filters(now, initial=start, path=path, dpi=40)
    check_png(path, (480, 240))  # two 6×6-inch panels side by side
    change = np.asarray(fig.axes[1].images[0].get_array())
    for k in range(4):
        r, c = divmod(k, 2)
        np.testing.assert_allclose(change[r * 6:r * 6 + 5, c * 6:c * 6 + 5], np.tile(np.linspace(0, 1, 5), (5, 1)))
    assert "change since initialisation" in fig.axes[1].get_title()
    with pytest.raises(ValueError, match=r"initial weights of shape \(4, 1, 3, 3\) do not match"):
        plot_filters(now, initial=start[..., :3, :3])


@pytest.mark.parametrize("bad", [np.zeros((3, 3, 3)), nn.Linear(4, 2)])
def test_filters_reject_wrong_shapes(bad):
    with pytest.raises(ValueError, match=r"out_channels, in_channels, kH, kW"):
        plot_filters(bad)


@pytest.mark.parametrize("shape", [(0, 1, 3, 3), (2, 0, 3, 3), (2, 1, 0, 3)])
def test_filters_reject_empty_weights(shape):
    with pytest.raises(ValueError, match=re.escape(f"plot_filters(): weights of shape {shape} holds no filter values")):
        plot_filters(np.zeros(shape))


def _net():
    cnnkit.manual_seed(3)
    return nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 6 * 6, 5))


def _reference_conv(x, weight, bias):
    """Valid cross-correlation by explicit loops."""
    o, _, k, _ = weight.shape
    n = x.shape[-1] - k + 1
    out = np.zeros((o, n, n))
    for c in range(o):
        for i in range(n):
            for j in range(n):
                out[c, i, j] = np.sum(weight[c] * x[:, i:i + k, j:j + k]) + bias[c]
    return out


def test_activation_maps_equal_a_direct_computation():
    net = _net()
    x = np.random.default_rng(4).normal(size=(8, 8))
    expected = np.maximum(_reference_conv(x[None], net[0].weight.data.astype(np.float64),
                                          net[0].bias.data.astype(np.float64)), 0)
    for layer in (1, "1", net[1], -3):
        np.testing.assert_allclose(activation_maps(net, x, layer), expected, rtol=1e-5, atol=1e-6)
    assert not net[0]._forward_hooks and not net[1]._forward_hooks  # hooks removed
    flat = activation_maps(cnnkit.Model(net), x[None, None], "3")
    assert flat.shape == (5,)


def test_activation_maps_restore_training_mode_and_grad_state():
    net = _net().train()
    activation_maps(net, np.zeros((8, 8)), 0)
    assert all(m.training for m in net.modules())
    assert all(p.grad is None for p in net.parameters())


def test_plot_activations_tiles_and_png(tmp_path, check_png):
    net = _net()
    x = np.random.default_rng(5).normal(size=(1, 8, 8))
    path = tmp_path / "act.png"
    fig = plot_activations(net, x, "0", path=path, ncols=3, figsize=(6, 2.5), dpi=40)
    check_png(path, (240, 100))
    shown = fig.axes[0].images[0].get_array()
    maps = _reference_conv(x, net[0].weight.data.astype(np.float64), net[0].bias.data.astype(np.float64))
    for c in range(3):
        np.testing.assert_allclose(shown[:, c * 7:c * 7 + 6], _minmax(maps[c]), atol=1e-5)
    bars = plot_activations(net, x, 3, path=tmp_path / "bars.png", figsize=(3, 2), dpi=50)
    check_png(tmp_path / "bars.png", (150, 100))
    assert len(bars.axes[0].patches) == 5


def test_activation_errors_name_the_valid_layers():
    net = _net()
    with pytest.raises(ValueError, match=r"no layer named 'conv1'; valid names: '0', '1', '2', '3'"):
        plot_activations(net, np.zeros((8, 8)), "conv1")
    with pytest.raises(IndexError, match="out of range"):
        activation_maps(net, np.zeros((8, 8)), 7)
    with pytest.raises(ValueError, match="not a submodule"):
        activation_maps(net, np.zeros((8, 8)), nn.ReLU())
    with pytest.raises(ValueError, match=r"one input.*x\[i:i \+ 1\]"):
        activation_maps(net, np.zeros((2, 1, 8, 8)), 0)
    with pytest.raises(TypeError, match="Module or a cnnkit.Model"):
        activation_maps("net", np.zeros((8, 8)), 0)


def test_history_from_history_object_dict_and_json(tmp_path, check_png):
    history = cnnkit.callbacks.History() if hasattr(cnnkit.callbacks, "History") else None
    logs = [{"loss": 1.0, "accuracy": 0.5, "val_loss": 1.2, "val_accuracy": 0.4},
            {"loss": 0.6, "accuracy": 0.7, "val_loss": 0.9, "val_accuracy": 0.6},
            {"loss": 0.4, "accuracy": 0.8, "val_loss": 0.8, "val_accuracy": 0.65}]
    if history is None:
        from cnnkit.training.callbacks import History
        history = History()
    for epoch, entry in enumerate(logs):
        history.on_epoch_end(epoch, entry)
    path = tmp_path / "run" / "history.png"
    fig = plot_history(history, path=path, figsize=(8, 3), dpi=50)
    check_png(path, (400, 150))
    loss_ax, acc_ax = fig.axes
    assert (loss_ax.get_title(), acc_ax.get_title()) == ("loss", "accuracy")
    train, val = loss_ax.get_lines()
    np.testing.assert_array_equal(train.get_xdata(), [1, 2, 3])
    np.testing.assert_allclose(train.get_ydata(), [1.0, 0.6, 0.4])
    np.testing.assert_allclose(val.get_ydata(), [1.2, 0.9, 0.8])
    np.testing.assert_allclose(acc_ax.get_lines()[1].get_ydata(), [0.4, 0.6, 0.65])
    (tmp_path / "history.json").write_text(json.dumps(history.history))
    again = plot_history(tmp_path / "history.json")
    np.testing.assert_allclose(again.axes[1].get_lines()[0].get_ydata(), [0.5, 0.7, 0.8])
    assert [round(v) for v in again.get_size_inches() * again.dpi] == [900, 360]


def test_history_x_axis_follows_the_epochs_of_a_resumed_fit():
    from cnnkit.training.callbacks import History

    history = History()
    for epoch in (5, 6, 7):  # fit(initial_epoch=5): epochs 6, 7, 8 in 1-based counting
        history.on_epoch_end(epoch, {"loss": 1.0 / epoch, "val_loss": 2.0 / epoch})
    train, val = plot_history(history).axes[0].get_lines()
    assert train.get_xdata().tolist() == val.get_xdata().tolist() == [6, 7, 8]
    cnnkit.manual_seed(0)
    model = cnnkit.Model(nn.Sequential(nn.Linear(2, 2)))
    model.compile(cnnkit.optim.SGD(model.module.parameters(), lr=0.1), "sparse_categorical_crossentropy")
    model.fit(np.ones((4, 2), np.float32), np.array([0, 1, 0, 1]), epochs=3, initial_epoch=1, verbose=0)
    assert plot_history(model).axes[0].get_lines()[0].get_xdata().tolist() == [2, 3]
    assert plot_history({"loss": [3.0, 2.0]}).axes[0].get_lines()[0].get_xdata().tolist() == [1, 2]


def test_history_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="history.json"):
        plot_history(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        plot_history(tmp_path / "bad.json")
    with pytest.raises(ValueError, match="empty"):
        plot_history({})
    with pytest.raises(ValueError, match="list of numbers"):
        plot_history({"loss": ["a", "b"]})
    with pytest.raises(TypeError, match="History"):
        plot_history(42)


def test_confusion_matrix_counts_and_annotations(tmp_path, check_png):
    y_true = [0, 0, 1, 1, 1, 2, 2, 2, 2]
    y_pred = [0, 1, 1, 1, 2, 2, 2, 0, 2]
    expected = np.zeros((3, 3), dtype=int)
    for t, p in zip(y_true, y_pred):
        expected[t, p] += 1
    path = tmp_path / "cm.png"
    fig = plot_confusion_matrix(y_true, y_pred, class_names=["cat", "dog", "emu"], path=path,
                                figsize=(5, 4), dpi=60)
    check_png(path, (300, 240))
    ax = fig.axes[0]
    np.testing.assert_array_equal(ax.images[0].get_array(), expected)
    texts = [t.get_text() for t in ax.texts]
    assert texts == [str(v) for v in expected.ravel()]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog", "emu"]
    assert f"accuracy {np.trace(expected) / expected.sum():.2%} of 9" in ax.get_title()  # 6 of 9
    normalised = plot_confusion_matrix(y_true, y_pred, normalize=True).axes[0]
    np.testing.assert_allclose(normalised.images[0].get_array(), expected / expected.sum(1, keepdims=True))
    assert normalised.texts[0].get_text() == "0.50"


def test_confusion_matrix_class_names_fix_the_size_and_errors():
    fig = plot_confusion_matrix([0, 1], [1, 1], class_names=list("abcd"))
    assert fig.axes[0].images[0].get_array().shape == (4, 4)
    with pytest.raises(ValueError):
        plot_confusion_matrix([0, 1, 5], [0, 1, 1], class_names=["a", "b"])
    with pytest.raises(ValueError, match="labels but"):
        plot_confusion_matrix([0, 1], [0])


def test_confusion_matrix_without_samples():
    with pytest.raises(ValueError, match=r"y_true and y_pred are empty.*at least one sample"):
        plot_confusion_matrix([], [])
    ax = plot_confusion_matrix([], [], class_names=["a", "b"]).axes[0]
    np.testing.assert_array_equal(ax.images[0].get_array(), np.zeros((2, 2)))
    assert ax.get_title() == "confusion matrix: no samples"
