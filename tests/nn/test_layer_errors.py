"""Bad inputs and arguments: every error names the layer, the shapes and the fix (messages pinned).

Also the slides' size rule: when (W − K + 2P) is not divisible by S a layer warns once (or raises
with strict=True / cnnkit.set_strict_shapes(True)).
"""

from __future__ import annotations

import ast
import re
import warnings

import numpy as np
import pytest

import cnnkit
from cnnkit import nn

z = cnnkit.zeros


def labels(*values):
    return cnnkit.tensor(np.array(values, dtype=np.int64))


# -------------------------------------------------------------------------------- Linear
def test_linear_wrong_feature_count_names_layer_and_shape():
    with pytest.raises(ValueError, match=r"^Linear\(2450→500\) received input of shape \(2, 2000\): its last "
                                         r"dimension must be 2450 \(in_features\)"):
        nn.Linear(2450, 500)(z(2, 2000))


def test_linear_scalar_input():
    with pytest.raises(ValueError, match=r"Linear\(3→2\) received input of shape \(\)"):
        nn.Linear(3, 2)(cnnkit.tensor(1.0))


@pytest.mark.parametrize("args, what", [((0, 3), "in_features"), ((3, 0), "out_features"),
                                        ((2.5, 3), "in_features"), ((3, True), "out_features")])
def test_linear_bad_sizes(args, what):
    with pytest.raises(ValueError, match=rf"Linear: {what} must be a positive integer, got "):
        nn.Linear(*args)


def test_sequential_explains_wrong_image_size():
    net = nn.Sequential(
        nn.Conv2d(1, 20, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(20, 50, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Flatten(), nn.Linear(2450, 500), nn.ReLU(), nn.Linear(500, 10),
    )
    with pytest.raises(ValueError) as info:
        net(z(1, 1, 32, 32))
    msg = str(info.value)
    assert msg.startswith("Linear(2450→500) received input of shape (1, 3200)")
    assert "Shapes through the Sequential:" in msg
    assert re.search(r"\(7\) Linear\s+input \(1, 3200\)  <-- fails here", msg)
    assert "received 3200 features (= 50×8×8) from Flatten" in msg
    assert "This model was sized for 28×28 inputs, it got 32×32" in msg
    assert "in_features=3200" in msg


# ---------------------------------------------------------------------------------- conv
def test_conv_wrong_channel_count():
    with pytest.raises(ValueError, match=r"^Conv2d\(3, 4, kernel_size=\(3, 3\), stride=\(1, 1\)\) expected 3 input "
                                         r"channels but received 2 \(input shape \(1, 2, 5, 5\)\)"):
        nn.Conv2d(3, 4, 3)(z(1, 2, 5, 5))


@pytest.mark.parametrize(
    "layer, shape, rank",
    [
        (lambda: nn.Conv1d(3, 4, 3), (1, 3, 5, 5), 3),
        (lambda: nn.Conv2d(3, 4, 3), (5, 5), 4),
        (lambda: nn.Conv2d(3, 4, 3), (1, 1, 3, 5, 5), 4),
        (lambda: nn.Conv3d(3, 4, 3), (3, 5, 5), 5),
    ],
)
def test_conv_wrong_rank(layer, shape, rank):
    with pytest.raises(ValueError, match=rf"expects a {rank}-D input \(N, C, \*spatial\) or {rank - 1}-D unbatched, "
                                         rf"got shape {re.escape(str(shape))}"):
        layer()(z(*shape))


@pytest.mark.parametrize("cin, cout, groups", [(4, 6, 4), (3, 6, 2)])
def test_conv_groups_must_divide_channels(cin, cout, groups):
    with pytest.raises(ValueError, match=rf"Conv2d: in_channels \({cin}\) and out_channels \({cout}\) must both be "
                                         rf"divisible by groups \({groups}\)"):
        nn.Conv2d(cin, cout, 3, groups=groups)


def test_lazy_conv_groups_checked_at_first_call():
    layer = nn.Conv2d(None, 4, 3, groups=2)
    with pytest.raises(ValueError, match=r"the input has 3 channels, not divisible by groups \(2\)"):
        layer(z(1, 3, 5, 5))


def test_conv_bad_groups_value():
    with pytest.raises(ValueError, match=r"groups must be a positive integer, got 0"):
        nn.Conv2d(2, 2, 3, groups=0)


@pytest.mark.parametrize(
    "layer, shape, detail",
    [
        (lambda: nn.Conv2d(1, 1, 5), (1, 1, 3, 3), r"\(3 \+ padding 0 = 3\)"),
        (lambda: nn.Conv2d(1, 1, 5, padding=1), (1, 1, 2, 2), r"\(2 \+ padding 2 = 4\)"),
        (lambda: nn.Conv1d(1, 1, 3, dilation=3), (1, 1, 6), r"extent 7\) is larger"),
    ],
)
def test_conv_kernel_larger_than_padded_input(layer, shape, detail):
    with pytest.raises(ValueError, match=r"the kernel \(size \d, dilation \d, extent \d\) is larger than the padded "
                                         r"input along spatial dim 0"):
        layer()(z(*shape))
    with pytest.raises(ValueError, match=detail):
        layer()(z(*shape))


@pytest.mark.parametrize("padding", [-1, (1, -1)])
def test_conv_negative_padding(padding):
    with pytest.raises(ValueError, match=r"Conv2d: padding must be an integer >= 0 or a tuple of 2 of them, got "):
        nn.Conv2d(1, 1, 3, padding=padding)


def test_conv_bad_padding_string():
    with pytest.raises(ValueError, match=r"Conv2d: padding must be an int, a tuple, 'same' or 'valid', got 'full'"):
        nn.Conv2d(1, 1, 3, padding="full")


def test_conv_bad_padding_mode():
    with pytest.raises(ValueError, match=r"Conv2d: padding_mode must be one of \('zeros', 'reflect', 'replicate', "
                                         r"'circular'\), got 'mirror'"):
        nn.Conv2d(1, 1, 3, padding_mode="mirror")


@pytest.mark.parametrize("kwargs, name", [({"kernel_size": 0}, "kernel_size"), ({"kernel_size": (3,)}, "kernel_size"),
                                          ({"kernel_size": 3, "stride": 0}, "stride"),
                                          ({"kernel_size": 3, "dilation": 0}, "dilation")])
def test_conv_bad_geometry(kwargs, name):
    with pytest.raises(ValueError, match=rf"Conv2d: {name} must be an integer >= 1 or a tuple of 2 of them"):
        nn.Conv2d(1, 1, **kwargs)


@pytest.mark.parametrize("cin, cout", [(0, 3), (3, 0), (3, None)])
def test_conv_bad_channels(cin, cout):
    with pytest.raises(ValueError, match=r"Conv2d: (in|out)_channels must be a positive integer"):
        nn.Conv2d(cin, cout, 3)


@pytest.mark.filterwarnings("ignore::UserWarning")  # an invalid pool may also break the size rule
# ------------------------------------------------------------------------------- pooling
@pytest.mark.parametrize(
    "layer, shape, name",
    [
        (lambda: nn.MaxPool2d(2), (4,), "MaxPool2d"),
        (lambda: nn.MaxPool2d(2), (1, 1, 1, 4, 4), "MaxPool2d"),
        (lambda: nn.AvgPool2d(2), (4, 4), "AvgPool2d"),
        (lambda: nn.MaxPool1d(2), (1, 1, 4, 4), "MaxPool1d"),
        (lambda: nn.AvgPool3d(2), (1, 4, 4), "AvgPool3d"),
        (lambda: nn.AdaptiveAvgPool2d(2), (4, 4), "AdaptiveAvgPool2d"),
    ],
)
def test_pool_wrong_rank(layer, shape, name):
    rank = int(name[-2]) + 2
    with pytest.raises(ValueError, match=rf"^{name}\(.*\): expected a {rank}-D input \(N, C, .*\) \(?or "
                                         rf"{rank - 1}-D unbatched\)?, got shape {re.escape(str(shape))}"):
        layer()(z(*shape))


def test_global_pool_wrong_rank():
    with pytest.raises(ValueError, match=r"GlobalAvgPool2d expects a 4-D input \(N, C, H, W\), got shape \(3, 4, 4\)"):
        nn.GlobalAvgPool2d()(z(3, 4, 4))


@pytest.mark.filterwarnings("ignore::UserWarning")  # an invalid pool may also break the size rule
@pytest.mark.parametrize(
    "layer, shape, pad, extent",
    [
        (lambda: nn.MaxPool2d(2, padding=2), (1, 1, 6, 6), 2, 2),
        (lambda: nn.AvgPool2d(3, padding=2), (1, 1, 6, 6), 2, 3),
        (lambda: nn.MinPool1d(4, padding=3), (1, 1, 8), 3, 4),
    ],
)
def test_pool_padding_more_than_half_the_kernel(layer, shape, pad, extent):
    with pytest.raises(ValueError, match=rf"padding \({pad}\) must be at most half the kernel extent \({extent}\) along "
                                         rf"spatial dim 0, as in PyTorch"):
        layer()(z(*shape))


@pytest.mark.parametrize("layer, shape", [(lambda: nn.AvgPool2d(3, padding=2), (1, 1, 6, 6)),
                                          (lambda: nn.MaxPool2d(3), (1, 1, 2, 2))])
def test_invalid_pool_call_raises_its_own_error_without_size_rule_warning(layer, shape):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"must be at most half the kernel|the output would be empty"):
            layer()(z(*shape))


def test_pool_negative_padding():
    with pytest.raises(ValueError, match=r"MaxPool2d: padding must be an integer >= 0"):
        nn.MaxPool2d(2, padding=-1)


@pytest.mark.filterwarnings("ignore::UserWarning")  # an invalid pool may also break the size rule
def test_pool_window_larger_than_input():
    with pytest.raises(ValueError, match=r"does not fit the padded input along spatial dim 0 \(size 2 \+ 2·0\); "
                                         r"the output would be empty"):
        nn.MaxPool2d(3)(z(1, 1, 2, 2))


def test_channel_pool_errors():
    with pytest.raises(ValueError, match=r"ChannelPool: mode must be 'max', 'avg' or 'l2', got 'min'"):
        nn.ChannelPool(2, mode="min")
    with pytest.raises(ValueError, match=r"channel dimension \(dim 1\) of input \(2, 4, 3, 3\) must be divisible by "
                                         r"kernel_size=3"):
        nn.ChannelPool(3)(z(2, 4, 3, 3))
    with pytest.raises(ValueError, match=r"must be divisible by kernel_size=3"):
        nn.Maxout(3)(z(2, 4))


def test_lp_pool_bad_norm_type():
    with pytest.raises(ValueError, match=r"norm_type must be a positive number, got 0"):
        nn.LPPool2d(0, 2)(z(1, 1, 4, 4))


# ---------------------------------------------------------------------- normalisation
@pytest.mark.parametrize(
    "layer, shape, layout",
    [
        (lambda: nn.BatchNorm2d(3), (2, 3), r"\(N, C, H, W\), got \(2, 3\) \(2-D\)"),
        (lambda: nn.BatchNorm1d(3), (2, 3, 4, 4), r"\(N, C\) or \(N, C, L\), got \(2, 3, 4, 4\) \(4-D\)"),
        (lambda: nn.BatchNorm3d(3), (2, 3, 4, 4), r"\(N, C, D, H, W\), got \(2, 3, 4, 4\) \(4-D\)"),
    ],
)
def test_batchnorm_wrong_rank(layer, shape, layout):
    with pytest.raises(ValueError, match=r"^BatchNorm\dd\(3, eps=1e-05.*\) expects input of shape " + layout +
                       r"; use BatchNorm1d for \(N, C\[, L\]\), 2d for"):
        layer()(z(*shape))


def test_batchnorm_wrong_channels():
    with pytest.raises(ValueError, match=r"expected 3 channels \(dim 1\) but the input \(2, 4, 3, 3\) has 4"):
        nn.BatchNorm2d(3)(z(2, 4, 3, 3))


@pytest.mark.parametrize("layer, shape", [(lambda: nn.BatchNorm2d(3), (1, 3, 1, 1)),
                                          (lambda: nn.BatchNorm1d(3), (1, 3))])
def test_batchnorm_training_needs_more_than_one_value_per_channel(layer, shape):
    bn = layer()
    with pytest.raises(ValueError, match=r"expected more than 1 value per channel when training, got input of shape "
                                         + re.escape(str(shape)) + r"\. Use a batch of at least 2 \(or call \.eval\(\)"):
        bn(z(*shape))
    assert bn.num_batches_tracked.item() == 0  # nothing was updated
    assert bn.eval()(z(*shape)).shape == shape  # eval mode is fine with one sample


@pytest.mark.parametrize("kwargs, pattern", [
    ({"num_features": 0}, r"num_features must be a positive integer or None"),
    ({"num_features": 3, "eps": 0}, r"eps must be positive, got 0"),
    ({"num_features": 3, "momentum": 1.5}, r"momentum must be in \[0, 1\] or None"),
])
def test_batchnorm_bad_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=r"BatchNorm2d: " + pattern):
        nn.BatchNorm2d(**kwargs)


def test_groupnorm_channels_not_divisible():
    with pytest.raises(ValueError, match=r"GroupNorm: num_channels \(4\) must be divisible by num_groups \(3\)"):
        nn.GroupNorm(3, 4)


def test_groupnorm_wrong_input_channels():
    with pytest.raises(ValueError, match=r"GroupNorm\(2, 4, eps=1e-05, affine=True\) expected 4 channels \(dim 1\), "
                                         r"got input \(2, 6, 3, 3\)"):
        nn.GroupNorm(2, 4)(z(2, 6, 3, 3))


def test_layernorm_wrong_trailing_dims():
    with pytest.raises(ValueError, match=r"layer_norm: the input's trailing dims \(5,\) must equal normalized_shape "
                                         r"\(4,\) \(input shape \(2, 5\)\)"):
        nn.LayerNorm(4)(z(2, 5))


# ------------------------------------------------------------------ dropout, activations
@pytest.mark.parametrize("cls", [nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d])
@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5, "0.5"])
def test_dropout_p_outside_unit_interval(cls, p):
    # The issue asks for p in [0, 1): p = 1 would drop everything and 1/(1 − p) is undefined.
    with pytest.raises(ValueError, match=rf"^{cls.__name__}: dropout probability p must be in \[0, 1\), got "):
        cls(p)


def test_dropout_p_zero_is_identity():
    out = nn.Dropout(0.0)(cnnkit.ones(10)).numpy()
    assert np.all(out == 1.0)


def test_dropout2d_needs_channels():
    with pytest.raises(ValueError, match=r"Dropout2d\(p=0\.5\): expected an input of shape \(N, C, \*spatial\), got \(3,\)"):
        nn.Dropout2d()(z(3))


def test_activation_argument_errors():
    with pytest.raises(ValueError, match=r"RReLU: need 0 <= lower <= upper, got lower=0.5, upper=0.1"):
        nn.RReLU(0.5, 0.1)
    with pytest.raises(ValueError, match=r"Hardtanh: min_val \(1\) must not exceed max_val \(0\)"):
        nn.Hardtanh(1, 0)
    with pytest.raises(ValueError, match=r"PReLU: num_parameters must be a positive integer, got 0"):
        nn.PReLU(0)
    with pytest.raises(ValueError, match=r"APL: hinges must be a positive integer, got 0"):
        nn.APL(hinges=0)
    with pytest.raises(ValueError, match=r"softplus: beta must be positive, got 0"):
        nn.Softplus(beta=0)(z(2))
    with pytest.raises(ValueError, match=r"gelu: approximate must be 'none' or 'tanh', got 'erf'"):
        nn.GELU("erf")(z(2))


def test_prelu_channel_mismatch():
    with pytest.raises(ValueError, match=r"prelu: the parameter has shape \(3,\); expected \(1,\) or one value per "
                                         r"channel \(4,\) for an input of shape \(2, 4\)"):
        nn.PReLU(3)(z(2, 4))


# -------------------------------------------------------------------------------- losses
@pytest.mark.parametrize("cls, fname", [(nn.MSELoss, "mse_loss"), (nn.L1Loss, "l1_loss"),
                                        (nn.HuberLoss, "huber_loss"), (nn.BCELoss, "binary_cross_entropy"),
                                        (nn.BCEWithLogitsLoss, "binary_cross_entropy_with_logits")])
def test_loss_shape_mismatch(cls, fname):
    with pytest.raises(ValueError, match=rf"^{fname}: input shape \(4, 1\) and target shape \(4,\) differ\. They must "
                                         r"match exactly .*reshape one of them"):
        cls()(z(4, 1) + 0.5, z(4))


@pytest.mark.parametrize("target, bad", [((0, 3), 3), ((-1, 0), -1), ((5, 1), 5)])
def test_cross_entropy_target_out_of_range(target, bad):
    with pytest.raises(ValueError, match=rf"cross_entropy: target {bad} is out of bounds: class indices must be in "
                                         r"\[0, 3\) \(or ignore_index=-100\); the input has 3 classes"):
        nn.CrossEntropyLoss()(z(2, 3), labels(*target))


def test_cross_entropy_ignore_index_is_not_out_of_range():
    loss = nn.CrossEntropyLoss(ignore_index=-1)(z(2, 3), labels(-1, 0))
    assert loss.item() == pytest.approx(np.log(3), rel=1e-6)


def test_nll_target_out_of_range_and_float_target():
    with pytest.raises(ValueError, match=r"nll_loss: target 4 is out of bounds"):
        nn.NLLLoss()(z(2, 3), labels(0, 4))
    with pytest.raises(TypeError, match=r"nll_loss: target must hold integer class indices, got dtype float32"):
        nn.NLLLoss()(z(2, 3), z(2))


def test_cross_entropy_target_shape():
    with pytest.raises(ValueError, match=r"class-index target must have shape \(2,\) for this input, got \(2, 1\)"):
        nn.CrossEntropyLoss()(z(2, 3), cnnkit.tensor(np.zeros((2, 1), np.int64)))


def test_cross_entropy_bad_weight_and_smoothing():
    with pytest.raises(ValueError, match=r"weight must have one value per class, shape \(3,\), got \(2,\)"):
        nn.CrossEntropyLoss(weight=[1.0, 2.0])(z(2, 3), labels(0, 1))
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\], got 1.5"):
        nn.CrossEntropyLoss(label_smoothing=1.5)(z(2, 3), labels(0, 1))


@pytest.mark.parametrize("cls", [nn.CrossEntropyLoss, nn.NLLLoss, nn.MSELoss, nn.L1Loss, nn.BCELoss])
def test_loss_bad_reduction(cls):
    with pytest.raises(ValueError, match=rf"^{cls.__name__}: reduction must be 'mean', 'sum' or 'none', got 'avg'"):
        cls(reduction="avg")


def test_bce_input_must_be_probabilities():
    with pytest.raises(ValueError, match=r"all input values must be probabilities in \[0, 1\] .*apply sigmoid first"):
        nn.BCELoss()(cnnkit.tensor([0.5, 1.5]), cnnkit.tensor([0.0, 1.0]))


def test_huber_bad_delta():
    with pytest.raises(ValueError, match=r"huber_loss: delta must be positive, got 0"):
        nn.HuberLoss(delta=0)(z(2), z(2))


# ------------------------------------------------------------------ the slides' size rule
SIZE_RULE = r"\(W − K \+ 2P\) / S \+ 1 = \(7 − 3 \+ 2·0\) / 3 \+ 1 = 2\.33"


def test_size_rule_warns_once_per_layer():
    conv = nn.Conv2d(1, 1, 3, stride=3)
    with pytest.warns(UserWarning, match=SIZE_RULE) as record:
        out = conv(z(1, 1, 7, 7))
    assert out.shape == (1, 1, 2, 2)  # the last row and column are ignored, as PyTorch does
    msg = str(record[0].message)
    assert msg.startswith("Conv2d(1, 1, kernel_size=(3, 3), stride=(3, 3)): along spatial dim 0")
    assert "so the last 1 row(s)/column(s) are ignored" in msg
    assert "padding=1" in msg and "stride=2" in msg
    assert record[0].filename == __file__  # points at the caller, not at cnnkit
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        conv(z(1, 1, 7, 7))  # second call: silent
    with pytest.warns(UserWarning, match=SIZE_RULE):
        nn.Conv2d(1, 1, 3, stride=3)(z(1, 1, 7, 7))  # a new layer warns again


def test_size_rule_no_warning_when_it_fits():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.Conv2d(1, 1, 3, stride=3, padding=1)(z(1, 1, 7, 7))
        nn.Conv2d(1, 1, 3, stride=2)(z(1, 1, 7, 7))
        nn.Conv2d(1, 1, 3, stride=2, padding="same")(z(1, 1, 8, 8))
        nn.MaxPool2d(2)(z(1, 1, 8, 8))


def test_size_rule_strict_layer_raises():
    conv = nn.Conv2d(1, 1, 3, stride=3, strict=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=SIZE_RULE + r", so the last 1 row\(s\)/column\(s\) are ignored\. Use "
                                           r"padding=1, stride=2, padding='same' or an input 1 smaller \(or 2 "
                                           r"larger\) to fit exactly\."):
            conv(z(1, 1, 7, 7))
    with pytest.raises(ValueError, match=r"MaxPool2d.*\(7 − 2 \+ 2·0\) / 2 \+ 1 = 3\.50"):
        nn.MaxPool2d(2, strict=True)(z(1, 1, 7, 7))


@pytest.mark.parametrize(
    "layer, shape",
    [
        (lambda: nn.Conv1d(1, 1, 2, stride=2), (1, 1, 7)),
        (lambda: nn.Conv2d(1, 1, 3, stride=3), (1, 1, 7, 7)),
        (lambda: nn.Conv3d(1, 1, 2, stride=2), (1, 1, 5, 4, 4)),
        (lambda: nn.MaxPool1d(2), (1, 1, 7)),
        (lambda: nn.MaxPool2d(2), (1, 1, 7, 7)),
        (lambda: nn.MaxPool3d(2), (1, 1, 4, 4, 5)),
        (lambda: nn.MinPool2d(2), (1, 1, 5, 5)),
        (lambda: nn.AvgPool2d(3, stride=2), (1, 1, 8, 8)),
        (lambda: nn.AvgPool1d(2), (1, 1, 5)),
        (lambda: nn.LPPool2d(2, 2), (1, 1, 5, 5)),
    ],
)
def test_size_rule_every_layer_warns_and_global_strict_raises(layer, shape):
    with pytest.warns(UserWarning, match=r"the windows do not tile the input: \(W − K \+ 2P\) / S \+ 1 = "):
        layer()(z(*shape))
    cnnkit.set_strict_shapes(True)
    try:
        with pytest.raises(ValueError, match=r"the windows do not tile the input"):
            layer()(z(*shape))
    finally:
        cnnkit.set_strict_shapes(False)
    with pytest.warns(UserWarning):  # back to warnings
        layer()(z(*shape))


@pytest.mark.parametrize("cls", [nn.MaxPool2d, nn.AvgPool2d, nn.MinPool2d])
def test_size_rule_pool_ceil_mode_is_silent(cls):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cls(2, ceil_mode=True)(z(1, 1, 7, 7)).shape == (1, 1, 4, 4)
        cnnkit.set_strict_shapes(True)
        try:
            assert cls(2, ceil_mode=True)(z(1, 1, 7, 7)).shape == (1, 1, 4, 4)
        finally:
            cnnkit.set_strict_shapes(False)


def _suggested(message):
    """The keyword fixes (``name=value``) of a size-rule message; the input-size fix is separate."""
    text = re.search(r"Use (.*) to fit exactly", message).group(1)
    return [f for f in re.split(r", | or ", text) if "=" in f]


FIXABLE = [
    ("conv", lambda **kw: nn.Conv2d(1, 1, 3, **{"stride": 3, **kw}), (1, 1, 7, 7)),
    ("conv1d", lambda **kw: nn.Conv1d(1, 1, 4, **{"stride": 3, **kw}), (1, 1, 9)),
    ("avgpool", lambda **kw: nn.AvgPool1d(3, **{"stride": 4, **kw}), (1, 1, 9)),
    pytest.param("maxpool", lambda **kw: nn.MaxPool2d(2, **{"stride": 3, **kw}), (1, 1, 7, 7), id="maxpool"),
]


@pytest.mark.parametrize("name, make, shape", [c if hasattr(c, "marks") else pytest.param(*c, id=c[0]) for c in FIXABLE])
def test_size_rule_suggested_fixes_work(name, make, shape):
    with pytest.warns(UserWarning) as record:
        make()(z(*shape))
    fixes = _suggested(str(record[0].message))
    assert fixes
    for fix in fixes:
        key, value = fix.split("=")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            make(**{key: ast.literal_eval(value)})(z(*shape))  # accepted, and fits exactly
    smaller = int(re.search(r"an input (\d+) smaller", str(record[0].message)).group(1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make()(z(*shape[:-2], *(n - smaller for n in shape[-2:])) if len(shape) == 4
               else z(*shape[:-1], shape[-1] - smaller))
