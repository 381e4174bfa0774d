"""``cnnkit report RUN_OR_CHECKPOINT``: the HTML inspector of a trained model on a few test images.

The run directory's ``result.json`` (or the checkpoint's metadata) names the dataset and the
normalisation used in training, so the test images are prepared exactly as in training. The page
(see :mod:`cnnkit.viz.inspector`) is written to ``report.html`` beside the checkpoint, or ``--out``.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import numpy as np

from cnnkit.cli.common import DATASETS, load_raw, load_trained, output_path, positive_int, prepare
from cnnkit.cli.errors import MissingExtra

__all__ = ["add_parser", "run", "write_report"]


def add_parser(sub: Any) -> None:
    """Register the ``report`` subcommand on an argparse subparsers object."""
    p = sub.add_parser("report", help="HTML inspector of a run or checkpoint (activations, gradients, weights)",
                       description="Run a trained model forward and backward on a few test images and write one "
                                   "self-contained HTML page: the layer table, then per layer its statistics "
                                   "and pictures of activations, gradients, weights and weight gradients.")
    p.add_argument("path", metavar="RUN_OR_CHECKPOINT",
                   help="a `cnnkit train` run directory or a .safetensors checkpoint")
    p.add_argument("--out", default=None, metavar="HTML", help="the HTML file (default: report.html beside the checkpoint)")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.add_argument("--images", type=positive_int, default=8,
                   help="how many test images to run (default 8; pictures show the first)")
    p.add_argument("--dataset", default=None,
                   help=f"one of {', '.join(DATASETS)} (default: the run's dataset, else mnist)")
    p.add_argument("--model", default=None, help="the zoo model of a weights-only checkpoint")
    p.add_argument("--data", default=None, help="directory with the dataset files")
    p.add_argument("--no-download", action="store_true", help="never touch the network")
    p.set_defaults(run=run)


def write_report(model: Any, x: Any, y: Any, path: Any, max_images: int = 8) -> str:
    """Write the inspector page of ``model`` on the first ``max_images`` of ``(x, y)`` to ``path``.

    The same function as :func:`cnnkit.viz.inspector.write_report` (``cnnkit train`` calls it at
    the end of a run).

    Args:
        model: a compiled :class:`cnnkit.Model`.
        x, y: prepared inputs (N, C, H, W) and integer labels (N,).
        path: the HTML file.
        max_images: how many of ``x`` are run.
    """
    from cnnkit.viz.inspector import write_report as write

    return write(model, x, y, path, max_images=max_images)


def run(args: argparse.Namespace) -> int:
    """Write the page and print where; 0 on success."""
    trained = load_trained(args.path, args.dataset, args.model)
    out = output_path(args.out, os.path.join(trained.directory, "report.html"), ".html", args.force)
    _, (images, labels) = load_raw(trained.dataset, args.data, not args.no_download)
    x = prepare(images[: args.images], trained.normalisation, trained.input_shape, f"{trained.dataset} test set")
    y = np.asarray(labels[: args.images]).reshape(-1).astype(np.int64)
    try:
        write_report(trained.model, x, y, out, max_images=args.images)
    except ImportError as error:  # Pillow missing: the pictures cannot be encoded
        raise MissingExtra("cnnkit report", "Pillow") from error
    print(f"wrote {out} ({trained.checkpoint} on {len(y)} {trained.dataset} test image(s))")
    return 0

