"""``cnnkit train``: train a zoo model on a dataset and write a run directory.

The run directory holds ``model.safetensors`` (architecture, weights, optimizer; reload with
``cnnkit.load_model``), ``best.safetensors`` (best validation accuracy), ``metrics.csv``,
``history.json`` and ``result.json``. A backup is written after every epoch; after Ctrl-C (or a
crash), ``--resume`` continues from the last completed epoch with the same result as an
uninterrupted run.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

import numpy as np

DATASETS = ("mnist",)
NORMALISATION = {"mnist": (0.1307, 0.3081)}


def add_parser(sub: Any) -> None:
    p = sub.add_parser("train", help="train a model from the zoo on a dataset",
                       description="Train a zoo model and write checkpoints, metrics and results to a run directory.")
    p.add_argument("--model", default="lenet5", help="a name from `cnnkit models` (default lenet5)")
    p.add_argument("--dataset", default="mnist", choices=DATASETS)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--optimizer", default="adam", choices=("sgd", "adam", "adamw", "rmsprop", "adagrad"))
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: the optimizer's Keras default)")
    p.add_argument("--schedule", default="cosine", choices=("none", "cosine", "step"),
                   help="learning-rate schedule over the epochs: cosine annealing (default), ×0.1 at 2/3, or none")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--validation-split", type=float, default=1 / 12, help="held-out share of the training set")
    p.add_argument("--limit", type=int, default=None, help="use only the first N training images (quick runs)")
    p.add_argument("--out", default=None, help="run directory (default runs/<model>-<dataset>-<timestamp>)")
    p.add_argument("--resume", action="store_true", help="continue the interrupted run in --out")
    p.add_argument("--data", default=None, help="directory with the dataset files")
    p.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2))
    p.set_defaults(run=run)


def _load(dataset: str, data: Any, limit: Any) -> tuple:
    from cnnkit.datasets import mnist

    (x_train, y_train), (x_test, y_test) = mnist.load_data(data)
    mean, std = NORMALISATION[dataset]
    prepare = lambda x: ((x.astype(np.float32) / 255.0 - mean) / std)[:, None]  # noqa: E731
    if limit:
        x_train, y_train = x_train[:limit], y_train[:limit]
    return (prepare(x_train), y_train.astype(np.int64)), (prepare(x_test), y_test.astype(np.int64))


def _schedule(args: argparse.Namespace, optimizer: Any) -> list:
    """The epoch schedule as a callback (saved and restored with the run's backup)."""
    from cnnkit import callbacks as C
    from cnnkit.optim import lr_scheduler as S

    if args.schedule == "cosine":
        return [C.SchedulerCallback(S.CosineAnnealingLR(optimizer, T_max=max(args.epochs, 1)))]
    if args.schedule == "step":
        return [C.SchedulerCallback(S.StepLR(optimizer, step_size=max(2 * args.epochs // 3, 1), gamma=0.1))]
    return []


def run(args: argparse.Namespace) -> int:
    import cnnkit
    from cnnkit import callbacks as C
    from cnnkit import models

    if args.resume and not args.out:
        raise SystemExit("cnnkit train: --resume needs --out, the run directory to continue")
    out = args.out or os.path.join("runs", f"{args.model}-{args.dataset}-{time.strftime('%Y%m%d-%H%M%S')}")
    backup_dir = os.path.join(out, "backup")
    if args.resume and not os.path.exists(os.path.join(backup_dir, "backup.safetensors")):
        raise SystemExit(f"cnnkit train: nothing to resume in {out} (no backup/backup.safetensors)")
    if not args.resume and os.path.exists(os.path.join(out, "result.json")):
        raise SystemExit(f"cnnkit train: {out} already holds a finished run; choose another --out")
    os.makedirs(out, exist_ok=True)

    cnnkit.manual_seed(args.seed)
    (x, y), (x_test, y_test) = _load(args.dataset, args.data, args.limit)
    net = models.get(args.model)
    shape = models.input_shape(args.model)
    if tuple(x.shape[1:]) != tuple(shape):
        raise SystemExit(f"cnnkit train: {args.model} expects inputs of shape {shape}, {args.dataset} gives "
                         f"{tuple(x.shape[1:])}")
    model = cnnkit.Model(net)
    optimizer = args.optimizer if args.lr is None else (
        lambda params: getattr(cnnkit.optim, {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop",
                                              "adagrad": "Adagrad"}[args.optimizer])(params, lr=args.lr))
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    if args.verbose:
        model.summary(shape)
    callbacks = [C.CSVLogger(os.path.join(out, "metrics.csv"), append=args.resume),
                 *_schedule(args, model.optimizer),
                 C.ModelCheckpoint(os.path.join(out, "best.safetensors"), monitor="val_accuracy", save_best_only=True),
                 C.BackupAndRestore(backup_dir)]
    start = time.perf_counter()
    try:
        history = model.fit(x, y, batch_size=args.batch_size, epochs=args.epochs, verbose=args.verbose,
                            validation_split=args.validation_split, callbacks=callbacks)
    except KeyboardInterrupt:
        print(f"\ninterrupted: the last completed epoch is saved; continue with\n"
              f"  cnnkit train --model {args.model} --dataset {args.dataset} --epochs {args.epochs} "
              f"--out {out} --resume")
        return 130
    wall = time.perf_counter() - start
    test_loss, test_accuracy = model.evaluate(x_test, y_test, batch_size=512, verbose=0)
    trained = sum(len(v) for k, v in history.history.items() if k == "loss") or 1
    images = int(len(x) * (1 - args.validation_split)) * trained
    result = {"model": args.model, "dataset": args.dataset, "epochs": args.epochs, "seed": args.seed,
              "optimizer": args.optimizer, "schedule": args.schedule, "batch_size": args.batch_size,
              "test_loss": test_loss,
              "test_accuracy": test_accuracy, "wall_time_s": round(wall, 3), "images_per_s": round(images / wall, 1),
              "cnnkit": cnnkit.__version__}
    model.save(os.path.join(out, "model.safetensors"))
    with open(os.path.join(out, "history.json"), "w") as f:
        json.dump(history.history, f, indent=2)
    with open(os.path.join(out, "result.json"), "w") as f:
        json.dump(result, f, indent=2)
    print(f"test accuracy {test_accuracy:.2%} (loss {test_loss:.4f}); {wall:.1f} s, {result['images_per_s']:.0f} images/s; "
          f"run directory {out}")
    return 0
