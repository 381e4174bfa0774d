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
