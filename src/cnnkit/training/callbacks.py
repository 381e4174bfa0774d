"""Callbacks with Keras's hook names: History, ProgressBar, EarlyStopping, ModelCheckpoint,
CSVLogger, LearningRateScheduler, SchedulerCallback, TerminateOnNaN and BackupAndRestore.

Hooks receive ``logs``: a dict of the current figures (``loss``, metric names, ``val_*``, ``lr``).
Epochs are 0-based in hooks, as in Keras; file names and printed lines count from 1.
"""

from __future__ import annotations

import csv
import math
import os
import sys
from typing import Any, Callable, Optional

import numpy as np


class Callback:
    """Base class: override any hook; ``self.model`` is the :class:`~cnnkit.Model` being trained."""

    model: Any = None

    def set_model(self, model: Any) -> None:
        self.model = model

    def on_train_begin(self, logs: Optional[dict] = None) -> None: ...
    def on_train_end(self, logs: Optional[dict] = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: Optional[dict] = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None: ...
    def on_train_batch_begin(self, batch: int, logs: Optional[dict] = None) -> None: ...
    def on_train_batch_end(self, batch: int, logs: Optional[dict] = None) -> None: ...
    def on_test_begin(self, logs: Optional[dict] = None) -> None: ...
    def on_test_end(self, logs: Optional[dict] = None) -> None: ...
    def on_test_batch_begin(self, batch: int, logs: Optional[dict] = None) -> None: ...
    def on_test_batch_end(self, batch: int, logs: Optional[dict] = None) -> None: ...


class CallbackList:
    """Calls a hook on every callback in order."""

    def __init__(self, callbacks: list, model: Any) -> None:
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            cb.set_model(model)

    def call(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(*args)


class History(Callback):
    """Records every epoch's logs: ``history.history["loss"]`` is the list of epoch losses."""

    def __init__(self) -> None:
        self.history: dict = {}
        self.epoch: list = []

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)


def _format(logs: dict) -> str:
    return " - ".join(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}" for k, v in logs.items())


class ProgressBar(Callback):
    """A tqdm bar per epoch on a terminal (loss, metrics, ETA); one plain line per epoch otherwise.

    Args:
        verbose: 0 silent, 1 bar (a line per epoch when not on a terminal), 2 one line per epoch.
        stream: where to write (default ``sys.stdout``).
    """

    def __init__(self, verbose: int = 1, stream: Any = None) -> None:
        self.verbose, self.stream = verbose, stream
        self._bar = None

    def _out(self) -> Any:
        return self.stream or sys.stdout

    def on_train_begin(self, logs: Optional[dict] = None) -> None:
        self._epochs = self.model._fit_epochs

    def on_epoch_begin(self, epoch: int, logs: Optional[dict] = None) -> None:
        self._epoch = epoch
        if self.verbose == 1 and getattr(self._out(), "isatty", lambda: False)():
            try:
                from tqdm import tqdm
            except ImportError:  # tqdm is optional: fall back to one line per epoch
                return
            total = self.model._steps_per_epoch or None
            self._bar = tqdm(total=total, desc=f"Epoch {epoch + 1}/{self._epochs}", file=self._out(), leave=True)

    def on_train_batch_end(self, batch: int, logs: Optional[dict] = None) -> None:
        if self._bar is not None:
            self._bar.set_postfix({k: f"{v:.4f}" for k, v in (logs or {}).items() if isinstance(v, float)})
            self._bar.update(1)

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(_format(logs or {}))
            self._bar.close()
            self._bar = None
        elif self.verbose:
            print(f"Epoch {epoch + 1}/{self._epochs} - {_format(logs or {})}", file=self._out(), flush=True)


def _mode(monitor: str, mode: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode != "auto":
        return mode
    return "max" if any(word in monitor for word in ("acc", "auc", "precision", "recall")) else "min"


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs (Keras semantics).

    Args:
        monitor: a key of the epoch logs (default ``"val_loss"``).
        min_delta: the smallest change that counts as an improvement.
        patience: epochs without improvement before stopping.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (max for accuracies).
        baseline: stop unless the monitored value beats this within ``patience`` epochs.
        restore_best_weights: put back the weights of the best epoch when stopping.
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0, mode: str = "auto",
                 baseline: Optional[float] = None, restore_best_weights: bool = False) -> None:
        self.monitor, self.min_delta, self.patience = monitor, abs(min_delta), patience
        self.mode, self.baseline, self.restore_best_weights = _mode(monitor, mode), baseline, restore_best_weights
        self.stopped_epoch = 0

    def on_train_begin(self, logs: Optional[dict] = None) -> None:
        self.wait, self.best_weights, self.best_epoch, self.stopped_epoch = 0, None, 0, 0
        self.best = math.inf if self.mode == "min" else -math.inf

    def _improved(self, value: float) -> bool:
        return value < self.best - self.min_delta if self.mode == "min" else value > self.best + self.min_delta

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        value = (logs or {}).get(self.monitor)
        if value is None:
            raise KeyError(f"EarlyStopping: the logs have no {self.monitor!r} (available: {sorted(logs or {})}); "
                           "monitor 'val_*' needs validation data")
        self.wait += 1
        if self._improved(value):
            baseline_beaten = self.baseline is None or (
                value < self.baseline - self.min_delta if self.mode == "min" else value > self.baseline + self.min_delta)
            self.best, self.best_epoch = value, epoch
            if baseline_beaten:
                self.wait = 0
            if self.restore_best_weights:
                self.best_weights = {k: v.numpy().copy() for k, v in self.model.module.state_dict().items()}
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.restore_best_weights and self.best_weights is not None:
                self.model.module.load_state_dict(self.best_weights)


class ModelCheckpoint(Callback):
    """Save a verified checkpoint after each epoch (or only when ``monitor`` improves).

    Args:
        filepath: may contain ``{epoch:02d}`` (1-based) and any log key, e.g. ``{val_loss:.3f}``.
        monitor: the log key compared when ``save_best_only``.
        save_best_only: write only when the monitored value improves.
        mode: ``"min"``, ``"max"`` or ``"auto"``.
    """

    def __init__(self, filepath: str, monitor: str = "val_loss", save_best_only: bool = False, mode: str = "auto",
                 verbose: int = 0) -> None:
        self.filepath, self.monitor, self.save_best_only = filepath, monitor, save_best_only
        self.mode, self.verbose = _mode(monitor, mode), verbose
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        from cnnkit.io import save_checkpoint

        logs = dict(logs or {})
        if self.save_best_only:
            value = logs.get(self.monitor)
            if value is None:
                raise KeyError(f"ModelCheckpoint: the logs have no {self.monitor!r} (available: {sorted(logs)})")
            if not (value < self.best if self.mode == "min" else value > self.best):
                return
            self.best = value
        try:
            path = self.filepath.format(epoch=epoch + 1, **logs)
        except KeyError as missing:
            raise KeyError(f"ModelCheckpoint: the filepath {self.filepath!r} uses {missing}, which is not in the logs "
                           f"(available: epoch, {', '.join(sorted(logs))})") from None
        save_checkpoint(path, self.model.module, self.model.optimizer, epoch=epoch + 1, logs=logs)
        if self.verbose:
            print(f"Epoch {epoch + 1}: saved {path}")


class CSVLogger(Callback):
    """Append each epoch's logs as a CSV row (header written once)."""

    def __init__(self, filename: str, separator: str = ",", append: bool = False) -> None:
        self.filename, self.separator, self.append = filename, separator, append

    def on_train_begin(self, logs: Optional[dict] = None) -> None:
        self._keys = None
        self._has_header = self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        if not self.append:
            open(self.filename, "w").close()

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        logs = logs or {}
        self._keys = self._keys or sorted(logs)
        with open(self.filename, "a", newline="") as f:
            writer = csv.writer(f, delimiter=self.separator)
            if not self._has_header:
                writer.writerow(["epoch"] + self._keys)
                self._has_header = True
            writer.writerow([epoch] + [logs.get(k, "") for k in self._keys])


class LearningRateScheduler(Callback):
    """Set the learning rate at each epoch start to ``schedule(epoch, lr)`` (Keras's signature)."""

    def __init__(self, schedule: Callable[[int, float], float], verbose: int = 0) -> None:
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch: int, logs: Optional[dict] = None) -> None:
        groups = self.model.optimizer.param_groups
        lr = float(self.schedule(epoch, groups[0]["lr"]))
        for group in groups:
            group["lr"] = lr
        if self.verbose:
            print(f"Epoch {epoch + 1}: learning rate {lr:.6g}")


class SchedulerCallback(Callback):
    """Step a ``cnnkit.optim.lr_scheduler`` scheduler from ``fit``: each epoch, or each batch
    (``per_batch=True``, for OneCycleLR); ReduceLROnPlateau is stepped with ``logs[monitor]``."""

    def __init__(self, scheduler: Any, per_batch: bool = False, monitor: str = "val_loss") -> None:
        self.scheduler, self.per_batch, self.monitor = scheduler, per_batch, monitor

    def _step(self, logs: Optional[dict]) -> None:
        from cnnkit.optim.lr_scheduler import ReduceLROnPlateau

        if isinstance(self.scheduler, ReduceLROnPlateau):
            if self.monitor not in (logs or {}):
                raise KeyError(f"SchedulerCallback: the logs have no {self.monitor!r} for ReduceLROnPlateau")
            self.scheduler.step(logs[self.monitor])
        else:
            self.scheduler.step()

    def on_train_batch_end(self, batch: int, logs: Optional[dict] = None) -> None:
        if self.per_batch:
            self._step(logs)

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        if not self.per_batch:
            self._step(logs)


class TerminateOnNaN(Callback):
    """Stop training at the first NaN/Inf loss; that batch's update is skipped, so no non-finite
    weights are ever applied or saved. ``fit`` adds it by default."""

    def on_train_batch_end(self, batch: int, logs: Optional[dict] = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(loss):
            epoch = getattr(self.model, "_epoch", 0)
            print(f"NaN or Inf loss at epoch {epoch + 1}, batch {batch} (loss={loss}): terminating training",
                  file=sys.stderr)
            self.model.stop_training = True


class BackupAndRestore(Callback):
    """Resume an interrupted ``fit``: back up model, optimizer, RNG and epoch after every epoch;
    at the next ``fit`` with the same ``backup_dir``, restore them and continue from that epoch.

    Args:
        backup_dir: directory of the backup checkpoint (created).
        delete_checkpoint: remove the backup when training finishes normally.
    """

    def __init__(self, backup_dir: str, delete_checkpoint: bool = True) -> None:
        self.backup_dir, self.delete_checkpoint = backup_dir, delete_checkpoint
        self.path = os.path.join(backup_dir, "backup.safetensors")

    def on_train_begin(self, logs: Optional[dict] = None) -> None:
        from cnnkit.io import load_checkpoint

        if os.path.exists(self.path):
            meta = load_checkpoint(self.path, self.model.module, self.model.optimizer, restore_rng=True)
            self.model._resume_epoch = int(meta["epoch"])
            self.model._restored_history = meta.get("history", {})
            saved = meta.get("schedulers", [])
            schedulers = self._schedulers()
            if len(saved) != len(schedulers):
                raise ValueError(f"BackupAndRestore: the backup holds {len(saved)} scheduler state(s) but this fit has "
                                 f"{len(schedulers)} SchedulerCallback(s); resume with the same callbacks")
            for scheduler, state in zip(schedulers, saved):
                scheduler.load_state_dict(state)

    def _schedulers(self) -> list:
        return [cb.scheduler for cb in getattr(self.model, "callbacks", []) if isinstance(cb, SchedulerCallback)]

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        from cnnkit.io import save_checkpoint

        history = self.model.history.history if self.model.history is not None else {}
        schedulers = [s.state_dict() for s in self._schedulers()]
        save_checkpoint(self.path, self.model.module, self.model.optimizer, epoch=epoch + 1, history=history,
                        schedulers=schedulers)

    def on_train_end(self, logs: Optional[dict] = None) -> None:
        # Kept only after a non-finite stop (to inspect or resume from the last good epoch); an early
        # stop is a normal end, and a later fit in the same directory must not silently resume.
        if self.delete_checkpoint and not getattr(self.model, "stopped_by_non_finite", False):
            for path in (self.path, self.path + ".prev"):
                if os.path.exists(path):
                    os.remove(path)
            if os.path.isdir(self.backup_dir) and not os.listdir(self.backup_dir):
                os.rmdir(self.backup_dir)
