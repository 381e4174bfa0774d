"""cnnkit.Model: compile / fit / evaluate / predict / train_on_batch against Keras's semantics and
independent NumPy computations on small synthetic data."""

from __future__ import annotations

import numpy as np
import pytest

import cnnkit
from cnnkit import nn
from cnnkit.optim import SGD, Adam

from .helpers import assert_same_weights, tiny_images, weights


# ----------------------------------------------------------------------------------- helpers
def blobs(n: int = 128, k: int = 4, seed: int = 0, spread: float = 0.6) -> tuple:
    """``k`` well-separated Gaussian blobs in 2-D: ``(x float32 (n, 2), y int64 (n,))``."""
    rng = np.random.default_rng(seed)
    centers = np.array([[2, 2], [-2, 2], [2, -2], [-2, -2]], dtype=np.float32)[:k]
    y = rng.integers(0, k, n).astype(np.int64)
    x = (centers[y] + spread * rng.normal(size=(n, 2))).astype(np.float32)
    return x, y


def binary_blobs(n: int = 128, seed: int = 0) -> tuple:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n).astype(np.int64)
    x = (np.where(y[:, None] == 1, 2.0, -2.0) + 0.6 * rng.normal(size=(n, 2))).astype(np.float32)
    return x, y


def mlp(out: int = 4, softmax: bool = False, dropout: float = 0.0) -> nn.Sequential:
    layers = [nn.Linear(2, 16), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(16, out))
    if softmax:
        layers.append(nn.Softmax(dim=1))
    return nn.Sequential(*layers)


def log_softmax(z: np.ndarray) -> np.ndarray:
    z = z.astype(np.float64)
    m = z.max(axis=1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))


def softplus(z: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, z)


def adam(lr: float):
    return lambda params: Adam(params, lr=lr)


# ------------------------------------------------------------------------------------ compile
@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "rmsprop", "adagrad"])
def test_every_optimizer_name_trains(name):
    x, y = blobs()
    cnnkit.manual_seed(0)
    model = cnnkit.Model(mlp())
    model.compile(optimizer=name, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    expected = {"sgd": SGD, "adam": Adam, "adamw": cnnkit.optim.AdamW, "rmsprop": cnnkit.optim.RMSprop,
                "adagrad": cnnkit.optim.Adagrad}[name]
    assert type(model.optimizer) is expected
    history = model.fit(x, y, epochs=4, batch_size=16, verbose=0)
    assert len(history.history["loss"]) == 4
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_optimizer_name_is_case_insensitive():
    model = cnnkit.Model(mlp())
    model.compile(optimizer="Adam")
    assert type(model.optimizer) is Adam


def test_optimizer_instance_is_used_as_is():
    x, y = blobs()
    cnnkit.manual_seed(0)
    net = mlp()
    opt = SGD(net.parameters(), lr=0.2, momentum=0.9)
    model = cnnkit.Model(net)
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    assert model.optimizer is opt
    history = model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    assert history.history["lr"] == [0.2] * 15
    assert history.history["accuracy"][-1] >= 0.9
    assert model.evaluate(x, y, verbose=0)[1] >= 0.9


def test_optimizer_factory_receives_the_parameters():
    net = mlp()
    seen = []

    def factory(params):
        params = list(params)
        seen.append(params)
        return Adam(params, lr=0.01)

    model = cnnkit.Model(net)
    model.compile(optimizer=factory)
    assert isinstance(model.optimizer, Adam)
    assert len(seen) == 1 and [id(p) for p in seen[0]] == [id(p) for p in net.parameters()]


def test_bad_optimizer_type_raises_type_error():
    with pytest.raises(TypeError, match="optimizer"):
        cnnkit.Model(mlp()).compile(optimizer=3)


def test_model_wraps_only_modules():
    with pytest.raises(TypeError, match="Module"):
        cnnkit.Model(lambda x: x)


# ------------------------------------------------------------------------------------- losses
def test_sparse_categorical_crossentropy_learns_separable_blobs():
    x, y = blobs()
    cnnkit.manual_seed(0)
    model = cnnkit.Model(mlp())
    model.compile(adam(0.05), "sparse_categorical_crossentropy", ["accuracy"])
    history = model.fit(x, y, epochs=10, batch_size=16, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0]
    assert history.history["accuracy"][-1] >= 0.9
    loss, acc = model.evaluate(x, y, verbose=0)
    assert acc >= 0.9 and loss < losses[0]


def test_categorical_crossentropy_with_one_hot_targets():
    x, y = blobs()
    onehot = np.eye(4, dtype=np.float32)[y]
    cnnkit.manual_seed(0)
    model = cnnkit.Model(mlp())
    model.compile(adam(0.05), "categorical_crossentropy", ["accuracy"])
    history = model.fit(x, onehot, epochs=10, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    loss, acc = model.evaluate(x, onehot, verbose=0)
    logits = model.predict(x)
    np.testing.assert_allclose(loss, -np.mean(np.sum(onehot * log_softmax(logits), axis=1)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(acc, np.mean(logits.argmax(1) == y))
    assert acc >= 0.9


def test_categorical_crossentropy_equals_sparse_on_the_same_weights():
    x, y = blobs()
    cnnkit.manual_seed(0)
    net = mlp()
    sparse, dense = cnnkit.Model(net), cnnkit.Model(net)
    sparse.compile("sgd", "sparse_categorical_crossentropy", ["accuracy"])
    dense.compile("sgd", "categorical_crossentropy", ["accuracy"])
    a = sparse.evaluate(x, y, verbose=0)
    b = dense.evaluate(x, np.eye(4, dtype=np.float32)[y], verbose=0)
    np.testing.assert_allclose(a, b, rtol=1e-6)


def test_binary_crossentropy_with_one_output_and_column_targets():
    x, y = binary_blobs()
    yc = y.reshape(-1, 1).astype(np.float32)
    cnnkit.manual_seed(0)
    model = cnnkit.Model(mlp(out=1))
    model.compile(adam(0.05), "binary_crossentropy", ["accuracy"])
    history = model.fit(x, yc, epochs=8, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    loss, acc = model.evaluate(x, yc, batch_size=20, verbose=0)
    z = model.predict(x).astype(np.float64)  # logits (no final Sigmoid)
    expected = np.mean(softplus(z) - yc * z)
    np.testing.assert_allclose(loss, expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(acc, np.mean((z > 0) == (yc > 0.5)))
    assert acc >= 0.9


def test_binary_crossentropy_loss_accepts_flat_targets():
    x, y = binary_blobs()
    cnnkit.manual_seed(0)
    model = cnnkit.Model(mlp(out=1))
    model.compile(adam(0.05), "binary_crossentropy")
    model.fit(x, y, epochs=5, batch_size=16, verbose=0)
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), model.evaluate(x, y.reshape(-1, 1), verbose=0),
                               rtol=1e-7)


def test_metrics_with_one_output_and_flat_targets():
    x, y = binary_blobs()
    cnnkit.manual_seed(0)
    model = cnnkit.Model(mlp(out=1))
    model.compile(adam(0.05), "binary_crossentropy", ["accuracy"])
    model.fit(x, y, epochs=8, batch_size=16, verbose=0)
    flat = model.evaluate(x, y, verbose=0)
    column = model.evaluate(x, y.reshape(-1, 1), verbose=0)
    assert column[1] >= 0.9
    np.testing.assert_allclose(flat, column, rtol=1e-7)  # got accuracy ≈ 0.5 for flat targets


def test_mae_metric_with_flat_regression_targets():
    x, _ = blobs()
    target = (x[:, 0] - 0.5 * x[:, 1]).astype(np.float32)
    cnnkit.manual_seed(0)
    model = cnnkit.Model(mlp(out=1))
    model.compile(adam(0.02), "mse", ["mae"])
    model.fit(x, target, epochs=5, batch_size=16, verbose=0)
    _, mae = model.evaluate(x, target, verbose=0)
    np.testing.assert_allclose(mae, np.mean(np.abs(model.predict(x)[:, 0] - target)), rtol=1e-5)


def test_binary_crossentropy_with_final_sigmoid_is_fused():
    x, y = binary_blobs()
    yc = y.reshape(-1, 1).astype(np.float32)
    cnnkit.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 1), nn.Sigmoid())
    model = cnnkit.Model(net)
    model.compile("sgd", "binary_crossentropy", ["accuracy"])
    net[0].weight.data[...] = -40.0  # confidently wrong: σ(z) saturates to exactly 0 or 1 in float32
    net[0].bias.data[...] = 0.0
    loss, acc = model.evaluate(x, yc, verbose=0)
    z = x.astype(np.float64) @ np.full((2, 1), -40.0)
    assert np.isfinite(loss) and loss > 100.0  # no log(0) and no clamping at 100
    assert acc < 0.1
    np.testing.assert_allclose(loss, np.mean(softplus(z) - yc * z), rtol=1e-5)
    probs = model.predict(x)
    assert probs.min() >= 0.0 and probs.max() <= 1.0  # predict returns probabilities
    np.testing.assert_allclose(acc, np.mean((probs > 0.5) == (yc > 0.5)))


@pytest.mark.parametrize("loss", ["mse", "mean_squared_error", "mae", "mean_absolute_error"])
def test_regression_losses(loss):
    x, _ = blobs()
    target = (x[:, :1] - 0.5 * x[:, 1:]).astype(np.float32)
    cnnkit.manual_seed(0)
    model = cnnkit.Model(mlp(out=1))
    model.compile(adam(0.02), loss, ["mae", "mse"])
    history = model.fit(x, target, epochs=8, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    value, mae, mse = model.evaluate(x, target, batch_size=24, verbose=0)
    diff = model.predict(x).astype(np.float64) - target
    np.testing.assert_allclose(mae, np.mean(np.abs(diff)), rtol=1e-5)
    np.testing.assert_allclose(mse, np.mean(diff ** 2), rtol=1e-5)
    np.testing.assert_allclose(value, mse if loss in ("mse", "mean_squared_error") else mae, rtol=1e-5)


def test_callable_loss_module():
    x, y = blobs()
    cnnkit.manual_seed(0)
    model = cnnkit.Model(mlp())
    model.compile(adam(0.05), nn.CrossEntropyLoss(), ["accuracy"])
    history = model.fit(x, y, epochs=8, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    loss, acc = model.evaluate(x, y, verbose=0)
    logits = model.predict(x)
    np.testing.assert_allclose(loss, -np.mean(log_softmax(logits)[np.arange(len(y)), y]), rtol=1e-5)
    assert acc >= 0.9


def test_callable_loss_function():
    x, _ = blobs()
    target = x[:, :1].copy()
    calls = []

    def half_mse(pred, true):
        calls.append((pred.shape, true.shape))
        d = pred - true
        return (d * d).mean() * 0.5

    cnnkit.manual_seed(0)
    model = cnnkit.Model(mlp(out=1))
    model.compile(adam(0.02), half_mse)
    assert model.loss_name == "half_mse"
    history = model.fit(x, target, epochs=5, batch_size=32, verbose=0)
    assert calls[0] == ((32, 1), (32, 1))
    assert history.history["loss"][-1] < history.history["loss"][0]
    np.testing.assert_allclose(model.evaluate(x, target, verbose=0),
                               0.5 * np.mean((model.predict(x) - target) ** 2), rtol=1e-5)


def test_callable_metric():
    x, y = blobs()

    def top_class_fraction(y_pred, y_true):
        return float(np.mean(np.argmax(y_pred, 1) == 0))

    cnnkit.manual_seed(0)
    model = cnnkit.Model(mlp())
    model.compile("sgd", "sparse_categorical_crossentropy", ["accuracy", top_class_fraction])
    result = model.evaluate(x, y, batch_size=10, verbose=0, return_dict=True)
    assert list(result) == ["loss", "accuracy", "top_class_fraction"]
    logits = model.predict(x)
    np.testing.assert_allclose(result["top_class_fraction"], np.mean(logits.argmax(1) == 0))
    history = model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert "top_class_fraction" in history.history


def test_metric_names_and_accuracy_alias():
    x, y = blobs()
    model = cnnkit.Model(mlp())
    model.compile("sgd", "sparse_categorical_crossentropy", ["acc", "sparse_categorical_accuracy"])
    result = model.evaluate(x, y, verbose=0, return_dict=True)
    assert set(result) == {"loss", "accuracy", "sparse_categorical_accuracy"}
    assert result["accuracy"] == result["sparse_categorical_accuracy"]


# ------------------------------------------------------------------- evaluate matches NumPy
def test_evaluate_equals_independent_numpy_computation():
    x, y = blobs(n=103)  # 103 samples: the last batch is short, the average must weight it
    cnnkit.manual_seed(0)
    model = cnnkit.Model(mlp())
    model.compile(adam(0.02), "sparse_categorical_crossentropy", ["accuracy"])
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    loss, acc = model.evaluate(x, y, batch_size=10, verbose=0)
    logits = model.predict(x, batch_size=7)
    expected_loss = -np.mean(log_softmax(logits)[np.arange(len(y)), y])
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-5)
    assert acc == pytest.approx(np.mean(logits.argmax(1) == y), abs=1e-12)


def test_evaluate_return_types():
    x, y = blobs()
    model = cnnkit.Model(mlp())
    model.compile("sgd", "sparse_categorical_crossentropy")
    loss = model.evaluate(x, y, verbose=0)
    assert isinstance(loss, float)
    model.compile("sgd", "sparse_categorical_crossentropy", ["accuracy", "sparse_categorical_accuracy"])
    out = model.evaluate(x, y, verbose=0)
    assert isinstance(out, list) and len(out) == 3 and out[0] == pytest.approx(loss)
    as_dict = model.evaluate(x, y, verbose=0, return_dict=True)
    assert list(as_dict) == ["loss", "accuracy", "sparse_categorical_accuracy"] and as_dict["loss"] == out[0]


def test_evaluate_verbose_prints_and_does_not_train(capsys):
    x, y = blobs()
    model = cnnkit.Model(mlp(dropout=0.5))
    model.compile("sgd", "sparse_categorical_crossentropy", ["accuracy"])
    before = weights(model)
    a = model.evaluate(x, y)
    b = model.evaluate(x, y, verbose=0)
    assert a == b  # eval mode: dropout off, deterministic
    out = capsys.readouterr().out
    assert "loss:" in out and "accuracy:" in out and out.count("\n") == 1
    assert_same_weights(before, weights(model))


# ------------------------------------------------------------------------------------ fit
def test_history_per_epoch_with_validation_data():
    x, y = blobs()
    xv, yv = blobs(n=40, seed=1)
    cnnkit.manual_seed(0)
    model = cnnkit.Model(mlp())
    model.compile(adam(0.05), "sparse_categorical_crossentropy", ["accuracy"])
    history = model.fit(x, y, epochs=3, batch_size=16, validation_data=(xv, yv), verbose=0)
    assert history is model.history
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    assert all(len(v) == 3 for v in history.history.values())
    assert history.epoch == [0, 1, 2]
    assert [history.history["val_loss"][-1], history.history["val_accuracy"][-1]] == \
        pytest.approx(model.evaluate(xv, yv, verbose=0), rel=1e-6)


def test_validation_split_holds_out_the_last_fraction():
    x, y = blobs(n=100)
    seen = []

    class Recording(cnnkit.Model):
        def train_step(self, batch):
            seen.append(batch[0].copy())
            return super().train_step(batch)

    cnnkit.manual_seed(0)
    model = Recording(mlp())
    model.compile(adam(0.05), "sparse_categorical_crossentropy", ["accuracy"])
    history = model.fit(x, y, epochs=2, batch_size=16, validation_split=0.25, verbose=0)
    assert {"val_loss", "val_accuracy"} <= set(history.history)
    trained = np.concatenate(seen[: len(seen) // 2])
    assert len(trained) == 75
    np.testing.assert_array_equal(np.sort(trained, axis=0), np.sort(x[:75], axis=0))
    assert [history.history["val_loss"][-1], history.history["val_accuracy"][-1]] == \
        pytest.approx(model.evaluate(x[75:], y[75:], verbose=0), rel=1e-6)


def test_validation_data_wins_over_validation_split():
    x, y = blobs(n=100)
    xv, yv = blobs(n=20, seed=3)
    model = cnnkit.Model(mlp())
    model.compile("sgd", "sparse_categorical_crossentropy")
    history = model.fit(x, y, epochs=1, batch_size=100, validation_split=0.5, validation_data=(xv, yv),
                        verbose=0, shuffle=False)
    assert history.history["val_loss"][0] == pytest.approx(model.evaluate(xv, yv, verbose=0))


def test_predict_shapes_and_batching():
    cnnkit.manual_seed(0)
    model = cnnkit.Model(mlp(out=3))
    x, _ = blobs(n=37)
    full = model.predict(x)
    assert full.shape == (37, 3) and full.dtype == np.float32
    np.testing.assert_allclose(model.predict(x, batch_size=5), full, rtol=1e-6)
    assert model.predict(x[:1]).shape == (1, 3)
    softmax = cnnkit.Model(mlp(out=3, softmax=True))
    np.testing.assert_allclose(softmax.predict(x).sum(axis=1), 1.0, rtol=1e-6)


def test_predict_with_cnn_on_images_and_summary_after_fit():
    x, y = tiny_images()
    cnnkit.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 2))
    model = cnnkit.Model(net)
    with pytest.raises(ValueError, match="input_shape"):
        model.summary()
    model.compile(adam(0.05), "sparse_categorical_crossentropy", ["accuracy"])
    history = model.fit(x, y, epochs=4, batch_size=16, verbose=0)
    assert history.history["accuracy"][-1] >= 0.9
    assert model.predict(x).shape == (64, 2)
    s = model.summary(show=False)
    assert s.rows[0]["output_shape"] == (4, 8, 8)
    assert s.rows[-1]["output_shape"] == (2,)
    assert s.total_params == 4 * 9 + 4 + 64 * 2 + 2
    explicit = model.summary(input_shape=(1, 8, 8), show=False)
    assert [r["output_shape"] for r in explicit.rows] == [r["output_shape"] for r in s.rows]


def test_inputs_as_tensors():
    x, y = blobs()
    cnnkit.manual_seed(0)
    a = cnnkit.Model(mlp())
    a.compile(adam(0.05), "sparse_categorical_crossentropy", ["accuracy"])
    ha = a.fit(x, y, epochs=2, batch_size=16, verbose=0)
    cnnkit.manual_seed(0)
    b = cnnkit.Model(mlp())
    b.compile(adam(0.05), "sparse_categorical_crossentropy", ["accuracy"])
    hb = b.fit(cnnkit.from_numpy(x), cnnkit.from_numpy(y), epochs=2, batch_size=16, verbose=0)
    assert ha.history == hb.history
    assert_same_weights(weights(a), weights(b))
    xt = cnnkit.from_numpy(x)
    np.testing.assert_array_equal(b.predict(xt), b.predict(x))
    assert b.evaluate(xt, cnnkit.from_numpy(y), verbose=0) == b.evaluate(x, y, verbose=0)


def test_x_as_iterable_of_batches():
    x, y = blobs(n=96)
    batches = [(x[i:i + 16], y[i:i + 16]) for i in range(0, 96, 16)]
    cnnkit.manual_seed(0)
    a = cnnkit.Model(mlp())
    a.compile(adam(0.05), "sparse_categorical_crossentropy", ["accuracy"])
    ha = a.fit(batches, epochs=3, verbose=0)
    cnnkit.manual_seed(0)
    b = cnnkit.Model(mlp())
    b.compile(adam(0.05), "sparse_categorical_crossentropy", ["accuracy"])
    hb = b.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    assert ha.history["loss"] == pytest.approx(hb.history["loss"], rel=1e-12)
    assert_same_weights(weights(a), weights(b))
    assert a.evaluate(batches, verbose=0) == pytest.approx(a.evaluate(x, y, batch_size=16, verbose=0), rel=1e-12)
    np.testing.assert_array_equal(a.predict([bx for bx, _ in batches]), a.predict(x))
    assert len(ha.history["loss"]) == 3 and ha.history["accuracy"][-1] >= 0.9


def test_train_on_batch_and_test_on_batch():
    x, y = blobs(n=32)
    cnnkit.manual_seed(0)
    model = cnnkit.Model(mlp())
    model.compile(SGD(model.module.parameters(), lr=0.1), "sparse_categorical_crossentropy")
    before = weights(model)
    evaluated = model.test_on_batch(x, y)
    assert isinstance(evaluated, float)
    assert_same_weights(before, weights(model))
    trained = model.train_on_batch(x, y)
    assert trained == pytest.approx(evaluated, rel=1e-6)  # the loss before the update
    assert model.test_on_batch(x, y) < evaluated
    assert any(not np.array_equal(before[k], v) for k, v in weights(model).items())
    model.compile(model.optimizer, "sparse_categorical_crossentropy", ["accuracy"])
    out = model.train_on_batch(cnnkit.from_numpy(x), cnnkit.from_numpy(y))
    assert isinstance(out, list) and len(out) == 2 and 0.0 <= out[1] <= 1.0
    loss, acc = model.test_on_batch(x, y)
    logits = model.predict(x)
    np.testing.assert_allclose(loss, -np.mean(log_softmax(logits)[np.arange(32), y]), rtol=1e-5)
    assert acc == np.mean(logits.argmax(1) == y)


def test_train_on_batch_equals_one_epoch_of_one_batch():
    x, y = blobs(n=32)
    cnnkit.manual_seed(0)
    a = cnnkit.Model(mlp())
    a.compile(adam(0.01), "sparse_categorical_crossentropy")
    cnnkit.manual_seed(0)
    b = cnnkit.Model(mlp())
    b.compile(adam(0.01), "sparse_categorical_crossentropy")
    a.train_on_batch(x, y)
    b.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    assert_same_weights(weights(a), weights(b))


# --------------------------------------------------------------------------- determinism
def _seeded_run(shuffle: bool = True, seed: int = 0) -> tuple:
    x, y = blobs()
    cnnkit.manual_seed(seed)
    model = cnnkit.Model(mlp(dropout=0.3))
    model.compile(adam(0.02), "sparse_categorical_crossentropy", ["accuracy"])
    history = model.fit(x, y, epochs=3, batch_size=16, shuffle=shuffle, verbose=0)
    return weights(model), history.history


def test_seeded_runs_are_bit_identical():
    wa, ha = _seeded_run()
    wb, hb = _seeded_run()
    assert_same_weights(wa, wb)
    assert ha == hb


def test_shuffle_changes_the_result():
    shuffled, _ = _seeded_run(shuffle=True)
    ordered, _ = _seeded_run(shuffle=False)
    assert any(not np.array_equal(shuffled[k], ordered[k]) for k in shuffled)
    other_seed, _ = _seeded_run(seed=1)
    assert any(not np.array_equal(shuffled[k], other_seed[k]) for k in shuffled)


def test_shuffle_false_visits_samples_in_order():
    x, y = blobs(n=40)
    seen = []

    class Recording(cnnkit.Model):
        def train_step(self, batch):
            seen.append(batch[1].copy())
            return super().train_step(batch)

    model = Recording(mlp())
    model.compile("sgd", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    assert [len(b) for b in seen] == [16, 16, 8] * 2
    np.testing.assert_array_equal(np.concatenate(seen), np.concatenate([y, y]))
    seen.clear()
    model.fit(x, y, epochs=2, batch_size=16, shuffle=True, verbose=0)
    first, second = np.concatenate(seen[:3]), np.concatenate(seen[3:])
    np.testing.assert_array_equal(np.sort(first), np.sort(y))
    assert not np.array_equal(first, y) or not np.array_equal(second, y)


def test_initial_epoch():
    x, y = blobs()
    epochs = []

    class Epochs(cnnkit.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            epochs.append(epoch)

    model = cnnkit.Model(mlp())
    model.compile("sgd", "sparse_categorical_crossentropy")
    history = model.fit(x, y, epochs=5, initial_epoch=3, verbose=0, callbacks=[Epochs()])
    assert epochs == [3, 4]
    assert history.epoch == [3, 4] and len(history.history["loss"]) == 2
    history = model.fit(x, y, epochs=2, initial_epoch=2, verbose=0)
    assert history.epoch == [] and history.history == {}


# ---------------------------------------------------------------- softmax-ending models
def test_final_softmax_with_sparse_crossentropy_is_fused_and_finite():
    x, y = blobs(n=64)
    cnnkit.manual_seed(0)
    with_softmax = mlp(softmax=True)
    without = nn.Sequential(*list(with_softmax)[:-1])  # shares the same layers
    for p in with_softmax.parameters():
        p.data[...] = p.data * 2000.0  # logits of order 1e5: softmax saturates to exact 0 and 1
    a, b = cnnkit.Model(with_softmax), cnnkit.Model(without)
    a.compile(SGD(with_softmax.parameters(), lr=1e-6), "sparse_categorical_crossentropy", ["accuracy"])
    b.compile("sgd", "sparse_categorical_crossentropy", ["accuracy"])
    logits = b.predict(x)
    assert np.abs(logits).max() > 1e4
    probs = a.predict(x)
    assert (probs == 0).any()  # log(probs) would be -inf
    loss_a, acc_a = a.evaluate(x, y, verbose=0)
    loss_b, acc_b = b.evaluate(x, y, verbose=0)
    expected = -np.mean(log_softmax(logits)[np.arange(len(y)), y])
    assert np.isfinite(loss_a) and loss_a > 1.0
    np.testing.assert_allclose(loss_a, loss_b, rtol=1e-6)
    np.testing.assert_allclose(loss_a, expected, rtol=1e-4)
    assert acc_a == acc_b
    history = a.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert len(history.history["loss"]) == 2 and np.all(np.isfinite(history.history["loss"]))
    assert all(np.isfinite(w).all() for w in weights(a).values())


def test_final_softmax_fused_training_matches_logit_model():
    x, y = blobs(n=64)
    cnnkit.manual_seed(0)
    a = cnnkit.Model(mlp(softmax=True))
    a.compile(adam(0.02), "sparse_categorical_crossentropy", ["accuracy"])
    ha = a.fit(x, y, epochs=2, batch_size=16, verbose=0)
    cnnkit.manual_seed(0)
    b = cnnkit.Model(mlp(softmax=False))
    b.compile(adam(0.02), "sparse_categorical_crossentropy", ["accuracy"])
    hb = b.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert ha.history == hb.history
    assert_same_weights(weights(a), weights(b))


def test_backward_hooks_on_a_softmax_ending_model_still_fire_in_training():
    # The fused path runs the model minus its Softmax; a backward hook on the whole model must still fire.
    x, y = blobs(n=32)
    net = mlp(softmax=True)
    model = cnnkit.Model(net)
    model.compile("sgd", "sparse_categorical_crossentropy")
    calls = []
    net.register_full_backward_hook(lambda m, grad_in, grad_out: calls.append(grad_out[0].shape))
    model.train_on_batch(x[:8], y[:8])
    assert calls == [(8, 4)]


# ------------------------------------------------------------------------------------ errors
def test_fit_before_compile_raises():
    model = cnnkit.Model(mlp())
    x, y = blobs(n=8)
    for call in (lambda: model.fit(x, y, verbose=0), lambda: model.evaluate(x, y, verbose=0),
                 lambda: model.train_on_batch(x, y), lambda: model.test_on_batch(x, y)):
        with pytest.raises(RuntimeError, match="compile"):
            call()


def test_unknown_names_raise_value_error_listing_choices():
    model = cnnkit.Model(mlp())
    with pytest.raises(ValueError, match="adam") as info:
        model.compile(optimizer="adamax")
    assert "adamax" in str(info.value) and "sgd" in str(info.value)
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy") as info:
        model.compile(loss="hinge")
    assert "hinge" in str(info.value)
    with pytest.raises(ValueError, match="accuracy") as info:
        model.compile(metrics=["f1"])
    assert "'f1'" in str(info.value) and "mae" in str(info.value)
    with pytest.raises(TypeError, match="loss"):
        model.compile(loss=3)


def test_mismatched_lengths_raise():
    x, y = blobs(n=16)
    model = cnnkit.Model(mlp())
    model.compile()
    with pytest.raises(ValueError, match="16 and 15"):
        model.fit(x, y[:15], verbose=0)
    with pytest.raises(ValueError, match="different numbers"):
        model.evaluate(x[:3], y, verbose=0)


@pytest.mark.parametrize("batch_size", [0, -4, 2.5, True, "8"])
def test_bad_batch_size_raises(batch_size):
    x, y = blobs(n=16)
    model = cnnkit.Model(mlp())
    model.compile()
    with pytest.raises(ValueError, match="batch_size"):
        model.fit(x, y, batch_size=batch_size, verbose=0)
    with pytest.raises(ValueError, match="batch_size"):
        model.predict(x, batch_size=batch_size)


@pytest.mark.parametrize("split", [1.0, 1.5, -0.1])
def test_validation_split_outside_unit_interval_raises(split):
    x, y = blobs(n=16)
    model = cnnkit.Model(mlp())
    model.compile()
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(x, y, validation_split=split, verbose=0)


def test_validation_split_leaving_no_samples_raises():
    x, y = blobs(n=4)
    model = cnnkit.Model(mlp())
    model.compile()
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(x, y, validation_split=0.9, verbose=0)  # int(4 * 0.1) == 0 training samples
    history = model.fit(x, y, validation_split=0.25, epochs=1, verbose=0)  # 3 + 1 is fine
    assert "val_loss" in history.history


def test_fit_without_y_raises():
    x, _ = blobs(n=16)
    model = cnnkit.Model(mlp())
    model.compile()
    before = weights(model)
    with pytest.raises(ValueError, match="targets"):
        model.fit(x, verbose=0)
    with pytest.raises(ValueError, match="targets"):
        model.fit([x[:8], x[8:]], verbose=0)
    with pytest.raises(ValueError, match="targets"):
        model.evaluate(x, verbose=0)
    assert_same_weights(before, weights(model))


def test_empty_x_raises():
    model = cnnkit.Model(mlp())
    model.compile()
    with pytest.raises(ValueError, match="no samples"):
        model.fit(np.zeros((0, 2), np.float32), np.zeros(0, np.int64), verbose=0)


def test_summary_before_data_needs_input_shape():
    model = cnnkit.Model(mlp())
    with pytest.raises(ValueError, match="input_shape"):
        model.summary()
    s = model.summary(input_shape=(2,), show=False)
    assert s.rows[-1]["output_shape"] == (4,)
    x, y = blobs(n=16)
    model.compile()
    model.fit(x, y, epochs=1, verbose=0)
    assert model.summary(show=False).total_params == s.total_params == 2 * 16 + 16 + 16 * 4 + 4
