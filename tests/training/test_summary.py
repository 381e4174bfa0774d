"""Summaries and sizing calculators against the slides' worked numbers and brute-force counts."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import cnnkit
from cnnkit import nn


def lenet5() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 20, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(20, 50, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Flatten(), nn.Linear(2450, 500), nn.ReLU(), nn.Linear(500, 10))


def keras_mnist_cnn() -> nn.Sequential:
    """The slides' 4-layer Keras MNIST network."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
        nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10))


def test_lenet5_table_matches_the_slides():
    s = cnnkit.summary(lenet5(), (1, 28, 28), show=False)
    shapes = [r["output_shape"] for r in s.rows]
    assert shapes[:6] == [(20, 28, 28), (20, 28, 28), (20, 14, 14), (50, 14, 14), (50, 14, 14), (50, 7, 7)]
    assert shapes[6:] == [(2450,), (500,), (500,), (10,)]
    formulas = [r["weight_formula"] for r in s.rows if r["params"]]
    assert formulas == ["20 × (1 × 5 × 5 + 1)", "50 × (20 × 5 × 5 + 1)", "500 × (2450 + 1)", "10 × (500 + 1)"]
    assert [r["params"] for r in s.rows if r["params"]] == [520, 25050, 1225500, 5010]
    assert s.total_params == s.trainable_params == 1_256_080
    assert "1,256,080" in str(s)


def test_keras_mnist_cnn_matches_the_slides():
    s = cnnkit.summary(keras_mnist_cnn(), (1, 28, 28), show=False)
    assert [r["params"] for r in s.rows if r["layer"].startswith(("Conv2d", "MaxPool2d", "Dropout", "Linear"))] == \
        [320, 18_496, 0, 0, 1_179_776, 0, 1_290]
    assert s.total_params == 1_199_882


def test_slides_multiply_adds_and_parameters():
    net = nn.Sequential(nn.Conv2d(3, 10, 5, stride=1, padding=2))
    s = cnnkit.summary(net, (3, 32, 32), show=False)
    assert s.rows[0]["output_shape"] == (10, 32, 32)
    assert (s.total_params, s.total_macs) == (760, 768_000)
    assert cnnkit.count_macs(net, (3, 32, 32)) == 768_000
    assert cnnkit.count_macs(net, (3, 32, 32), with_bias=True) == 768_000 + 10 * 32 * 32
    assert cnnkit.summary(net, (3, 32, 32), macs="with_bias", show=False).total_macs == 778_240
    assert cnnkit.count_parameters(net) == 760


@pytest.mark.parametrize("W, K, P, S, expected", [(227, 11, 0, 4, 55), (251, 21, 0, 10, 24), (151, 21, 0, 10, 14),
                                                  (32, 5, 2, 1, 32), (7, 3, 0, 3, 2), (7, 3, 0, 2, 3)])
def test_output_size_examples(W, K, P, S, expected):
    assert cnnkit.conv_output_size(W, K, P, S) == expected


def test_alexnet_first_conv_and_rectangular_filter():
    s = cnnkit.summary(nn.Sequential(nn.Conv2d(3, 96, 11, stride=4)), (3, 227, 227), show=False)
    assert s.rows[0]["output_shape"] == (96, 55, 55)
    s = cnnkit.summary(nn.Sequential(nn.Conv2d(1, 1, 21, stride=10)), (1, 251, 151), show=False)
    assert s.rows[0]["output_shape"] == (1, 24, 14)  # (251 − 21)/10 + 1 and (151 − 21)/10 + 1, both exact
    assert s.rows[0]["fits"] is True


def test_rows_that_do_not_tile_are_flagged():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the slides' 7×7 input, 3×3 filter, stride 3: (7 − 3)/3 + 1 = 2.33
        s = cnnkit.summary(nn.Sequential(nn.Conv2d(1, 1, 3, stride=3), nn.MaxPool2d(2)), (1, 7, 7), show=False)
    assert [r["fits"] for r in s.rows] == [False, True]
    assert "does not tile" in str(s) and "windows do not tile the input in: 0" in str(s)


@pytest.mark.parametrize("layers, K", [(1, 3), (3, 3), (5, 3), (4, 5)])
def test_stacked_convolutions_receptive_field_is_1_plus_L_times_K_minus_1(layers, K):
    net = nn.Sequential(*[nn.Conv2d(1, 1, K) for _ in range(layers)])
    fields = cnnkit.receptive_field(net, (1, 40, 40))
    assert [f.size for f in fields] == [1 + (i + 1) * (K - 1) for i in range(layers)]
    assert all(f.verified for f in fields)


@pytest.mark.parametrize("make", [
    lambda: lenet5()[:6],
    lambda: nn.Sequential(nn.Conv2d(1, 2, 3, dilation=2), nn.MaxPool2d(3, 2, dilation=2), nn.Conv2d(2, 2, 3, stride=2, padding=1)),
    lambda: nn.Sequential(nn.Conv2d(1, 2, (3, 5), stride=(1, 2)), nn.BatchNorm2d(2), nn.Tanh(), nn.AvgPool2d(2), nn.Conv2d(2, 1, 3)),
])
def test_closed_form_receptive_field_agrees_with_backpropagation(make):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fields = cnnkit.receptive_field(make(), (1, 64, 64))
    assert fields and all(f.verified is True for f in fields), fields


def test_lenet5_receptive_fields_and_jumps():
    fields = cnnkit.receptive_field(lenet5(), (1, 28, 28))
    assert [(f.size, f.jump) for f in fields] == [(5, 1), (5, 1), (6, 2), (14, 2), (14, 2), (16, 4)]


def test_summary_leaves_the_model_untouched():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Dropout(0.5), nn.Flatten(), nn.Linear(2 * 6 * 6, 3))
    before = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    state = cnnkit.random.get_rng_state()
    cnnkit.summary(net, (1, 8, 8), show=False)
    cnnkit.receptive_field(net, (1, 8, 8))
    assert net.training and all(m.training for m in net.modules())
    assert cnnkit.random.get_rng_state() == state
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])


def test_summary_exports_and_prints(capsys):
    s = cnnkit.summary(lenet5(), (1, 28, 28))
    printed = capsys.readouterr().out
    assert printed.strip() == str(s).strip()
    assert "weights only" in printed and "Total MACs: 6,522,000" in printed
    md = s.to_markdown()
    assert md.splitlines()[0].startswith("| Layer | Output shape |") and "1,256,080" in md
    data = json.loads(json.dumps(s.to_dict()))
    assert data["total_params"] == 1_256_080 and len(data["rows"]) == 10


def test_summary_of_a_model_that_cannot_run_on_the_shape_explains():
    with pytest.raises(ValueError, match=r"sized for 28×28 inputs, it got 32×32"):
        cnnkit.summary(lenet5(), (1, 32, 32), show=False)


def test_bad_macs_option():
    with pytest.raises(ValueError, match=r"macs must be 'weights' or 'with_bias'"):
        cnnkit.summary(lenet5(), (1, 28, 28), macs="all", show=False)
