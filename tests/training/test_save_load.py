"""Model.save / cnnkit.load_model: architecture, weights, optimizer and compile settings round trip."""

from __future__ import annotations

import numpy as np
import pytest

import cnnkit
from cnnkit import keras, nn
from cnnkit.io import CheckpointError, save_checkpoint
from cnnkit.keras import layers


def data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 1, 8, 8)).astype(np.float32)
    return x, (x[:, 0, :4].mean(axis=(1, 2)) > 0).astype(np.int64)


def test_round_trip_continues_training_bit_identically(tmp_path):
    cnnkit.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Dropout(0.2), nn.Linear(None, 2))
    model = cnnkit.Model(net)
    model.compile(cnnkit.optim.Adam(net.parameters(), lr=0.003), "sparse_categorical_crossentropy", ["accuracy"])
    x, y = data()
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    path = model.save(str(tmp_path / "model.safetensors"), note="two epochs")
    state = cnnkit.random.get_rng_state()

    loaded = cnnkit.load_model(path)
    assert type(loaded.optimizer).__name__ == "Adam" and loaded.optimizer.param_groups[0]["lr"] == 0.003
    assert loaded.loss_name == "sparse_categorical_crossentropy" and [n for n, _ in loaded.metric_fns] == ["accuracy"]
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)

    cnnkit.random.set_rng_state(state)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    cnnkit.random.set_rng_state(state)
    loaded.fit(x, y, epochs=1, batch_size=16, verbose=0)
    for a, b in zip(model.module.state_dict().values(), loaded.module.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_keras_model_round_trip(tmp_path):
    model = keras.Sequential([layers.Conv2D(4, 3, activation="relu", input_shape=(8, 8, 1)), layers.MaxPooling2D(),
                              layers.Flatten(), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = np.random.default_rng(1).random((5, 8, 8, 1)).astype(np.float32)
    path = model.save(str(tmp_path / "keras.safetensors"))
    loaded = cnnkit.load_model(path)
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), rtol=0, atol=0)
    assert loaded.summary(show=False).total_params == model.summary(show=False).total_params


def test_uncompiled_model_and_loss_module(tmp_path):
    model = cnnkit.Model(nn.Sequential(nn.Linear(3, 2)))
    path = model.save(str(tmp_path / "plain.safetensors"))
    assert cnnkit.load_model(path).optimizer is None
    model.compile("rmsprop", nn.CrossEntropyLoss(label_smoothing=0.1))
    path = model.save(str(tmp_path / "loss.safetensors"))
    loaded = cnnkit.load_model(path)
    assert isinstance(loaded.loss_fn, nn.CrossEntropyLoss) and loaded.loss_fn.label_smoothing == 0.1


def test_custom_modules_cannot_be_saved_as_architecture(tmp_path):
    class Twice(nn.Module):
        def forward(self, x):
            return x * 2

    model = cnnkit.Model(nn.Sequential(nn.Linear(3, 2), Twice()))
    with pytest.raises(TypeError, match=r"model\.1 is a Twice, a custom Module .*cnnkit\.io\.save_checkpoint"):
        model.save(str(tmp_path / "custom.safetensors"))


def test_weights_only_checkpoint_is_not_a_saved_model(tmp_path):
    path = save_checkpoint(str(tmp_path / "weights.safetensors"), nn.Linear(2, 2))
    with pytest.raises(CheckpointError, match=r"holds weights but no architecture"):
        cnnkit.load_model(path)


def test_groups_frozen_layers_and_metric_names_survive(tmp_path):
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    net[0].weight.requires_grad = False
    opt = cnnkit.optim.SGD([{"params": [net[0].bias], "lr": 0.5}, {"params": [net[2].weight, net[2].bias]}], lr=0.1)
    model = cnnkit.Model(net)

    def top(y_pred, y_true):
        return 1.0

    model.compile(opt, "sparse_categorical_crossentropy", ["accuracy", top])
    with pytest.warns(UserWarning, match=r"1 callable metric\(s\) cannot be saved"):
        path = model.save(str(tmp_path / "groups.safetensors"))
    loaded = cnnkit.load_model(path)
    assert [len(g["params"]) for g in loaded.optimizer.param_groups] == [1, 2]
    assert [g["lr"] for g in loaded.optimizer.param_groups] == [0.5, 0.1]
    assert loaded.module[0].weight.requires_grad is False and loaded.module[0].bias.requires_grad is True
    assert [name for name, _ in loaded.metric_fns] == ["accuracy"]


def test_unbuilt_lazy_layers_and_sequential_subclasses_are_refused(tmp_path):
    with pytest.raises(TypeError, match=r"lazy layer that has not seen data yet"):
        cnnkit.Model(nn.Sequential(nn.Linear(None, 2))).save(str(tmp_path / "lazy.safetensors"))

    class Stack(nn.Sequential):
        pass

    with pytest.raises(TypeError, match=r"model is a Stack, a custom Module"):
        cnnkit.Model(Stack(nn.Linear(2, 2))).save(str(tmp_path / "stack.safetensors"))


def test_plain_function_loss_warns_and_keeps_the_optimizer(tmp_path):
    model = cnnkit.Model(nn.Sequential(nn.Linear(3, 2)))
    model.compile("adam", lambda y_pred, y_true: (y_pred * 0).sum())
    with pytest.warns(UserWarning, match=r"loss is a plain function"):
        path = model.save(str(tmp_path / "fn.safetensors"))
    loaded = cnnkit.load_model(path)
    assert type(loaded.optimizer).__name__ == "Adam"
