"""The ``cnnkit`` command line (``cnnkit``, or ``python -m cnnkit``).

Only ``--version`` and ``version`` exist so far; training and the other subcommands come with
the datasets/CLI work.
"""

from __future__ import annotations

import argparse
from typing import Optional, Sequence


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    import cnnkit

    parser = argparse.ArgumentParser(prog="cnnkit", description="cnnkit: CNNs from first principles on NumPy")
    parser.add_argument("--version", action="version", version=f"cnnkit {cnnkit.__version__}")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("version", help="print the version")
    args = parser.parse_args(argv)
    if args.command in (None, "version"):
        print(f"cnnkit {cnnkit.__version__}")
    return 0
