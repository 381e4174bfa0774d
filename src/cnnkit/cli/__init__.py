"""The ``cnnkit`` command line (``cnnkit``, or ``python -m cnnkit``).

Subcommands: ``train`` (a zoo model on a dataset, writing a run directory), ``models`` (the zoo),
``summary`` (a zoo model's layer table) and ``version``.
"""

from __future__ import annotations

import argparse
from typing import Optional, Sequence


def _models(args: argparse.Namespace) -> int:
    from cnnkit import models

    for name, (title, shape) in models.available().items():
        print(f"{name:<16} input {'×'.join(map(str, shape)):<11} {title}")
    return 0


def _summary(args: argparse.Namespace) -> int:
    import cnnkit

    cnnkit.summary(cnnkit.models.get(args.model), cnnkit.models.input_shape(args.model), macs=args.macs)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    import cnnkit
    from cnnkit.cli import train

    parser = argparse.ArgumentParser(prog="cnnkit", description="cnnkit: CNNs from first principles on NumPy")
    parser.add_argument("--version", action="version", version=f"cnnkit {cnnkit.__version__}")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("version", help="print the version").set_defaults(run=lambda a: print(f"cnnkit {cnnkit.__version__}") or 0)
    sub.add_parser("models", help="list the model zoo").set_defaults(run=_models)
    p = sub.add_parser("summary", help="print a zoo model's layer table")
    p.add_argument("model")
    p.add_argument("--macs", default="weights", choices=("weights", "with_bias"))
    p.set_defaults(run=_summary)
    train.add_parser(sub)
    args = parser.parse_args(argv)
    if args.command is None:
        print(f"cnnkit {cnnkit.__version__}")
        return 0
    return int(args.run(args) or 0)
