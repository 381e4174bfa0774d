"""The ``cnnkit`` command line (``cnnkit``, or ``python -m cnnkit``).

Subcommands: ``train`` (a zoo model on a dataset, writing a run directory), ``evaluate`` (accuracy,
per-class accuracy and confusion matrix of a run or checkpoint), ``predict`` (classify image
files), ``summary`` (a zoo model's layer table), ``gradcheck`` (a zoo model's gradients against
finite differences), ``report`` (the HTML inspector of a run), ``kernels`` (the classic-kernel
playground), ``bench`` (images/s against PyTorch), ``models`` (the zoo), ``datasets`` (what is
available and where) and ``version``.

A user's mistake (unknown model, wrong path, corrupted checkpoint, a file that is not an image, a
dataset that cannot be loaded offline, ``--epochs 0``) prints one line ``cnnkit <command>:
<message>`` on stderr and exits with code 2, as argparse does for a malformed command line; Ctrl-C
exits with 130; ``gradcheck`` exits with 1 when a gradient is wrong. ``--debug`` (before or after
the subcommand) shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import NoReturn, Optional, Sequence

# The module, not its names: ``report`` is also a subcommand module (cnnkit.cli.report), and
# importing it rebinds that attribute of this package.
from cnnkit.cli import errors

# Subcommands written as separate modules (cnnkit.cli.<name>), each exposing add_parser(sub).
_COMMANDS = ("train", "evaluate", "predict", "report", "gradcheck", "kernels", "bench", "datasets")


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error: ``cnnkit train: argument --epochs: must be at least 1, got 0``."""

    def error(self, message: str) -> NoReturn:
        self.exit(errors.EXIT_USER_ERROR, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def _models(args: argparse.Namespace) -> int:
    from cnnkit import models

    for name, (title, shape) in models.available().items():
        print(f"{name:<16} input {'×'.join(map(str, shape)):<11} {title}")
    return 0


def _shape(text: str) -> tuple:
    try:
        shape = tuple(int(v) for v in text.replace("×", ",").replace("x", ",").split(","))
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"expected C,H,W (three positive whole numbers, e.g. 1,28,28), got {text!r}")
    return shape


def _summary(args: argparse.Namespace) -> int:
    import cnnkit
    from cnnkit.cli.common import resolve_model

    name = resolve_model(args.model)
    built_for = cnnkit.models.input_shape(name)
    shape = args.input_shape or built_for
    try:
        cnnkit.summary(cnnkit.models.get(name), shape, macs=args.macs)
    except ValueError as error:
        if args.input_shape is None:
            raise  # the zoo model fails on its own shape: a bug, keep the whole message
        # The layer's message (first line) says where; the rest speaks of in_features, not of this option.
        first = str(error).strip().splitlines()[0]
        raise errors.CLIError(f"--input-shape {','.join(map(str, shape))} does not fit {name} (built for "
                              f"{','.join(map(str, built_for))}): {first}") from None
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, every subcommand registered.

    Example:
        >>> build_parser().parse_args(["train", "--epochs", "2"]).epochs
        2
    """
    import cnnkit

    parser = _Parser(prog="cnnkit", description="cnnkit: CNNs from first principles on NumPy",
                     epilog="Mistakes exit with code 2 and one line on stderr; --debug shows the traceback.")
    parser.add_argument("--version", action="version", version=f"cnnkit {cnnkit.__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of any error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("version", help="print the version").set_defaults(
        run=lambda a: print(f"cnnkit {cnnkit.__version__}") or 0)
    sub.add_parser("models", help="list the model zoo").set_defaults(run=_models)
    p = sub.add_parser("summary", help="print a zoo model's layer table",
                       description="Print a zoo model's layer table: output shapes, parameters, MACs and "
                                   "receptive fields.")
    p.add_argument("model", metavar="MODEL", help="a name from `cnnkit models`")
    p.add_argument("--input-shape", type=_shape, default=None, metavar="C,H,W",
                   help="one sample's shape (default: the shape the model is built for)")
    p.add_argument("--macs", default="weights", choices=("weights", "with_bias"),
                   help="count multiply-adds of the weights only (default) or also the bias additions")
    p.set_defaults(run=_summary)
    for name in _COMMANDS:
        importlib.import_module(f"cnnkit.cli.{name}").add_parser(sub)
    for subparser in sub.choices.values():
        if "--debug" in subparser._option_string_actions:
            continue
        # SUPPRESS: `cnnkit --debug train` keeps the global value instead of this default.
        subparser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                               help="show the full traceback of any error")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit code.

    Exit codes: 0 success, 2 a user's mistake (one line on stderr), 130 interrupted, 1 a failed
    ``gradcheck``.

    Args:
        argv: the arguments after ``cnnkit``, e.g. ``["evaluate", "runs/lenet5", "--limit", "100"]``.

    Example:
        >>> main(["summary", "lenet5_classic"])  # doctest: +ELLIPSIS
        Model summary (input 1 × 32 × 32; ...)
        ...
        0
    """
    import cnnkit

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # a new user typing `cnnkit`: the version and what there is to do
        print(f"cnnkit {cnnkit.__version__}")
        parser.print_help()
        return 0
    try:
        return int(args.run(args) or 0)
    except BrokenPipeError:  # `cnnkit evaluate run | head`: the reader left; stop quietly
        sys.stdout = open(os.devnull, "w")
        return 1
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"\ncnnkit {args.command}: interrupted", file=sys.stderr)
        return errors.EXIT_INTERRUPTED
    except errors.known_errors() as error:
        if args.debug:
            raise
        errors.report(args.command, error)
        return errors.EXIT_USER_ERROR
    except MemoryError as error:  # e.g. `summary --input-shape 1,100000,100000`: a size asked for, not a bug
        if args.debug:
            raise
        errors.report(args.command, errors.CLIError(
            f"out of memory ({str(error) or 'MemoryError'}); use a smaller --input-shape, --batch-size or --limit"))
        return errors.EXIT_USER_ERROR
