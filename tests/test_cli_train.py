"""``cnnkit train``, ``cnnkit models`` and ``cnnkit summary`` through ``main(argv)``."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import cnnkit
from cnnkit.cli import main


@pytest.fixture()
def tiny_mnist(monkeypatch):
    """A small synthetic MNIST-shaped dataset (a bright bar whose row encodes the class)."""
    rng = np.random.default_rng(0)

    def make(n):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = np.zeros((n, 28, 28), np.uint8)
        for i, d in enumerate(labels):
            images[i, 2 + 2 * d: 4 + 2 * d, 4:24] = 255
        return images, labels

    data = (make(480), make(120))
    monkeypatch.setattr(cnnkit.datasets.mnist, "load_data", lambda path=None: data)
    return data


def test_train_writes_a_complete_run_directory(tiny_mnist, tmp_path, capsys):
    out = str(tmp_path / "run")
    assert main(["train", "--epochs", "2", "--batch-size", "32", "--out", out, "--verbose", "2"]) == 0
    printed = capsys.readouterr().out
    assert "Total params: 1,256,080" in printed and "Epoch 2/2" in printed and "test accuracy" in printed
    assert sorted(f for f in os.listdir(out) if not f.endswith(".prev")) == \
        ["best.safetensors", "history.json", "metrics.csv", "model.safetensors", "result.json"]
    result = json.load(open(os.path.join(out, "result.json")))
    assert {"model", "dataset", "epochs", "seed", "test_accuracy", "wall_time_s", "images_per_s"} <= set(result)
    assert result["model"] == "lenet5" and 0.0 <= result["test_accuracy"] <= 1.0
    history = json.load(open(os.path.join(out, "history.json")))
    assert len(history["loss"]) == 2 and "val_accuracy" in history
    loaded = cnnkit.load_model(os.path.join(out, "model.safetensors"))
    assert cnnkit.count_parameters(loaded.module) == 1_256_080


def test_interrupted_run_resumes_to_the_same_result(tiny_mnist, tmp_path, monkeypatch, capsys):
    full = str(tmp_path / "full")
    assert main(["train", "--epochs", "3", "--batch-size", "32", "--out", full, "--verbose", "0"]) == 0
    expected = cnnkit.load_model(os.path.join(full, "model.safetensors")).module.state_dict()

    from cnnkit.training import callbacks as C

    original = C.CSVLogger.on_epoch_end

    def stop_after_epoch_two(self, epoch, logs=None):
        original(self, epoch, logs)
        if epoch == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(C.CSVLogger, "on_epoch_end", stop_after_epoch_two)
    part = str(tmp_path / "part")
    assert main(["train", "--epochs", "3", "--batch-size", "32", "--out", part, "--verbose", "0"]) == 130
    assert "--resume" in capsys.readouterr().out
    monkeypatch.setattr(C.CSVLogger, "on_epoch_end", original)
    assert main(["train", "--epochs", "3", "--batch-size", "32", "--out", part, "--resume", "--verbose", "0"]) == 0
    resumed = cnnkit.load_model(os.path.join(part, "model.safetensors")).module.state_dict()
    for key in expected:
        np.testing.assert_array_equal(resumed[key].numpy(), expected[key].numpy())


def test_train_errors(tiny_mnist, tmp_path):
    with pytest.raises(SystemExit, match=r"--resume needs --out"):
        main(["train", "--resume"])
    with pytest.raises(SystemExit, match=r"nothing to resume in"):
        main(["train", "--out", str(tmp_path / "none"), "--resume"])
    with pytest.raises(SystemExit, match=r"cifar_vgg expects inputs of shape \(3, 32, 32\), mnist gives \(1, 28, 28\)"):
        main(["train", "--model", "cifar_vgg", "--out", str(tmp_path / "bad"), "--verbose", "0"])


def test_models_and_summary_commands(capsys):
    assert main(["models"]) == 0
    listing = capsys.readouterr().out
    assert "lenet5" in listing and "vgg16" in listing and "1×28×28" in listing
    assert main(["summary", "mnist_cnn"]) == 0
    assert "Total params: 1,199,882" in capsys.readouterr().out
