"""The Keras facade: the slides' program's API, channels-last data, Keras defaults."""

from __future__ import annotations

import numpy as np
import pytest

import cnnkit
from cnnkit import keras
from cnnkit.keras import layers


def slides_model() -> keras.Sequential:
    return keras.Sequential([
        layers.Conv2D(64, (3, 3), activation="relu", input_shape=(28, 28, 1)),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Flatten(),
        layers.Dense(10, activation="softmax"),
    ])


def test_the_slides_model_builds_with_kerass_parameter_counts():
    model = slides_model()
    s = model.summary(show=False)
    assert [r["params"] for r in s.rows if r["params"]] == [640, 36_928, 16_010]
    assert s.total_params == 53_578
    out_shapes = [r["output_shape"] for r in s.rows if r["layer"].startswith(("KerasConv2D", "MaxPool2d"))]
    assert out_shapes == [(64, 26, 26), (64, 13, 13), (64, 11, 11), (64, 5, 5)]


def test_fit_learns_on_channels_last_images():
    cnnkit.manual_seed(0)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 96)
    x = (0.1 * rng.random((96, 8, 8, 1))).astype("float32")
    x[y == 1, :4] += 1.0  # class 1: a bright top half (channels-last layout)
    model = keras.Sequential([layers.Conv2D(4, 3, activation="relu", padding="same", input_shape=(8, 8, 1)),
                              layers.Flatten(), layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0] * 0.6
    assert model.evaluate(x, y, verbose=0)[1] > 0.85
    probabilities = model.predict(x[:5])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_keras_defaults():
    model = slides_model()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    assert model.optimizer.param_groups[0]["lr"] == 0.01
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert model.optimizer.param_groups[0]["lr"] == 0.001
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.005), loss="mse")
    assert model.optimizer.param_groups[0]["lr"] == 0.005
    conv = model.module[1]
    fan_in, fan_out = 1 * 9, 64 * 9
    bound = np.sqrt(6.0 / (fan_in + fan_out))
    assert np.abs(conv.weight.numpy()).max() <= bound and np.abs(conv.weight.numpy()).max() > 0.8 * bound
    assert np.all(conv.bias.numpy() == 0)


def test_flatten_uses_kerass_hwc_order():
    model = keras.Sequential([layers.Flatten()])
    x = np.arange(2 * 2 * 3, dtype=np.float32).reshape(1, 2, 2, 3)
    np.testing.assert_array_equal(model.predict(x), x.reshape(1, -1))


def test_input_layer_and_other_layers():
    model = keras.Sequential([keras.Input((16, 16, 3)), layers.Conv2D(8, 3, strides=2, padding="same"),
                              layers.BatchNormalization(), layers.ReLU(), layers.AveragePooling2D(padding="same"),
                              layers.Activation("tanh"), layers.GlobalAveragePooling2D(), layers.Dropout(0.3),
                              layers.Dense(4)])
    s = model.summary(show=False)
    assert s.rows[1]["output_shape"] == (8, 8, 8) and s.rows[-1]["output_shape"] == (4,)
    assert model.predict(np.zeros((3, 16, 16, 3), np.float32)).shape == (3, 4)


@pytest.mark.parametrize("make, message", [
    (lambda: layers.Conv2D(8, 3, padding="full"), r"Conv2D: padding must be 'valid' or 'same'"),
    (lambda: layers.Dense(4, activation="sigmoidal"), r"unknown activation 'sigmoidal'"),
    (lambda: layers.Dense(4, kernel_initializer="magic"), r"unknown initializer 'magic'"),
    (lambda: layers.MaxPooling2D(3, strides=2, padding="same"), r"padding='same' is supported when strides equal"),
    (lambda: layers.Dropout(1.5), r"dropout probability p must be in \[0, 1\)"),
    (lambda: keras.Sequential([layers.Dense(3), layers.Dense(2, input_shape=(4,))]), r"input_shape can only be given"),
    (lambda: keras.Sequential([cnnkit.nn.ReLU()]), r"takes cnnkit.keras.layers layers"),
])
def test_errors(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_keras_datasets_is_the_same_loader():
    assert keras.datasets.mnist.load_data is cnnkit.datasets.mnist.load_data


SLIDES = __import__("os").path.join(__import__("os").path.dirname(__file__), "..", "..", "examples",
                                    "keras_mnist_slides.py")


def test_the_slides_program_runs_unchanged_and_learns(monkeypatch, capsys):
    """The program file itself, on a 1,024-image subset so the test stays short (the full run is manual)."""
    rng = np.random.default_rng(0)
    digits = rng.integers(0, 10, 1024)
    images = np.zeros((1024, 28, 28), np.uint8)
    for i, d in enumerate(digits):  # an easy synthetic "digit": a bright bar whose row encodes the class
        images[i, 2 + 2 * d: 4 + 2 * d, 4:24] = 255
    fake = ((images, digits.astype(np.uint8)), (images[:256], digits[:256].astype(np.uint8)))
    monkeypatch.setattr(cnnkit.datasets.mnist, "load_data", lambda path=None: fake)
    cnnkit.manual_seed(0)
    namespace = {"__name__": "__main__"}
    exec(compile(open(SLIDES).read(), SLIDES, "exec"), namespace)
    printed = capsys.readouterr().out
    assert "Total params: 53,578" in printed and "(1024, 28, 28, 1)" in printed
    losses = [float(line.split("loss: ")[1].split(" ")[0]) for line in printed.splitlines() if line.startswith("Epoch")]
    assert len(losses) == 5 and losses[-1] < losses[0]


def test_progress_bar_on_a_terminal_uses_tqdm():
    pytest.importorskip("tqdm")
    import io

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    model = cnnkit.Model(cnnkit.nn.Sequential(cnnkit.nn.Linear(2, 2)))
    model.compile("sgd", "sparse_categorical_crossentropy", ["accuracy"])
    x, y = np.zeros((40, 2), np.float32), np.zeros(40, np.int64)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[cnnkit.callbacks.ProgressBar(1, stream)])
    text = stream.getvalue()
    assert "Epoch 1/2" in text and "Epoch 2/2" in text and "5/5" in text and "loss" in text and "accuracy" in text


def test_image_outputs_dense_on_channels_and_same_pooling_follow_keras():
    model = keras.Sequential([layers.Input((6, 6, 2)), layers.Conv2D(4, 3, padding="same"), layers.Dense(5)])
    assert model.predict(np.zeros((3, 6, 6, 2), np.float32)).shape == (3, 6, 6, 5)  # channels-last, Dense on C
    x = np.arange(49, dtype=np.float32).reshape(1, 7, 7, 1)
    pooled = keras.Sequential([layers.Input((7, 7, 1)), layers.MaxPooling2D(3, padding="same")]).predict(x)
    # TensorFlow pads 7 → 9 as one row/column before and one after: windows start at −1.
    np.testing.assert_array_equal(pooled[0, :, :, 0], [[8, 11, 13], [29, 32, 34], [43, 46, 48]])
    averaged = keras.Sequential([layers.Input((7, 7, 1)), layers.AveragePooling2D(3, padding="same")]).predict(x)
    np.testing.assert_allclose(averaged[0, 0, 0, 0], np.mean([0, 1, 7, 8]))  # padding never counted
    assert layers.Input((2, 3)).input_shape == (2, 3)
