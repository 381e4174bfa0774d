"""The run directory of ``cnnkit train``: what may be written where, and what ``--resume`` restores.

A run directory is never overwritten: a fresh ``train`` refuses a directory that already holds
any file a run writes, and ``--resume`` continues only an interrupted run. The settings of the
run (model, dataset, epochs, optimizer, ...) are written to ``settings.json`` before training, so
``cnnkit train --out DIR --resume`` continues with them without the user repeating every option,
and a conflicting option is refused instead of failing deep inside the checkpoint loader. The
seconds of each finished epoch are kept beside the backup (``backup/epoch_times.json``), so the
wall time and images/s of a resumed run cover all its epochs, not only the last session's.
"""

from __future__ import annotations

import csv
import json
import os
from typing import Any, Optional

from cnnkit.callbacks import Callback
from cnnkit.cli.common import read_json_object
from cnnkit.cli.errors import CLIError

SETTINGS = "settings.json"
# Every file a finished run holds, besides settings.json and backup/.
RUN_FILES = ("model.safetensors", "best.safetensors", "metrics.csv", "history.json", "result.json",
             "history.png", "filters.png", "report.html")
# The options a resumed run must share with the interrupted one.
RESUMED = ("model", "dataset", "epochs", "batch_size", "optimizer", "lr", "schedule", "seed", "validation_split",
           "limit")


def backup_path(out: str) -> str:
    """The backup checkpoint of the run in ``out`` (written by ``BackupAndRestore`` after each epoch)."""
    return os.path.join(out, "backup", "backup.safetensors")


def backup_epoch(out: str) -> int:
    """How many epochs the backup in ``out`` holds (0 when there is none or it is unreadable)."""
    from cnnkit.io import read_checkpoint

    path = backup_path(out)
    if not os.path.isfile(path):
        return 0
    try:
        return int(read_checkpoint(path)[1].get("metadata", {}).get("epoch", 0))
    except (OSError, ValueError, RuntimeError):
        return 0


def check_out(out: str, resume: bool) -> bool:
    """Check that ``out`` may receive a run; return whether this call will create the directory.

    Args:
        out: the ``--out`` directory.
        resume: ``--resume`` was given: ``out`` must hold an interrupted run.

    Raises:
        CLIError: ``out`` is a file; a fresh run would overwrite an earlier run's files; or there is
            nothing to resume.

    Example:
        >>> import tempfile, os
        >>> check_out(os.path.join(tempfile.mkdtemp(), "run"), resume=False)
        True
    """
    if os.path.exists(out) and not os.path.isdir(out):
        raise CLIError(f"--out {out} is a file; name a directory for the run (it is created if missing)")
    if resume:
        if os.path.exists(os.path.join(out, "result.json")) and not os.path.exists(backup_path(out)):
            raise CLIError(f"{out} holds a finished run, nothing to resume; start a new run with another --out")
        if not os.path.exists(backup_path(out)):
            raise CLIError(f"nothing to resume in {out} (no backup/backup.safetensors: no epoch of a run there "
                           "finished); start the run again without --resume")
        return False
    if os.path.exists(os.path.join(out, "result.json")):
        raise CLIError(f"{out} already holds a finished run; choose another --out (nothing is overwritten)")
    if os.path.exists(backup_path(out)):
        raise CLIError(f"{out} holds an interrupted run ({backup_epoch(out)} epoch(s) done); continue it with "
                       f"`cnnkit train --out {out} --resume`, or choose another --out")
    present = [name for name in (*RUN_FILES, SETTINGS) if os.path.exists(os.path.join(out, name))]
    if present:
        raise CLIError(f"{out} already holds {', '.join(present)} of an earlier run; choose another --out "
                       "(nothing is overwritten)")
    return not os.path.exists(out)


def resume_settings(args: Any, defaults: dict) -> None:
    """Set ``args``'s :data:`RESUMED` options to those saved in ``--out``'s settings.json.

    An option left at its default takes the saved value; one given with another value than the
    interrupted run's is an error (the backup could not continue it).

    Args:
        args: the parsed ``cnnkit train`` arguments (model and dataset already resolved).
        defaults: the parser's default of each option in :data:`RESUMED`.

    Raises:
        CLIError: settings.json is unreadable, or an option conflicts with it.

    Example:
        >>> import argparse, tempfile, json, os
        >>> out = tempfile.mkdtemp()
        >>> with open(os.path.join(out, SETTINGS), "w") as f:
        ...     json.dump({"epochs": 3}, f)
        >>> args = argparse.Namespace(out=out, epochs=6)
        >>> resume_settings(args, {"epochs": 6}); args.epochs
        3
    """
    path = os.path.join(args.out, SETTINGS)
    if not os.path.isfile(path):
        return  # a run from before settings.json: the options given must match it
    try:
        saved = read_json_object(path)
    except (OSError, ValueError) as error:
        raise CLIError(f"{path}: unreadable ({error}); delete it and pass the interrupted run's options "
                       "with --resume") from None
    for key in RESUMED:
        if key not in saved or not hasattr(args, key):
            continue
        given = getattr(args, key)
        if given != saved[key] and given != defaults.get(key):
            option = "--" + key.replace("_", "-")
            raise CLIError(f"{option} {given} differs from the interrupted run's {saved[key]}; drop {option} to "
                           f"resume it (the run's settings are in {path})")
        setattr(args, key, saved[key])


def save_settings(args: Any) -> None:
    """Write the :data:`RESUMED` options of ``args`` to ``--out``'s settings.json.

    Args:
        args: the parsed ``cnnkit train`` arguments (``args.out`` exists).
    """
    with open(os.path.join(args.out, SETTINGS), "w") as f:
        json.dump({key: getattr(args, key) for key in RESUMED}, f, indent=2)


def trim_metrics(path: str, epochs: int) -> None:
    """Drop rows of ``metrics.csv`` past the backup's ``epochs`` (written just before an interrupt
    that came before the backup), so the resumed run does not log an epoch twice.

    Args:
        path: the run's metrics.csv (nothing happens when it is missing).
        epochs: the epochs the backup holds (rows 0 .. epochs - 1 are kept).
    """
    if not os.path.isfile(path):
        return
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows or "epoch" not in rows[0]:
        return
    column = rows[0].index("epoch")
    kept = [rows[0]] + [r for r in rows[1:] if len(r) > column and r[column].isdigit() and int(r[column]) < epochs]
    if len(kept) != len(rows):
        with open(path, "w", newline="") as f:
            csv.writer(f).writerows(kept)


class EpochTimer(Callback):
    """Record each epoch's seconds in ``backup/epoch_times.json`` (kept with the backup, for resume).

    Args:
        out: the run directory.
        resumed_epochs: epochs the restored backup holds (their saved times are kept, later ones dropped).
    """

    def __init__(self, out: str, resumed_epochs: int = 0) -> None:
        import time

        self._clock = time.perf_counter
        self.path = os.path.join(out, "backup", "epoch_times.json")
        self.times: list = []
        if resumed_epochs and os.path.isfile(self.path):
            try:
                with open(self.path) as f:
                    self.times = [float(t) for t in json.load(f)][:resumed_epochs]
            except (OSError, ValueError, TypeError):
                self.times = []
        self._start: Optional[float] = None

    def on_epoch_begin(self, epoch: int, logs: Optional[dict] = None) -> None:
        self._start = self._clock()

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        self.times.append(self._clock() - (self._start or self._clock()))
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        with open(self.path, "w") as f:
            json.dump(self.times, f)
