"""``cnnkit train``, ``cnnkit models`` and ``cnnkit summary`` through ``main(argv)``."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest

import cnnkit
from cnnkit.cli import main
from cnnkit.cli import common, train



def test_train_writes_a_complete_run_directory(trained_output):
    out, printed = trained_output
    assert "Total params: 61,706" in printed and "Epoch 2/2" in printed
    assert "validation accuracy" in printed and "test accuracy" in printed and "images/s" in printed
    assert sorted(f for f in os.listdir(out) if not f.endswith(".prev")) == \
        ["best.safetensors", "filters.png", "history.json", "history.png", "metrics.csv", "model.safetensors",
         "report.html", "result.json", "settings.json"]
    result = json.load(open(os.path.join(out, "result.json")))
    assert {"model", "dataset", "epochs", "seed", "val_accuracy", "test_accuracy", "wall_time_s", "images_per_s",
            "normalisation"} <= set(result)
    assert result["model"] == "lenet5_classic" and 0.0 <= result["test_accuracy"] <= 1.0
    assert result["normalisation"] == [[0.1307], [0.3081]] and result["test_images"] == 120
    # 480 images, 1/12 held out: 40 for validation, 440 trained on.
    assert (result["train_images"], result["validation_images"]) == (440, 40)
    history = json.load(open(os.path.join(out, "history.json")))
    assert len(history["loss"]) == 2 and "val_accuracy" in history
    loaded = cnnkit.load_model(os.path.join(out, "model.safetensors"))
    assert cnnkit.count_parameters(loaded.module) == 61_706
    for name in ("history.png", "filters.png"):
        with open(os.path.join(out, name), "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_the_shared_run_learned_the_bars(trained_run):
    # The bar's row gives the class: two epochs of LeNet-5 separate the ten rows.
    assert json.load(open(os.path.join(trained_run, "result.json")))["test_accuracy"] >= 0.9


def test_two_runs_with_the_same_seed_give_bit_identical_weights(tiny_mnist, tmp_path):
    args = ["train", "--model", "lenet5_classic", "--epochs", "1", "--batch-size", "32", "--limit", "128",
            "--verbose", "0"]
    states = []
    for name, seed in (("a", "3"), ("b", "3"), ("c", "4")):
        assert main([*args, "--seed", seed, "--out", str(tmp_path / name)]) == 0
        model = cnnkit.load_model(str(tmp_path / name / "model.safetensors"))
        states.append({k: v.numpy() for k, v in model.module.state_dict().items()})
    for key in states[0]:
        np.testing.assert_array_equal(states[0][key], states[1][key], err_msg=key)
    assert any(not np.array_equal(states[0][k], states[2][k]) for k in states[0])


@pytest.mark.parametrize("argv, message", [
    (["train", "--resume"], "cnnkit train: --resume needs --out"),
    (["train", "--out", "{tmp}/none", "--resume"], "cnnkit train: nothing to resume in"),
    (["train", "--model", "cifar_vgg", "--out", "{tmp}/bad"],
     "cnnkit train: mnist has 1 channel(s) but the model expects 3 (input (3, 32, 32))"),
    (["train", "--model", "lenet", "--out", "{tmp}/bad"],
     "cnnkit train: unknown model 'lenet'; did you mean lenet5"),
    (["train", "--dataset", "mnst", "--out", "{tmp}/bad"], "cnnkit train: unknown dataset 'mnst'; did you mean mnist?"),
    (["train", "--validation-split", "1.5", "--out", "{tmp}/bad"], "--validation-split must be in [0, 1)"),
    (["train", "--limit", "5", "--validation-split", "0.1", "--out", "{tmp}/bad"], "cannot be split"),
    (["train", "--out", "{run}"], "already holds a finished run"),
])
def test_train_mistakes_give_one_line_and_exit_code_2(argv, message, trained_run, tiny_mnist, tmp_path, capsys):
    argv = [a.format(tmp=tmp_path, run=trained_run) for a in argv]
    assert main([*argv, "--verbose", "0"]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and "Traceback" not in captured.err
    assert len(captured.err.strip().splitlines()) == 1


@pytest.mark.parametrize("value", ["0", "-3", "two"])
def test_epochs_must_be_a_positive_whole_number(value, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--epochs", value])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("cnnkit train: argument --epochs: ") and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_plots_are_skipped_with_one_line_without_matplotlib(trained_run, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now fails
    model = cnnkit.load_model(os.path.join(trained_run, "model.safetensors"))
    history = json.load(open(os.path.join(trained_run, "history.json")))
    assert train._figures(model, history, np.zeros((1, 1, 32, 32), np.float32), np.zeros(1), str(tmp_path)) == []
    out = capsys.readouterr().out
    assert out.startswith("plots skipped:") and 'pip install "cnnkit[viz]"' in out and len(out.splitlines()) == 1
    assert os.listdir(tmp_path) == []


def test_prepare_pads_and_normalises_per_channel():
    # 28×28 MNIST into LeNet-5's 32×32 field: two black pixels each side, as LeCun et al.
    x = common.prepare(np.full((2, 28, 28), 255, np.uint8), ((0.5,), (0.25,)), (1, 32, 32), "test")
    assert x.shape == (2, 1, 32, 32) and x.dtype == np.float32
    assert x[0, 0, 0, 0] == pytest.approx((0 - 0.5) / 0.25) and x[0, 0, 16, 16] == pytest.approx((1 - 0.5) / 0.25)
    assert np.all(x[:, :, 2:30, 2:30] == x[0, 0, 16, 16]) and np.all(x[:, :, :2] == x[0, 0, 0, 0])
    # CIFAR: channels-last uint8 → NCHW, each channel with its own mean and std.
    rgb = np.zeros((1, 32, 32, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 51, 102, 255
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.25, 0.125)
    y = common.prepare(rgb, (mean, std), (3, 32, 32), "cifar10")
    assert y.shape == (1, 3, 32, 32)
    np.testing.assert_allclose(y[0, :, 5, 7], [(0.2 - 0.1) / 0.5, (0.4 - 0.2) / 0.25, (1.0 - 0.3) / 0.125], rtol=1e-6)


def test_train_on_cifar10_layout(tmp_path, monkeypatch, capsys):
    """A channels-last (N, 32, 32, 3) dataset with (N, 1) labels, as the CIFAR-10 loader gives it."""
    rng = np.random.default_rng(0)
    data = ((rng.integers(0, 256, (48, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, (48, 1)).astype(np.uint8)),
            (rng.integers(0, 256, (16, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, (16, 1)).astype(np.uint8)))
    seen = {}

    def fake_load(name, path=None, download=True):
        seen.update(name=name, download=download)
        return data

    monkeypatch.setattr(cnnkit.datasets, "load", fake_load)
    monkeypatch.setitem(cnnkit.models.MODELS, "tiny_rgb", (lambda num_classes=10: cnnkit.nn.Sequential(
        cnnkit.nn.Conv2d(3, 4, 4, stride=4), cnnkit.nn.ReLU(), cnnkit.nn.Flatten(),
        cnnkit.nn.Linear(4 * 8 * 8, num_classes)), (3, 32, 32)))
    out = str(tmp_path / "rgb")
    assert main(["train", "--model", "tiny_rgb", "--dataset", "CIFAR-10", "--epochs", "1", "--out", out,
                 "--verbose", "0", "--no-download"]) == 0
    assert seen == {"name": "cifar10", "download": False}
    result = json.load(open(os.path.join(out, "result.json")))
    assert result["dataset"] == "cifar10" and result["normalisation"][0] == [0.4914, 0.4822, 0.4465]
    assert result["test_images"] == 16


def test_models_and_summary_commands(capsys):
    assert main(["models"]) == 0
    listing = capsys.readouterr().out
    assert "lenet5" in listing and "vgg16" in listing and "1×28×28" in listing
    assert main(["summary", "mnist_cnn"]) == 0
    assert "Total params: 1,199,882" in capsys.readouterr().out
    # 33×33 also leaves 16×5×5 features for the first Linear layer (floor division in pooling).
    assert main(["summary", "lenet5_classic", "--input-shape", "1,33,33"]) == 0
    assert "16 × 5 × 5" in capsys.readouterr().out


def test_summary_mistakes(capsys):
    assert main(["summary", "vgg"]) == 2
    err = capsys.readouterr().err
    assert "unknown model 'vgg'; did you mean" in err and "vgg16" in err
    with pytest.raises(SystemExit) as info:
        main(["summary", "lenet5", "--input-shape", "28,28"])
    assert info.value.code == 2 and "expected C,H,W" in capsys.readouterr().err

