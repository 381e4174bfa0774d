"""BackupAndRestore: an interrupted fit (KeyboardInterrupt in-process, or kill -9 of a worker
process) resumes to weights bit-identical to an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import cnnkit
from cnnkit import nn
from cnnkit.training.callbacks import BackupAndRestore, Callback, LearningRateScheduler, SchedulerCallback

from .helpers import assert_same_weights, weights

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "resume_worker.py")


def blobs(n: int = 80, seed: int = 0) -> tuple:
    rng = np.random.default_rng(seed)
    centers = np.array([[2, 2], [-2, 2], [2, -2], [-2, -2]], dtype=np.float32)
    y = rng.integers(0, 4, n).astype(np.int64)
    return (centers[y] + 0.8 * rng.normal(size=(n, 2))).astype(np.float32), y


def build(seed: int) -> cnnkit.Model:
    cnnkit.manual_seed(seed)
    net = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 4))
    model = cnnkit.Model(net)
    model.compile(cnnkit.optim.Adam(net.parameters(), lr=0.02), "sparse_categorical_crossentropy", ["accuracy"])
    return model


class InterruptAt(Callback):
    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


class Epochs(Callback):
    def __init__(self) -> None:
        self.ran: list = []

    def on_epoch_begin(self, epoch, logs=None):
        self.ran.append(epoch)


# ------------------------------------------------------------------------------ in-process
def fit_kwargs(**extra) -> dict:
    x, y = blobs()
    xv, yv = blobs(n=24, seed=1)
    kwargs = dict(x=x, y=y, epochs=4, batch_size=16, shuffle=True, validation_data=(xv, yv), verbose=0)
    kwargs.update(extra)
    return kwargs


def test_backup_and_restore_after_keyboard_interrupt(tmp_path):
    reference = build(seed=0)
    ref_history = reference.fit(**fit_kwargs())

    backup = str(tmp_path / "backup")
    interrupted = build(seed=0)
    with pytest.raises(KeyboardInterrupt):
        interrupted.fit(**fit_kwargs(callbacks=[BackupAndRestore(backup), InterruptAt(2)]))
    assert os.path.exists(os.path.join(backup, "backup.safetensors"))
    assert cnnkit.io.load_checkpoint(os.path.join(backup, "backup.safetensors"))["epoch"] == 2

    cnnkit.manual_seed(12345)  # the RNG is somewhere else entirely: the backup must restore it
    cnnkit.randn(100)
    resumed = build(seed=99)  # a fresh model and optimizer, different initial weights
    epochs = Epochs()
    history = resumed.fit(**fit_kwargs(callbacks=[BackupAndRestore(backup), epochs]))
    assert epochs.ran == [2, 3]
    assert_same_weights(weights(resumed), weights(reference))
    assert history.epoch == [0, 1, 2, 3]
    assert history.history == ref_history.history
    opt_ref, opt_res = reference.optimizer.state_dict(), resumed.optimizer.state_dict()
    for index, state in opt_ref["state"].items():
        for key, value in state.items():
            np.testing.assert_array_equal(np.asarray(opt_res["state"][index][key]), np.asarray(value))
    assert not os.path.exists(os.path.join(backup, "backup.safetensors"))  # deleted after a normal finish
    assert not os.path.exists(os.path.join(backup, "backup.safetensors.prev"))


def test_backup_survives_an_interrupt_in_the_middle_of_an_epoch(tmp_path):
    class InterruptMidEpoch(Callback):
        def on_train_batch_end(self, batch, logs=None):
            if self.model._epoch == 1 and batch == 2:
                raise KeyboardInterrupt

    reference = build(seed=0)
    reference.fit(**fit_kwargs())
    backup = str(tmp_path / "b")
    with pytest.raises(KeyboardInterrupt):
        build(seed=0).fit(**fit_kwargs(callbacks=[BackupAndRestore(backup), InterruptMidEpoch()]))
    resumed = build(seed=5)
    epochs = Epochs()
    resumed.fit(**fit_kwargs(callbacks=[BackupAndRestore(backup), epochs]))
    assert epochs.ran == [1, 2, 3]  # the half-done epoch 1 is redone from the end of epoch 0
    assert_same_weights(weights(resumed), weights(reference))


def test_backup_and_restore_with_epoch_indexed_lr_schedule(tmp_path):
    schedule = lambda epoch, lr: 0.02 * 0.5 ** epoch  # noqa: E731
    reference = build(seed=0)
    reference.fit(**fit_kwargs(callbacks=[LearningRateScheduler(schedule)]))
    backup = str(tmp_path / "b")
    with pytest.raises(KeyboardInterrupt):
        build(seed=0).fit(**fit_kwargs(callbacks=[BackupAndRestore(backup), LearningRateScheduler(schedule),
                                                  InterruptAt(3)]))
    resumed = build(seed=3)
    history = resumed.fit(**fit_kwargs(callbacks=[BackupAndRestore(backup), LearningRateScheduler(schedule)]))
    assert history.history["lr"] == pytest.approx([0.02, 0.01, 0.005, 0.0025])
    assert_same_weights(weights(resumed), weights(reference))


def test_backup_and_restore_with_step_lr_scheduler(tmp_path):
    def run(model, callbacks):
        sched = cnnkit.optim.lr_scheduler.StepLR(model.optimizer, step_size=1, gamma=0.5)
        return model.fit(**fit_kwargs(callbacks=[*callbacks, SchedulerCallback(sched)]))

    reference = build(seed=0)
    ref_history = run(reference, [])
    backup = str(tmp_path / "b")
    with pytest.raises(KeyboardInterrupt):
        run(build(seed=0), [BackupAndRestore(backup), InterruptAt(2)])
    resumed = build(seed=3)
    history = run(resumed, [BackupAndRestore(backup)])
    assert history.history["lr"] == pytest.approx(ref_history.history["lr"])
    assert_same_weights(weights(resumed), weights(reference))


def test_backup_kept_when_delete_checkpoint_false(tmp_path):
    backup = str(tmp_path / "b")
    model = build(seed=0)
    model.fit(**fit_kwargs(epochs=2, callbacks=[BackupAndRestore(backup, delete_checkpoint=False)]))
    path = os.path.join(backup, "backup.safetensors")
    assert cnnkit.io.load_checkpoint(path)["epoch"] == 2
    epochs = Epochs()
    build(seed=0).fit(**fit_kwargs(epochs=2, callbacks=[BackupAndRestore(backup, delete_checkpoint=False), epochs]))
    assert epochs.ran == []  # already complete


# ------------------------------------------------------------------------------------ kill -9
def run_worker(backup_dir: str, out: str, *extra: str, timeout: float = 60.0) -> None:
    done = subprocess.run([sys.executable, WORKER, backup_dir, out, *extra], capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, done.stderr


def load(out: str) -> dict:
    with np.load(out) as data:
        return {k: data[k].copy() for k in data.files}


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.parametrize("extra_delay", [0.0, 0.13])
def test_backup_and_restore_after_sigkill(tmp_path, extra_delay):
    epochs = ["--epochs", "8"]
    reference_out = str(tmp_path / "reference.npz")
    run_worker(str(tmp_path / "reference_backup"), reference_out, *epochs)
    reference = load(reference_out)
    assert int(reference["first_epoch"]) == 0 and list(reference["epochs_seen"]) == list(range(8))

    backup_dir, out = str(tmp_path / "backup"), str(tmp_path / "resumed.npz")
    backup_file = os.path.join(backup_dir, "backup.safetensors")
    proc = subprocess.Popen([sys.executable, WORKER, backup_dir, out, *epochs, "--sleep", "0.04"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60.0
        while not os.path.exists(backup_file):
            if proc.poll() is not None:
                pytest.fail(f"worker exited ({proc.returncode}) before writing a backup: {proc.stderr.read()!r}")
            if time.monotonic() > deadline:
                pytest.fail("timed out waiting for the worker's first backup")
            time.sleep(0.005)
        time.sleep(extra_delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:  # never leave the worker behind
            proc.kill()
            proc.wait(timeout=30)
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert not os.path.exists(out), "the worker finished before it was killed; the test proved nothing"
    assert os.path.exists(backup_file)
    saved_epoch = cnnkit.io.load_checkpoint(backup_file)["epoch"]
    assert 1 <= saved_epoch < 8

    run_worker(backup_dir, out, *epochs, "--seed", "1")  # the seed is overridden by the restored RNG
    resumed = load(out)
    assert int(resumed["first_epoch"]) == saved_epoch
    assert list(resumed["epochs_seen"]) == list(range(8))
    assert resumed.keys() == reference.keys()
    for key in reference:
        if key != "first_epoch":
            np.testing.assert_array_equal(resumed[key], reference[key], err_msg=key)
    assert not os.path.exists(backup_file)
