"""Throughput of cnnkit next to PyTorch (CPU): LeNet-5, the MNIST CNN and a VGG block.

Not a test. A thin wrapper of ``cnnkit bench`` (src/cnnkit/cli/bench.py, where the method is
described): it pins the BLAS/OpenMP thread count before NumPy or PyTorch load, then runs the
interleaved rounds and writes JSON.

Run:  python benchmarks/run.py [--threads 2] [--rounds 7] [--json benchmarks/results/run.json]
"""

from __future__ import annotations

import os
import sys


def _threads(argv: list) -> str:
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--threads="):
            return arg.split("=", 1)[1]
    return "2"


if __name__ == "__main__":
    n = _threads(sys.argv[1:])
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = n  # before NumPy and PyTorch load their thread pools
    from cnnkit.cli import bench

    sys.exit(bench.main(sys.argv[1:]))
