"""``cnnkit gradcheck``: a sampled finite-difference check of a zoo model's gradients."""

from __future__ import annotations

import numpy as np
import pytest

import cnnkit
from cnnkit.cli import main
from cnnkit.cli.gradcheck import check_parameters
from cnnkit.ops import unary


def _rows(printed: str) -> list:
    return [row for row in map(str.split, printed.splitlines()) if len(row) == 6 and row[-1] in ("pass", "FAIL")]


def test_lenet5_classic_passes(capsys):
    assert main(["gradcheck", "lenet5_classic", "--samples", "2"]) == 0
    printed = capsys.readouterr().out
    rows = _rows(printed)
    assert [r[0] for r in rows] == [f"{i}.{k}" for i in (0, 3, 7, 9, 11) for k in ("weight", "bias")]
    assert rows[0][1:3] == ["6×1×5×5", "2"] and all(r[-1] == "pass" for r in rows)
    assert all(float(r[3]) < 1e-5 for r in rows) and "10/10 parameters pass" in printed


def test_a_wrong_gradient_fails_with_exit_code_1(monkeypatch, capsys):
    correct = unary.Tanh.backward
    monkeypatch.setattr(unary.Tanh, "backward", lambda self, g: tuple(1.02 * t for t in correct(self, g)))
    assert main(["gradcheck", "lenet5_classic", "--samples", "2"]) == 1
    printed = capsys.readouterr().out
    rows = _rows(printed)
    # Tanh follows every layer but the last: the gradients of all earlier parameters are off by ~2%.
    assert [r[-1] for r in rows] == ["FAIL"] * 8 + ["pass"] * 2
    assert "gradients are WRONG" in printed and "worst entry" in printed


def test_check_parameters_against_the_closed_form():
    """Linear + cross-entropy: dL/dW = (softmax(Wx + b) - onehot)ᵀ x / N, so a correct engine passes and
    the numbers in the report are finite-difference estimates of that closed form."""
    cnnkit.manual_seed(0)
    layer = cnnkit.nn.Linear(5, 3).double()
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((4, 5)), np.array([0, 2, 1, 2])
    checks = check_parameters(layer, x, y, samples=15, seed=3)
    assert [c.name for c in checks] == ["weight", "bias"] and all(c.passed for c in checks)
    w, b = layer.weight.data, layer.bias.data
    logits = x @ w.T + b
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    grad_w = (p - np.eye(3)[y]).T @ x / len(x)
    worst = checks[0]
    assert worst.analytic == pytest.approx(grad_w.reshape(-1)[worst.worst_index[0]], rel=1e-10)
    assert worst.numerical == pytest.approx(worst.analytic, rel=1e-6)


def test_float32_parameters_are_refused():
    with pytest.raises(ValueError, match="module.double"):
        check_parameters(cnnkit.nn.Linear(2, 2), np.zeros((1, 2)), np.zeros(1, int), samples=1)


def test_gradcheck_mistakes(capsys):
    assert main(["gradcheck", "lenet"]) == 2
    assert "did you mean lenet5" in capsys.readouterr().err
    assert main(["gradcheck", "lenet5", "--eps", "0"]) == 2
    assert "--eps must be positive" in capsys.readouterr().err


def test_batchnorm_and_dropout_models(monkeypatch, capsys):
    """BatchNorm is checked in training mode (batch statistics), dropout is switched off so every
    evaluation is the same function."""
    nn = cnnkit.nn
    monkeypatch.setitem(cnnkit.models.MODELS, "tiny_bn", (lambda num_classes=3: nn.Sequential(
        nn.Conv2d(3, 2, 4, stride=4), nn.BatchNorm2d(2), nn.ReLU(), nn.Dropout(0.5), nn.Flatten(),
        nn.Linear(2 * 4 * 4, num_classes), nn.BatchNorm1d(num_classes)), (3, 16, 16)))
    assert main(["gradcheck", "tiny_bn", "--samples", "3", "--batch-size", "3"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert [r[0] for r in rows] == ["0.weight", "0.bias", "1.weight", "1.bias", "5.weight", "5.bias", "6.weight",
                                    "6.bias"]


def test_batchnorm_model_with_a_batch_of_one_names_the_option(capsys):
    # Was: batch_norm's error followed by the model's shape listing, not naming --batch-size.
    assert main(["gradcheck", "cifar_vgg", "--batch-size", "1"]) == 2
    err = capsys.readouterr().err
    assert err == ("cnnkit gradcheck: cifar_vgg has BatchNorm, which needs at least 2 samples in training mode; "
                   "use --batch-size 2 or more\n")
