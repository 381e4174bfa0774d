"""``cnnkit train``: train a zoo model on a dataset and write a run directory.

The run directory holds ``model.safetensors`` (architecture, weights, optimizer; reload with
``cnnkit.load_model``), ``best.safetensors`` (best validation accuracy; training accuracy with
``--validation-split 0``), ``metrics.csv``, ``history.json``, ``result.json`` (the dataset, its
normalisation, accuracies, wall time and images/s), ``settings.json`` (the options, for
``--resume``) and, with the viz extra, ``history.png`` (loss/accuracy curves), ``filters.png``
(the first convolution's filters) and ``report.html`` (:func:`cnnkit.viz.inspector.write_report`).
Nothing is overwritten: a directory holding an earlier run's files is refused
(:func:`cnnkit.cli.rundir.check_out`). A backup is written after every epoch and kept until
``result.json`` is written; after Ctrl-C (or a crash), ``cnnkit train --out DIR --resume``
continues from the last completed epoch with the run's saved settings and gives the same
result as an uninterrupted run.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any, Optional

import numpy as np

from cnnkit import callbacks as C
from cnnkit.cli import errors, rundir
from cnnkit.cli.common import (DATASETS, NORMALISATION, SHAPES, check_fit, load_dataset, non_negative_int, positive_int,
                               resolve_dataset, resolve_model)
from cnnkit.cli.errors import CLIError

__all__ = ["DATASETS", "NORMALISATION", "add_parser", "run"]


# The defaults of the options a resumed run takes from the interrupted one (cli.rundir.RESUMED).
DEFAULTS = {"model": "lenet5", "dataset": "mnist", "epochs": 6, "batch_size": 128, "optimizer": "adam", "lr": None,
            "schedule": "cosine", "seed": 0, "validation_split": 1 / 12, "limit": None}


def add_parser(sub: Any) -> None:
    """Register the ``train`` subcommand on an argparse subparsers object."""
    p = sub.add_parser("train", help="train a model from the zoo on a dataset",
                       description="Train a zoo model and write checkpoints, metrics, results and plots to a run "
                                   "directory. After Ctrl-C, `cnnkit train --out DIR --resume` continues the run "
                                   "with its saved settings.")
    p.add_argument("--model", default=DEFAULTS["model"], metavar="NAME",
                   help="a name from `cnnkit models` (default lenet5)")
    p.add_argument("--dataset", default=DEFAULTS["dataset"], metavar="NAME",
                   help=f"one of {', '.join(DATASETS)} (default mnist; see `cnnkit datasets`)")
    # 6 epochs of Adam with cosine annealing take LeNet-5 to ≥ 99.2 % on MNIST in under 10 minutes on 2 cores.
    p.add_argument("--epochs", type=positive_int, default=DEFAULTS["epochs"], metavar="N",
                   help="passes over the training set (default 6)")
    p.add_argument("--batch-size", type=positive_int, default=DEFAULTS["batch_size"], metavar="N",
                   help="images per training step (default 128)")
    p.add_argument("--optimizer", default=DEFAULTS["optimizer"], choices=("sgd", "adam", "adamw", "rmsprop", "adagrad"),
                   help="default adam")
    p.add_argument("--lr", type=_learning_rate, default=DEFAULTS["lr"],
                   help="learning rate (default: the optimizer's Keras default, 0.001 for adam, 0.01 for sgd)")
    p.add_argument("--schedule", default=DEFAULTS["schedule"], choices=("none", "cosine", "step"),
                   help="learning-rate schedule over the epochs: cosine annealing (default), ×0.1 at 2/3, or none")
    p.add_argument("--seed", type=non_negative_int, default=DEFAULTS["seed"], metavar="N",
                   help="seed of the initial weights, the validation split and the batch order (default 0)")
    p.add_argument("--validation-split", type=float, default=DEFAULTS["validation_split"], metavar="FRACTION",
                   help="held-out share of the training set, in [0, 1) (default 1/12: 5,000 of MNIST's 60,000; "
                        "0: no validation, best.safetensors then follows the training accuracy)")
    p.add_argument("--limit", type=positive_int, default=DEFAULTS["limit"], metavar="N",
                   help="use only the first N training and N test images (quick runs)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="run directory (default runs/<model>-<dataset>-<timestamp>)")
    p.add_argument("--resume", action="store_true",
                   help="continue the interrupted run in --out, with the settings it was started with")
    p.add_argument("--data", default=None, metavar="DIR",
                   help="directory with the dataset files (nothing is downloaded then)")
    p.add_argument("--no-download", action="store_true",
                   help="never touch the network (as CNNKIT_OFFLINE=1): fail if the dataset is not cached")
    p.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2),
                   help="0 quiet, 1 the summary and a progress bar per epoch (default), 2 one line per epoch")
    p.set_defaults(run=run)


def _learning_rate(text: str) -> float:
    """argparse type of --lr: a finite number > 0 (checked before anything is written)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number such as 0.001, got {text!r}") from None
    if not (np.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text}")
    return value


def _schedule(args: argparse.Namespace, optimizer: Any) -> list:
    """The epoch schedule as a callback (saved and restored with the run's backup)."""
    from cnnkit.optim import lr_scheduler as S

    if args.schedule == "cosine":
        return [C.SchedulerCallback(S.CosineAnnealingLR(optimizer, T_max=max(args.epochs, 1)))]
    if args.schedule == "step":
        return [C.SchedulerCallback(S.StepLR(optimizer, step_size=max(2 * args.epochs // 3, 1), gamma=0.1))]
    return []


def run(args: argparse.Namespace) -> int:
    """Train, write the run directory and print the results; 130 after Ctrl-C (the run resumable).

    Raises:
        CLIError: a bad option, an ``--out`` that would overwrite a run, a dataset that does not fit
            the model; ``main()`` prints it as one line.
    """
    import cnnkit
    from cnnkit import models

    args.model, args.dataset = resolve_model(args.model), resolve_dataset(args.dataset)
    if args.resume and not args.out:
        raise CLIError("--resume needs --out, the run directory to continue")
    out = args.out = args.out or os.path.join("runs", f"{args.model}-{args.dataset}-{time.strftime('%Y%m%d-%H%M%S')}")
    created = rundir.check_out(out, args.resume)
    if args.resume:
        rundir.resume_settings(args, DEFAULTS)
    name, dataset = args.model, args.dataset
    if not 0.0 <= args.validation_split < 1.0:
        raise CLIError(f"--validation-split must be in [0, 1), got {args.validation_split}")
    shape = models.input_shape(name)
    check_fit(SHAPES[dataset], shape, dataset)  # before loading (or downloading) anything
    download = not args.no_download
    (x, y), (x_test, y_test) = load_dataset(dataset, shape, args.data, download, args.limit)
    n_val = int(len(x) * args.validation_split)
    if len(x) - n_val < 1 or (args.validation_split and n_val < 1):
        raise CLIError(f"{len(x)} training image(s) cannot be split with --validation-split "
                       f"{args.validation_split:g}; raise --limit")
    cnnkit.manual_seed(args.seed)
    model = cnnkit.Model(models.get(name))
    optimizer = args.optimizer if args.lr is None else (
        lambda params: getattr(cnnkit.optim, {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop",
                                              "adagrad": "Adagrad"}[args.optimizer])(params, lr=args.lr))
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    # Only now, with every option checked, is anything written.
    os.makedirs(out, exist_ok=True)
    resumed = rundir.backup_epoch(out) if args.resume else 0
    if args.resume:
        rundir.trim_metrics(os.path.join(out, "metrics.csv"), resumed)
    else:
        rundir.save_settings(args)
    if args.verbose:
        model.summary(shape)
    timer = rundir.EpochTimer(out, resumed)
    # Without a validation set the best epoch is the one with the best training accuracy.
    monitor = "val_accuracy" if n_val else "accuracy"
    callbacks = [C.CSVLogger(os.path.join(out, "metrics.csv"), append=args.resume),
                 *_schedule(args, model.optimizer), timer,
                 _BestCheckpoint(os.path.join(out, "best.safetensors"), monitor=monitor, save_best_only=True),
                 # Kept until result.json is written: Ctrl-C during the test evaluation stays resumable.
                 C.BackupAndRestore(os.path.join(out, "backup"), delete_checkpoint=False)]
    initial = _first_conv_weights(model)  # the seeded initialisation, also on --resume (restored inside fit)
    try:
        history = model.fit(x, y, batch_size=args.batch_size, epochs=args.epochs, verbose=args.verbose,
                            validation_split=args.validation_split, callbacks=callbacks)
        if model.stopped_by_non_finite:
            _diverged(out, args)
        test_loss, test_accuracy = model.evaluate(x_test, y_test, batch_size=512, verbose=0)
    except KeyboardInterrupt:
        _interrupted(out, created, args.resume)
        return errors.EXIT_INTERRUPTED
    except BaseException:
        if not (args.resume or rundir.backup_epoch(out) or os.path.exists(os.path.join(out, "best.safetensors"))):
            _discard(out, created)  # a failed first epoch must not block running the command again
        raise
    wall = sum(timer.times)
    trained = len(timer.times)
    images = (len(x) - n_val) * trained
    normalisation = [list(v) for v in NORMALISATION[dataset]]
    val = history.history.get("val_accuracy") or [None]
    result = {"model": name, "dataset": dataset, "epochs": args.epochs, "seed": args.seed,
              "optimizer": args.optimizer, "lr": args.lr, "schedule": args.schedule, "batch_size": args.batch_size,
              "limit": args.limit, "train_images": len(x) - n_val, "validation_images": n_val,
              "test_images": len(x_test), "val_accuracy": val[-1], "test_loss": test_loss,
              "test_accuracy": test_accuracy, "wall_time_s": round(wall, 3),
              "images_per_s": round(images / wall, 1) if wall > 0 else None, "resumed_at_epoch": resumed or None,
              "normalisation": normalisation, "cnnkit": cnnkit.__version__}
    model.save(os.path.join(out, "model.safetensors"), zoo_model=name, dataset=dataset, normalisation=normalisation)
    with open(os.path.join(out, "history.json"), "w") as f:
        json.dump(history.history, f, indent=2)
    with open(os.path.join(out, "result.json"), "w") as f:
        json.dump(result, f, indent=2)
    _remove_backup(out)
    if val[-1] is not None:
        print(f"validation accuracy {val[-1]:.2%} ({n_val} images)")
    print(f"test accuracy {test_accuracy:.2%} (loss {test_loss:.4f}, {len(x_test)} images); {wall:.1f} s, "
          f"{result['images_per_s'] or 0:.0f} images/s")
    written = _figures(model, history.history, x_test[:64], y_test[:64], out, initial)
    print(f"run directory {out}: model.safetensors, best.safetensors, metrics.csv, history.json, result.json"
          + "".join(", " + w for w in written))
    return 0


class _BestCheckpoint(C.ModelCheckpoint):
    """``ModelCheckpoint`` that skips an epoch without the monitored value, as Keras's does (the
    epoch whose loss became non-finite has no validation; :func:`_diverged` then stops the run),
    and that on ``--resume`` starts from the best value of the restored epochs, so a worse later
    epoch does not replace ``best.safetensors``."""

    _seeded = False

    def on_epoch_begin(self, epoch: int, logs: Optional[dict] = None) -> None:
        if self._seeded:
            return
        self._seeded = True  # the first epoch of this fit: the backup's history is restored by now
        history = self.model.history.history if self.model.history is not None else {}
        past = [float(v) for v in history.get(self.monitor, []) if v is not None and np.isfinite(v)]
        if past:
            self.best = min(past) if self.mode == "min" else max(past)

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        if self.monitor in (logs or {}):
            super().on_epoch_end(epoch, logs)


def _diverged(out: str, args: argparse.Namespace) -> None:
    """The loss became NaN/inf: nothing to resume (it would diverge again), so the backup goes and
    the user is told to lower the learning rate.

    Raises:
        CLIError: always.
    """
    _remove_backup(out)
    lr = args.lr if args.lr is not None else f"{args.optimizer}'s default"
    kept = f"; the epochs before are in {os.path.join(out, 'metrics.csv')}, train again with another --out" \
        if os.path.exists(os.path.join(out, "best.safetensors")) else ", run the command again"
    raise CLIError(f"training diverged: the loss became NaN or infinite (--lr {lr}); lower --lr{kept}")


def _interrupted(out: str, created: bool, resume: bool) -> None:
    """After Ctrl-C: say how to resume, or, when no epoch finished, remove what the run began."""
    done = rundir.backup_epoch(out)
    if done:
        print(f"\ninterrupted: {done} epoch(s) saved in {out}/backup; continue with\n"
              f"  cnnkit train --out {out} --resume")
        return
    if not resume:
        _discard(out, created)
    print("\ninterrupted before the first epoch finished: nothing was saved; run the command again")


def _discard(out: str, created: bool) -> None:
    """Remove the files of a run that finished no epoch (and ``out`` when this run created it and
    it is empty), so that running the command again is not refused as overwriting a run."""
    for name in ("metrics.csv", rundir.SETTINGS, os.path.join("backup", "epoch_times.json")):
        if os.path.isfile(os.path.join(out, name)):
            os.remove(os.path.join(out, name))
    for directory in (os.path.join(out, "backup"), out) if created else (os.path.join(out, "backup"),):
        if os.path.isdir(directory) and not os.listdir(directory):
            os.rmdir(directory)


def _remove_backup(out: str) -> None:
    """Remove the backup once the run's results are written (a later train must not resume it)."""
    backup = os.path.join(out, "backup")
    for name in ("backup.safetensors", "backup.safetensors.prev", "epoch_times.json"):
        if os.path.isfile(os.path.join(backup, name)):
            os.remove(os.path.join(backup, name))
    if os.path.isdir(backup) and not os.listdir(backup):
        os.rmdir(backup)


def _first_conv(model: Any) -> Any:
    from cnnkit import nn

    return next((m for m in model.module.modules() if isinstance(m, nn.Conv2d)), None)


def _first_conv_weights(model: Any) -> Any:
    """A copy of the first convolution's weights (None without one), for the filters' learned change."""
    conv = _first_conv(model)
    return None if conv is None else np.array(conv.weight.data, copy=True)


def _figures(model: Any, history: dict, x: np.ndarray, y: np.ndarray, out: str, initial: Any = None) -> list:
    """Write the curves, the first convolution's filters and the HTML report; return the names
    written. Best effort without the viz extra: one line says what is missing, the run succeeds."""
    from cnnkit import viz

    written: list = []
    first_conv = _first_conv(model)
    try:
        viz.plot_history(history, path=os.path.join(out, "history.png"))
        written.append("history.png")
        if first_conv is not None:
            viz.plot_filters(first_conv, path=os.path.join(out, "filters.png"), initial=initial)
            written.append("filters.png")
        from cnnkit.viz.inspector import write_report

        write_report(model, x, y, os.path.join(out, "report.html"))
        written.append("report.html")
    except ImportError as error:  # matplotlib or Pillow missing (cnnkit.viz names the extra)
        print(f"plots skipped: {error}")
    return written
