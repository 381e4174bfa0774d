"""``cnnkit datasets``: which datasets cnnkit can load, whether each is here, and where.

Never touches the network; ``--verify`` also hashes the files found (slower for CIFAR-10).
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_parser(sub: Any) -> None:
    """Register the ``datasets`` subcommand on an argparse subparsers object."""
    p = sub.add_parser("datasets", help="list the datasets: available, cached, where",
                       description="List the datasets cnnkit can load, whether each is embedded, cached or "
                                   "missing (downloaded on first use), and where. Never touches the network.")
    p.add_argument("--verify", action="store_true", help="also check the SHA-256 of the files found")
    p.add_argument("--json", action="store_true", help="print the records as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print each dataset's record (or JSON with ``--json``); 0."""
    from cnnkit import datasets

    records = datasets.available(verify=args.verify)
    if args.json:
        print(json.dumps([r.as_dict() for r in records], indent=2))
        return 0
    from cnnkit.datasets.download import cache_dir, offline

    print(f"cache: {cache_dir()} (set CNNKIT_DATA to move it)" + ("; offline (CNNKIT_OFFLINE)" if offline() else ""))
    for r in records:
        shape = "×".join(map(str, r.shape))
        check = {True: ", verified", False: ", CHECKSUM MISMATCH", None: ""}[r.verified]
        print(f"{r.name:<14} {r.title:<14} {shape:<8} {r.num_classes} classes, {r.train_size:,} train + "
              f"{r.test_size:,} test  {r.status}{check}")
        where = r.location if r.location else f"not here; downloaded on first use into {r.cache_path}"
        print(f"{'':<14} {where}")
    return 0
