"""``cnnkit evaluate RUN_OR_CHECKPOINT``: test accuracy, per-class accuracy and the confusion matrix.

The run directory's ``result.json`` (or the checkpoint's metadata) names the dataset and the
normalisation used in training; a bare checkpoint is evaluated on ``--dataset`` (default MNIST).
The matrix is printed as a table and written as ``confusion_matrix.png`` beside the checkpoint
(or at ``--out``); without matplotlib the PNG is skipped with one line saying so.
"""

from __future__ import annotations

import argparse
import os
from typing import Any, Sequence

import numpy as np

from cnnkit.cli.common import DATASETS, load_raw, load_trained, output_path, positive_int, prepare


def add_parser(sub: Any) -> None:
    """Register the ``evaluate`` subcommand on an argparse subparsers object."""
    p = sub.add_parser("evaluate", help="test accuracy, per-class accuracy and confusion matrix of a run",
                       description="Evaluate a trained model on its dataset's test set: overall and per-class "
                                   "accuracy and the confusion matrix (printed and as PNG).")
    p.add_argument("path", metavar="RUN_OR_CHECKPOINT",
                   help="a `cnnkit train` run directory or a .safetensors checkpoint")
    p.add_argument("--dataset", default=None, metavar="NAME",
                   help=f"one of {', '.join(DATASETS)} (default: the run's dataset, else mnist)")
    p.add_argument("--model", default=None, metavar="NAME", help="the zoo model of a weights-only checkpoint")
    p.add_argument("--limit", type=positive_int, default=None, metavar="N", help="evaluate only the first N test images")
    p.add_argument("--batch-size", type=positive_int, default=256, metavar="N",
                   help="images per forward pass (default 256; lower it to save memory)")
    p.add_argument("--data", default=None, metavar="DIR", help="directory with the dataset files")
    p.add_argument("--no-download", action="store_true", help="never touch the network")
    p.add_argument("--normalize", action="store_true", help="draw the PNG with rows as fractions of each class")
    p.add_argument("--out", default=None, metavar="PNG",
                   help="where to write the PNG (default: confusion_matrix.png beside the checkpoint)")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.set_defaults(run=run)


def format_matrix(matrix: np.ndarray, names: Sequence[str]) -> str:
    """The confusion matrix as a text table: rows true class, columns predicted, with row totals
    and each class's accuracy (recall).

    Args:
        matrix: ``(K, K)`` counts, ``matrix[i, j]`` images of class i predicted as j.
        names: the K class names.

    Example:
        >>> print(format_matrix(np.array([[3, 1], [0, 2]]), ["0", "1"]))
        true \\ predicted  0  1   total  accuracy
        0                 3  1       4    75.00%
        1                 0  2       2   100.00%
    """
    rows = [name if name == str(i) else f"{i} {name}" for i, name in enumerate(names)]
    head = "true \\ predicted"
    first = max(len(head), *(len(r) for r in rows)) + 2
    width = max(len(str(int(matrix.max(initial=0)))), len(str(len(names) - 1))) + 2
    lines = [head.ljust(first) + "".join(str(j).rjust(width) for j in range(len(names)))
             + "total".rjust(8) + "accuracy".rjust(10)]
    for i, row in enumerate(rows):
        total = int(matrix[i].sum())
        accuracy = f"{matrix[i, i] / total:.2%}" if total else "-"
        lines.append(row.ljust(first) + "".join(str(int(v)).rjust(width) for v in matrix[i])
                     + str(total).rjust(8) + accuracy.rjust(10))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Evaluate, print accuracy, the per-class table and where the PNG went; 0 on success."""
    from cnnkit.training.metrics import confusion_matrix

    trained = load_trained(args.path, args.dataset, args.model)
    out = output_path(args.out, os.path.join(trained.directory, "confusion_matrix.png"), ".png", args.force)
    _, (images, labels) = load_raw(trained.dataset, args.data, not args.no_download)
    images, labels = images[: args.limit], labels[: args.limit]  # limit None keeps everything
    x = prepare(images, trained.normalisation, trained.input_shape, f"{trained.dataset} test set")
    y = np.asarray(labels).reshape(-1).astype(np.int64)
    scores = trained.model.predict(x, batch_size=args.batch_size)
    k = scores.shape[1]
    names = trained.class_names if len(trained.class_names) == k else [str(i) for i in range(k)]
    predicted = scores.argmax(axis=1)
    matrix = confusion_matrix(y, predicted, num_classes=k)
    accuracy = float(np.trace(matrix)) / max(len(y), 1)
    try:  # the PNG first, so `cnnkit evaluate RUN | head` still writes it
        from cnnkit import viz

        viz.plot_confusion_matrix(y, predicted, class_names=names, normalize=args.normalize, path=out)
        wrote = f"wrote {out}"
    except ImportError as error:  # matplotlib missing: the numbers printed are the result
        wrote = f"confusion-matrix PNG skipped: {error}"
    print(f"{trained.checkpoint} on {trained.dataset} test set ({len(y)} images)")
    print(f"accuracy {accuracy:.2%} ({int(np.trace(matrix))}/{len(y)})")
    print(format_matrix(matrix, names))
    print(wrote)
    return 0
