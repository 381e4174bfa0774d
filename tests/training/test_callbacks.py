"""cnnkit.callbacks: hook order, EarlyStopping, ModelCheckpoint, CSVLogger, learning-rate
callbacks, TerminateOnNaN and ProgressBar, on small synthetic data."""

from __future__ import annotations

import csv
import math
import os

import numpy as np
import pytest

import cnnkit
from cnnkit import nn
from cnnkit.training.callbacks import (CSVLogger, Callback, EarlyStopping, History, LearningRateScheduler, ModelCheckpoint,
                              ProgressBar, SchedulerCallback, TerminateOnNaN)
from cnnkit.optim import SGD, Adam
from cnnkit.optim.lr_scheduler import OneCycleLR, ReduceLROnPlateau, StepLR

from .helpers import assert_same_weights, weights


# ----------------------------------------------------------------------------------- helpers
def blobs(n: int = 64, k: int = 4, seed: int = 0) -> tuple:
    rng = np.random.default_rng(seed)
    centers = np.array([[2, 2], [-2, 2], [2, -2], [-2, -2]], dtype=np.float32)[:k]
    y = rng.integers(0, k, n).astype(np.int64)
    return (centers[y] + 0.6 * rng.normal(size=(n, 2))).astype(np.float32), y


def make_model(lr: float = 0.05, metrics=("accuracy",), optimizer: str = "adam", batchnorm: bool = False,
               seed: int = 0) -> cnnkit.Model:
    cnnkit.manual_seed(seed)
    layers = [nn.Linear(2, 8)] + ([nn.BatchNorm1d(8)] if batchnorm else []) + [nn.ReLU(), nn.Linear(8, 4)]
    net = nn.Sequential(*layers)
    model = cnnkit.Model(net)
    opt = Adam(net.parameters(), lr=lr) if optimizer == "adam" else SGD(net.parameters(), lr=lr, momentum=0.9)
    model.compile(opt, "sparse_categorical_crossentropy", list(metrics))
    return model


class Scripted(Callback):
    """Overwrites ``logs[key]`` at each epoch end with the next scripted value (put it first)."""

    def __init__(self, key: str, values: list) -> None:
        self.key, self.values = key, list(values)

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]


class Snapshots(Callback):
    """The weights at the end of every epoch."""

    def __init__(self) -> None:
        self.at_epoch_end: dict = {}

    def on_epoch_end(self, epoch, logs=None):
        self.at_epoch_end[epoch] = weights(self.model)


class Recorder(Callback):
    def __init__(self) -> None:
        self.events: list = []

    def on_train_begin(self, logs=None):
        self.events.append(("train_begin", None, dict(logs or {})))

    def on_train_end(self, logs=None):
        self.events.append(("train_end", None, dict(logs or {})))

    def on_epoch_begin(self, epoch, logs=None):
        self.events.append(("epoch_begin", epoch, dict(logs or {})))

    def on_epoch_end(self, epoch, logs=None):
        self.events.append(("epoch_end", epoch, dict(logs or {})))

    def on_train_batch_begin(self, batch, logs=None):
        self.events.append(("batch_begin", batch, dict(logs or {})))

    def on_train_batch_end(self, batch, logs=None):
        self.events.append(("batch_end", batch, dict(logs or {})))

    def on_test_begin(self, logs=None):
        self.events.append(("test_begin", None, {}))

    def on_test_end(self, logs=None):
        self.events.append(("test_end", None, {}))


# --------------------------------------------------------------------------------- the module
def test_callbacks_namespace():
    # cnnkit.callbacks re-exports the classes of cnnkit.training.callbacks (importable as a module too)
    assert cnnkit.callbacks.EarlyStopping is cnnkit.training.callbacks.EarlyStopping is EarlyStopping


def test_callbacks_importable_as_a_module():
    import importlib

    assert importlib.import_module("cnnkit.callbacks").EarlyStopping is EarlyStopping


# --------------------------------------------------------------------------------- hook order
def test_hook_order_indices_and_logs():
    x, y = blobs(n=40)
    xv, yv = blobs(n=12, seed=1)
    model = make_model()
    rec = Recorder()
    model.fit(x, y, epochs=2, batch_size=16, validation_data=(xv, yv), callbacks=[rec], verbose=0)
    names = [(e[0], e[1]) for e in rec.events if not e[0].startswith("test")]
    per_epoch = lambda ep: [("epoch_begin", ep), ("batch_begin", 0), ("batch_end", 0), ("batch_begin", 1),
                            ("batch_end", 1), ("batch_begin", 2), ("batch_end", 2), ("epoch_end", ep)]
    assert names == [("train_begin", None), *per_epoch(0), *per_epoch(1), ("train_end", None)]
    assert rec.model is model
    for name, _, logs in rec.events:
        if name == "batch_end":
            assert set(logs) == {"loss", "accuracy"}
        if name == "epoch_end":
            assert set(logs) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    epoch_ends = [logs for name, _, logs in rec.events if name == "epoch_end"]
    assert [e["loss"] for e in epoch_ends] == model.history.history["loss"]
    # the last batch's running average is the epoch's figure (a sample-weighted mean)
    last_batch_logs = [logs for name, _, logs in rec.events if name == "batch_end"][2]
    assert last_batch_logs["loss"] == pytest.approx(epoch_ends[0]["loss"], rel=1e-12)


def test_batch_logs_are_sample_weighted_running_means():
    x, y = blobs(n=40)
    seen = []

    class PerBatch(cnnkit.Model):
        def train_step(self, batch):
            logs = super().train_step(batch)
            seen.append((len(batch[0]), logs["loss"]))
            return logs

    rec = Recorder()
    cnnkit.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 4))
    model = PerBatch(net)
    model.compile("sgd", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, batch_size=16, callbacks=[rec], verbose=0)
    running = [logs["loss"] for name, _, logs in rec.events if name == "batch_end"]
    sizes, losses = np.array([n for n, _ in seen]), np.array([v for _, v in seen])
    expected = np.cumsum(sizes * losses) / np.cumsum(sizes)
    np.testing.assert_allclose(running, expected, rtol=1e-12)
    assert list(sizes) == [16, 16, 8]


def test_on_test_hooks_called_around_validation():
    x, y = blobs(n=32)
    rec = Recorder()
    make_model().fit(x, y, epochs=1, batch_size=16, validation_data=(x, y), callbacks=[rec], verbose=0)
    names = [e[0] for e in rec.events]
    assert names.index("test_begin") < names.index("test_end") < names.index("epoch_end")


def test_history_is_always_first_and_returned():
    x, y = blobs(n=32)
    model = make_model()
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0, callbacks=[History()])
    assert isinstance(history, History) and history.epoch == [0, 1, 2]
    assert set(history.history) == {"loss", "accuracy", "lr"}


def test_stop_training_from_a_callback():
    x, y = blobs(n=32)

    class StopAfterOneBatch(Callback):
        def on_train_batch_end(self, batch, logs=None):
            if self.model._epoch == 1 and batch == 0:
                self.model.stop_training = True

    model = make_model()
    history = model.fit(x, y, epochs=5, batch_size=16, verbose=0, callbacks=[StopAfterOneBatch()])
    assert history.epoch == [0, 1]


# ----------------------------------------------------------------------------- EarlyStopping
def run_early(values, key="val_loss", epochs=None, **kwargs):
    x, y = blobs(n=32)
    model = make_model()
    stopper = EarlyStopping(monitor=key, **kwargs)
    snaps = Snapshots()
    history = model.fit(x, y, epochs=epochs or len(values), batch_size=32, verbose=0,
                        callbacks=[Scripted(key, values), snaps, stopper])
    return model, stopper, history, snaps


def test_early_stopping_patience():
    _, stopper, history, _ = run_early([1.0, 0.9, 0.95, 0.92, 0.5, 0.4, 0.3], patience=2)
    assert history.epoch == [0, 1, 2, 3]
    assert stopper.stopped_epoch == 3 and stopper.best == 0.9 and stopper.best_epoch == 1


def test_early_stopping_patience_zero_stops_at_first_non_improvement():
    _, stopper, history, _ = run_early([1.0, 0.9, 0.9, 0.5], patience=0)
    assert history.epoch == [0, 1, 2] and stopper.stopped_epoch == 2


def test_early_stopping_never_stops_while_improving():
    _, stopper, history, _ = run_early([1.0, 0.9, 0.8, 0.7, 0.6], patience=0)
    assert history.epoch == [0, 1, 2, 3, 4] and stopper.stopped_epoch == 0


def test_early_stopping_min_delta():
    _, _, history, _ = run_early([1.0, 0.95, 0.92, 0.5], patience=1, min_delta=0.1)
    assert history.epoch == [0, 1]
    _, _, history, _ = run_early([1.0, 0.85, 0.72, 0.7, 0.69], patience=1, min_delta=-0.1)  # |min_delta| is used
    assert history.epoch == [0, 1, 2, 3]


def test_early_stopping_mode_auto_is_max_for_accuracy():
    _, stopper, history, _ = run_early([0.5, 0.6, 0.55, 0.58, 0.9], key="val_accuracy", patience=1)
    assert stopper.mode == "max" and history.epoch == [0, 1, 2]
    assert EarlyStopping(monitor="val_loss").mode == "min"


def test_early_stopping_explicit_modes():
    _, _, history, _ = run_early([1.0, 2.0, 1.5, 3.0], key="score", patience=1, mode="max")
    assert history.epoch == [0, 1, 2]
    _, _, history, _ = run_early([0.5, 0.4, 0.45, 0.3], key="val_accuracy", patience=1, mode="min")
    assert history.epoch == [0, 1, 2]
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="up")


def test_early_stopping_baseline():
    # never beats the baseline: the first epoch counts toward patience
    _, _, history, _ = run_early([0.9, 0.9, 0.9, 0.9, 0.9], patience=2, baseline=0.5)
    assert history.epoch == [0, 1]
    _, _, history, _ = run_early([0.9, 0.9, 0.9, 0.9, 0.9], patience=2)
    assert history.epoch == [0, 1, 2]
    # beats the baseline at epoch 1: waiting restarts there
    _, _, history, _ = run_early([0.9, 0.4, 0.4, 0.4, 0.4, 0.4], patience=2, baseline=0.5)
    assert history.epoch == [0, 1, 2, 3]


def test_early_stopping_restore_best_weights():
    model, stopper, history, snaps = run_early([1.0, 0.5, 0.8, 0.9, 0.1], patience=2, restore_best_weights=True)
    assert history.epoch == [0, 1, 2, 3] and stopper.best_epoch == 1
    assert_same_weights(weights(model), snaps.at_epoch_end[1])
    assert any(not np.array_equal(snaps.at_epoch_end[1][k], snaps.at_epoch_end[3][k]) for k in snaps.at_epoch_end[1])
    model, _, _, snaps = run_early([1.0, 0.5, 0.8, 0.9, 0.1], patience=2)
    assert_same_weights(weights(model), snaps.at_epoch_end[3])


def test_early_stopping_state_resets_between_fits():
    x, y = blobs(n=32)
    model = make_model()
    stopper = EarlyStopping(monitor="val_loss", patience=1)
    first = model.fit(x, y, epochs=5, batch_size=32, verbose=0, callbacks=[Scripted("val_loss", [0.1, 0.2, 0.3, 0.4, 0.5]), stopper])
    assert first.epoch == [0, 1]
    second = model.fit(x, y, epochs=5, batch_size=32, verbose=0, callbacks=[Scripted("val_loss", [1.0, 0.9, 0.8, 0.9, 0.9]), stopper])
    assert second.epoch == [0, 1, 2, 3]


def test_early_stopping_missing_monitor_raises_key_error():
    x, y = blobs(n=32)
    model = make_model()
    with pytest.raises(KeyError, match="val_loss"):
        model.fit(x, y, epochs=2, verbose=0, callbacks=[EarlyStopping()])
    with pytest.raises(KeyError, match="val_auc"):
        model.fit(x, y, epochs=2, validation_data=(x, y), verbose=0, callbacks=[EarlyStopping(monitor="val_auc")])


def test_early_stopping_on_real_validation_loss():
    x, y = blobs(n=64)
    model = make_model(lr=0.05)
    stopper = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    history = model.fit(x, y, epochs=200, batch_size=16, validation_data=blobs(n=32, seed=5), verbose=0,
                        callbacks=[stopper])
    assert len(history.epoch) < 200
    best = int(np.argmin(history.history["val_loss"]))
    assert stopper.best_epoch == best
    assert model.evaluate(*blobs(n=32, seed=5), batch_size=16, verbose=0)[0] == pytest.approx(
        history.history["val_loss"][best], rel=1e-12)


# ---------------------------------------------------------------------------- ModelCheckpoint
def test_model_checkpoint_every_epoch_with_formatted_names(tmp_path):
    x, y = blobs(n=32)
    model = make_model()
    snaps = Snapshots()
    pattern = str(tmp_path / "ckpt-{epoch:02d}-{val_loss:.3f}.safetensors")
    history = model.fit(x, y, epochs=3, batch_size=16, validation_data=(x, y), verbose=0,
                        callbacks=[snaps, ModelCheckpoint(pattern)])
    expected = [f"ckpt-{e + 1:02d}-{v:.3f}.safetensors" for e, v in enumerate(history.history["val_loss"])]
    assert sorted(p for p in os.listdir(tmp_path) if p.endswith(".safetensors")) == expected
    for epoch, name in enumerate(expected):
        fresh = make_model(seed=99)
        meta = cnnkit.io.load_checkpoint(str(tmp_path / name), fresh.module, fresh.optimizer)
        assert meta["epoch"] == epoch + 1
        assert meta["logs"]["val_loss"] == pytest.approx(history.history["val_loss"][epoch])
        assert_same_weights(weights(fresh), snaps.at_epoch_end[epoch])


def test_model_checkpoint_save_best_only(tmp_path):
    x, y = blobs(n=32)
    model = make_model()
    snaps = Snapshots()
    pattern = str(tmp_path / "best-{epoch:02d}.safetensors")
    single = str(tmp_path / "best.safetensors")
    model.fit(x, y, epochs=5, batch_size=16, verbose=0,
              callbacks=[Scripted("val_loss", [1.0, 0.8, 0.9, 0.7, 0.75]), snaps,
                         ModelCheckpoint(pattern, save_best_only=True), ModelCheckpoint(single, save_best_only=True)])
    names = sorted(p for p in os.listdir(tmp_path) if p.startswith("best-") and p.endswith(".safetensors"))
    assert names == ["best-01.safetensors", "best-02.safetensors", "best-04.safetensors"]
    fresh = make_model(seed=99)
    assert cnnkit.io.load_checkpoint(single, fresh.module)["epoch"] == 4
    assert_same_weights(weights(fresh), snaps.at_epoch_end[3])


def test_model_checkpoint_save_best_only_max_mode_and_missing_key(tmp_path):
    x, y = blobs(n=32)
    model = make_model()
    pattern = str(tmp_path / "acc-{epoch}.safetensors")
    model.fit(x, y, epochs=4, batch_size=32, verbose=0,
              callbacks=[Scripted("val_accuracy", [0.5, 0.4, 0.6, 0.6]), ModelCheckpoint(pattern, monitor="val_accuracy",
                                                                                           save_best_only=True)])
    assert sorted(p for p in os.listdir(tmp_path) if p.endswith(".safetensors")) == ["acc-1.safetensors", "acc-3.safetensors"]
    with pytest.raises(KeyError, match="val_loss"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[ModelCheckpoint(pattern, save_best_only=True)])


# --------------------------------------------------------------------------------- CSVLogger
def test_csv_logger_header_rows_and_append(tmp_path):
    x, y = blobs(n=32)
    path = str(tmp_path / "log.csv")
    model = make_model()
    history = model.fit(x, y, epochs=3, batch_size=16, validation_data=(x, y), verbose=0, callbacks=[CSVLogger(path)])
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["epoch", "accuracy", "loss", "lr", "val_accuracy", "val_loss"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "2"]
    for row, loss in zip(rows[1:], history.history["loss"]):
        assert float(row[2]) == pytest.approx(loss, rel=1e-12)
    model.fit(x, y, epochs=2, batch_size=16, validation_data=(x, y), verbose=0, callbacks=[CSVLogger(path, append=True)])
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert len(rows) == 1 + 3 + 2 and rows.count(rows[0]) == 1
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[CSVLogger(path, separator=";")])
    with open(path) as f:
        lines = f.read().splitlines()
    assert lines[0] == "epoch;accuracy;loss;lr" and len(lines) == 2  # append=False overwrites


def test_csv_logger_append_to_missing_file_writes_header(tmp_path):
    x, y = blobs(n=32)
    path = str(tmp_path / "new.csv")
    make_model().fit(x, y, epochs=2, verbose=0, callbacks=[CSVLogger(path, append=True)])
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0][0] == "epoch" and len(rows) == 3


# ---------------------------------------------------------------------- learning-rate control
class LrDuringBatches(Callback):
    def __init__(self) -> None:
        self.lrs: list = []

    def on_train_batch_begin(self, batch, logs=None):
        self.lrs.append(self.model.optimizer.param_groups[0]["lr"])


def test_learning_rate_scheduler_sets_lr_at_epoch_start():
    x, y = blobs(n=32)
    model = make_model(lr=0.1)
    seen_args = []

    def schedule(epoch, lr):
        seen_args.append((epoch, lr))
        return 0.1 * 0.5 ** epoch

    probe = LrDuringBatches()
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0,
                        callbacks=[LearningRateScheduler(schedule), probe])
    assert history.history["lr"] == pytest.approx([0.1, 0.05, 0.025], rel=1e-12)
    assert probe.lrs == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.025], rel=1e-12)
    assert [e for e, _ in seen_args] == [0, 1, 2]
    assert [lr for _, lr in seen_args] == pytest.approx([0.1, 0.1, 0.05])


def test_learning_rate_scheduler_receives_current_lr(capsys):
    x, y = blobs(n=32)
    model = make_model(lr=0.08)
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[LearningRateScheduler(lambda e, lr: lr / 2, verbose=1)])
    assert history.history["lr"] == pytest.approx([0.04, 0.02, 0.01])
    assert "Epoch 1: learning rate 0.04" in capsys.readouterr().out


def test_scheduler_callback_step_lr_per_epoch():
    x, y = blobs(n=32)
    model = make_model(lr=0.1, optimizer="sgd")
    sched = StepLR(model.optimizer, step_size=2, gamma=0.1)
    history = model.fit(x, y, epochs=5, batch_size=32, verbose=0, callbacks=[SchedulerCallback(sched)])
    assert history.history["lr"] == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001], rel=1e-9)
    assert sched.last_epoch == 5


def test_scheduler_callback_one_cycle_per_batch():
    x, y = blobs(n=64)
    model = make_model(lr=0.01, optimizer="sgd")
    epochs, steps = 3, 4
    sched = OneCycleLR(model.optimizer, max_lr=0.5, epochs=epochs, steps_per_epoch=steps)
    probe = LrDuringBatches()
    model.fit(x, y, epochs=epochs, batch_size=16, verbose=0, callbacks=[SchedulerCallback(sched, per_batch=True), probe])
    reference_opt = SGD([cnnkit.zeros(1, requires_grad=True)], lr=0.01, momentum=0.9)
    reference = OneCycleLR(reference_opt, max_lr=0.5, epochs=epochs, steps_per_epoch=steps)
    expected = []
    for _ in range(epochs * steps):
        expected.append(reference_opt.param_groups[0]["lr"])
        reference.step()
    assert probe.lrs == pytest.approx(expected, rel=1e-12)
    assert max(probe.lrs) == pytest.approx(0.5, rel=0.05) and probe.lrs[0] == pytest.approx(0.02)
    assert sched.last_epoch == epochs * steps


def test_scheduler_callback_reduce_on_plateau():
    x, y = blobs(n=32)
    model = make_model(lr=0.1, optimizer="sgd")
    sched = ReduceLROnPlateau(model.optimizer, factor=0.5, patience=0)
    history = model.fit(x, y, epochs=4, batch_size=32, verbose=0,
                        callbacks=[Scripted("val_loss", [1.0, 1.0, 1.0, 0.5]), SchedulerCallback(sched)])
    # logs["lr"] is the rate used during the epoch; the plateau at epochs 1 and 2 halves it after them
    assert history.history["lr"] == pytest.approx([0.1, 0.1, 0.05, 0.025])
    assert model.optimizer.param_groups[0]["lr"] == pytest.approx(0.025)
    with pytest.raises(KeyError, match="val_loss"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[SchedulerCallback(ReduceLROnPlateau(model.optimizer))])


def test_scheduler_callback_reduce_on_plateau_real_validation():
    x, y = blobs(n=32)
    model = make_model(lr=1e-4, optimizer="sgd")  # next to no progress: val_loss is flat within 1 %
    sched = ReduceLROnPlateau(model.optimizer, factor=0.1, patience=1, threshold=1e-2)
    history = model.fit(x, y, epochs=4, batch_size=32, validation_data=(x, y), verbose=0,
                        callbacks=[SchedulerCallback(sched, monitor="val_loss")])
    assert history.history["lr"] == pytest.approx([1e-4, 1e-4, 1e-4, 1e-5])


# ---------------------------------------------------------------------------- TerminateOnNaN
class NaNAt(cnnkit.Model):
    """Feeds NaN inputs at (epoch, batch) = ``self.nan_at``."""

    nan_at = (1, 2)

    def train_step(self, batch):
        x, y = batch
        if (self._epoch, self._batch) == self.nan_at:
            x = np.full_like(x, np.nan)
        self._batch += 1
        return super().train_step((x, y))


class BatchCounter(Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.model._batch = 0


class WeightsBeforeBatch(Callback):
    def __init__(self) -> None:
        self.before: dict = {}

    def on_train_batch_begin(self, batch, logs=None):
        self.before[(self.model._epoch, batch)] = weights(self.model)


def nan_model(batchnorm: bool = False) -> NaNAt:
    cnnkit.manual_seed(0)
    layers = [nn.Linear(2, 8)] + ([nn.BatchNorm1d(8)] if batchnorm else []) + [nn.ReLU(), nn.Linear(8, 4)]
    net = nn.Sequential(*layers)
    model = NaNAt(net)
    model.compile(Adam(net.parameters(), lr=0.01), "sparse_categorical_crossentropy", ["accuracy"])
    return model


def test_terminate_on_nan_inputs_skips_the_bad_update(capsys):
    x, y = blobs(n=64)
    model = nan_model()
    snaps = WeightsBeforeBatch()
    rec = Recorder()
    history = model.fit(x, y, epochs=5, batch_size=16, verbose=0, callbacks=[BatchCounter(), snaps, rec])
    err = capsys.readouterr().err
    assert "epoch 2" in err and "batch 2" in err and "nan" in err.lower()
    assert model.stop_training
    assert history.epoch == [0, 1]  # epoch 2 (0-based 1) ends early with the logs of its good batches
    assert not any(e[0] == "epoch_begin" and e[1] == 2 for e in rec.events)
    assert [e[1] for e in rec.events if e[0] == "batch_begin"][-1] == 2
    bad_batch_end = [e for e in rec.events if e[0] == "batch_end"][-1]
    assert bad_batch_end[1] == 2 and math.isnan(bad_batch_end[2]["loss"])
    assert all(np.isfinite(v) for values in history.history.values() for v in values)
    current = weights(model)
    assert all(np.isfinite(w).all() for w in current.values())
    assert_same_weights(current, snaps.before[(1, 2)])
    state = model.optimizer.state_dict()["state"]
    assert all(np.isfinite(v).all() for s in state.values() for v in s.values() if isinstance(v, np.ndarray))


def test_terminate_on_nan_first_batch_of_an_epoch():
    x, y = blobs(n=64)
    model = nan_model()
    model.nan_at = (2, 0)
    snaps = WeightsBeforeBatch()
    history = model.fit(x, y, epochs=5, batch_size=16, verbose=0, callbacks=[BatchCounter(), snaps])
    assert history.epoch == [0, 1]  # the bad epoch has no good batch: no epoch_end for it
    assert_same_weights(weights(model), snaps.before[(2, 0)])


def test_terminate_on_nan_with_huge_learning_rate(capsys):
    x, y = blobs(n=64)
    cnnkit.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 4))
    model = cnnkit.Model(net)
    model.compile(SGD(net.parameters(), lr=1e10), "sparse_categorical_crossentropy")
    snaps = WeightsBeforeBatch()
    with np.errstate(all="ignore"):
        history = model.fit(x, y, epochs=10, batch_size=16, verbose=0, callbacks=[snaps, TerminateOnNaN()])
    err = capsys.readouterr().err
    assert "NaN or Inf loss at epoch" in err and "batch" in err
    assert len(history.epoch) < 10
    last = max(snaps.before)
    assert all(np.isfinite(w).all() for w in weights(model).values())
    assert_same_weights(weights(model), snaps.before[last])


def test_terminate_on_nan_leaves_batchnorm_buffers_finite(tmp_path):
    x, y = blobs(n=64)
    model = nan_model(batchnorm=True)
    snaps = WeightsBeforeBatch()
    model.fit(x, y, epochs=5, batch_size=16, verbose=0, callbacks=[BatchCounter(), snaps])
    bad = {k for k, v in weights(model).items() if not np.isfinite(v).all()}
    assert not bad, f"non-finite state after TerminateOnNaN: {sorted(bad)}"
    assert_same_weights(weights(model), snaps.before[(1, 2)])
    assert np.isfinite(model.predict(x)).all()


def test_terminate_on_nan_then_model_checkpoint_with_batchnorm(tmp_path):
    x, y = blobs(n=64)
    model = nan_model(batchnorm=True)
    path = str(tmp_path / "last.safetensors")
    history = model.fit(x, y, epochs=5, batch_size=16, verbose=0,
                        callbacks=[BatchCounter(), ModelCheckpoint(path)])
    assert history.epoch == [0, 1]
    assert cnnkit.io.load_checkpoint(path)["epoch"] == 2


def test_terminate_on_nan_is_not_duplicated(capsys):
    x, y = blobs(n=64)
    model = nan_model()
    mine = TerminateOnNaN()
    model.fit(x, y, epochs=5, batch_size=16, verbose=0, callbacks=[BatchCounter(), mine])
    assert mine.model is model
    assert capsys.readouterr().err.count("NaN or Inf loss") == 1


# ------------------------------------------------------------------------------- ProgressBar
def test_progress_bar_verbose_0_prints_nothing(capsys):
    x, y = blobs(n=32)
    make_model().fit(x, y, epochs=3, batch_size=16, validation_data=(x, y), verbose=0)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_progress_bar_verbose_2_one_line_per_epoch(capsys):
    x, y = blobs(n=32)
    history = make_model().fit(x, y, epochs=3, batch_size=16, validation_data=(x, y), verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    for i, line in enumerate(lines):
        assert line.startswith(f"Epoch {i + 1}/3 - loss: {history.history['loss'][i]:.4f}")
        assert "accuracy:" in line and "val_loss:" in line and "val_accuracy:" in line and "lr:" in line


def test_progress_bar_verbose_1_without_terminal_prints_lines(capsys):
    x, y = blobs(n=32)
    make_model().fit(x, y, epochs=2, initial_epoch=1, verbose=1)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Epoch 2/2 - loss: ")


def test_progress_bar_custom_stream():
    import io

    x, y = blobs(n=32)
    stream = io.StringIO()
    model = make_model()
    model.fit(x, y, epochs=2, verbose=0, callbacks=[ProgressBar(2, stream=stream)])
    assert [line.split(" - ")[0] for line in stream.getvalue().splitlines()] == ["Epoch 1/2", "Epoch 2/2"]


def test_progress_bar_on_a_terminal():
    import io

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    x, y = blobs(n=32)
    stream = Terminal()
    make_model().fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[ProgressBar(1, stream=stream)])
    text = stream.getvalue()
    assert "Epoch 1/2" in text and "Epoch 2/2" in text and "loss" in text  # tqdm bar, or lines without tqdm


# ------------------------------------------------------------------ callbacks that peek mid-epoch
class PredictEveryBatch(Callback):
    def __init__(self, x) -> None:
        self.x = x

    def on_train_batch_end(self, batch, logs=None):
        self.model.predict(self.x)


def test_predict_inside_a_callback_does_not_change_training():
    x, y = blobs(n=64)

    def run(callbacks):
        cnnkit.manual_seed(0)
        net = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 4))
        model = cnnkit.Model(net)
        model.compile(Adam(net.parameters(), lr=0.02), "sparse_categorical_crossentropy")
        model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=callbacks)
        return weights(model)

    assert_same_weights(run([]), run([PredictEveryBatch(x[:4])]))
