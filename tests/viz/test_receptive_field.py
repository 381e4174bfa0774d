"""Receptive fields by gradient back-projection: the lit input region vs the analytic box."""

import numpy as np
import pytest

import cnnkit
from cnnkit import nn
from cnnkit.viz import plot_receptive_field, receptive_field_map


def _stack():
    """conv 3x3 -> conv 3x3 stride 2 -> conv 3x3 dilation 2: RF 3, 5, 5 + 4·2 = 13; jump 1, 1, 2."""
    cnnkit.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.Conv2d(2, 2, 3, stride=2), nn.Conv2d(2, 3, 3, dilation=2))


def _support(grad):
    rows, cols = np.nonzero(grad)
    return rows.min(), cols.min(), rows.max(), cols.max()


@pytest.mark.parametrize("layer, position, box", [
    # unit (i, j) of each layer sees input rows i·jump .. i·jump + RF − 1 (no padding)
    (0, (4, 7), (4, 7, 6, 9)),
    (1, (2, 3), (4, 6, 8, 10)),
    ("2", (1, 3), (2, 6, 14, 18)),
])
def test_linear_stack_support_equals_the_analytic_box(layer, position, box):
    grad, theory = receptive_field_map(_stack(), (1, 21, 25), layer, position, samples=1)
    assert grad.shape == (21, 25)
    assert _support(grad) == box
    assert theory == tuple(float(v) for v in box)
    top, left, bottom, right = box
    assert np.all(grad[top:bottom + 1, left:right + 1] > 0)  # every pixel of the box is reached


def test_padding_box_hangs_over_the_border_and_support_is_clipped():
    cnnkit.manual_seed(1)
    net = nn.Sequential(nn.Conv2d(1, 1, 5, padding=2), nn.Conv2d(1, 1, 5, padding=2))
    grad, theory = receptive_field_map(net, (1, 12, 12), 1, (0, 11), samples=1)
    assert theory == (-4.0, 7.0, 4.0, 15.0)  # RF 9 centred on (0, 11)
    assert _support(grad) == (0, 7, 4, 11)


def test_relu_and_maxpool_stay_inside_the_box_and_channel_choice():
    cnnkit.manual_seed(2)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 2, 3))
    grad, theory = receptive_field_map(net, (1, 16, 16), 3, (2, 3), samples=6)
    top, left, bottom, right = theory
    assert (bottom - top + 1, right - left + 1) == (8, 8)  # 3 + 1·1 + 2·2
    r0, c0, r1, c1 = _support(grad)
    assert top <= r0 and left <= c0 and r1 <= bottom and c1 <= right
    one, _ = receptive_field_map(net, (1, 16, 16), 3, (2, 3), channel=1, samples=6)
    assert one.sum() > 0 and not np.allclose(one, grad)


def test_model_left_untouched():
    net = _stack().train()
    receptive_field_map(net, (1, 13, 13), 1, (1, 1))
    assert all(p.grad is None and p.requires_grad for p in net.parameters())
    assert all(m.training for m in net.modules())
    assert not any(m._forward_hooks for m in net.modules())


def test_plot_draws_the_map_and_box(tmp_path, check_png):
    net = _stack()
    path = tmp_path / "rf" / "rf.png"
    fig = plot_receptive_field(net, (1, 21, 25), "1", (2, 3), path=path, figsize=(5, 4), dpi=40)
    check_png(path, (200, 160))
    ax = fig.axes[0]
    grad, _ = receptive_field_map(net, (1, 21, 25), "1", (2, 3))
    np.testing.assert_allclose(ax.images[0].get_array(), grad)
    box = ax.patches[0]
    assert (box.get_x(), box.get_y(), box.get_width(), box.get_height()) == (5.5, 3.5, 5.0, 5.0)
    assert "lit 5×5, theory 5×5" in ax.get_title()


def test_errors():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2 * 6 * 6, 3))
    with pytest.raises(ValueError, match=r"outside layer '0'.*6×6"):
        receptive_field_map(net, (1, 8, 8), 0, (6, 0))
    with pytest.raises(ValueError, match="before Flatten"):
        receptive_field_map(net, (1, 8, 8), 2, (0, 0))
    with pytest.raises(ValueError, match="channel 5"):
        receptive_field_map(net, (1, 8, 8), 0, (1, 1), channel=5)
    with pytest.raises(ValueError, match=r"no layer named 'conv'; valid names: '0', '1', '2'"):
        plot_receptive_field(net, (1, 8, 8), "conv", (0, 0))
    with pytest.raises(ValueError, match="input_shape"):
        receptive_field_map(net, (8, 8), 0, (0, 0))
