"""Diagnostic: cnnkit training steps with NumPy's OpenBLAS at 1 thread vs 2, in one process.

Not a test, and not how cnnkit runs (it pins OpenBLAS to one thread and splits batches over its
own threads, ``cnnkit.backend.parallel``; here ``CNNKIT_THREADS=1`` turns its threads off so
that only BLAS threading varies). It measures how much a busy machine costs 2-thread OpenBLAS:
when another process holds a core, each threaded GEMM waits for its descheduled worker. The thread count is switched per round through NumPy's
bundled scipy-openblas (``scipy_openblas_set_num_threads64_``); rounds alternate which goes
first, and the share of the machine used by other processes is printed with each result.

Run:  python benchmarks/blas_threads.py [--rounds 7] [--workloads lenet5-train-b128,vgg_block-train-b64]
"""

from __future__ import annotations

import argparse
import ctypes
import glob
import os
import statistics
import sys
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "2"  # before NumPy loads OpenBLAS
os.environ["CNNKIT_THREADS"] = "1"  # cnnkit's own batch split off: only BLAS threads vary

import numpy as np  # noqa: E402

from cnnkit.cli import bench  # noqa: E402


def _openblas_setter():
    libs = glob.glob(os.path.join(os.path.dirname(np.__file__) + ".libs", "libscipy_openblas*.so"))
    for path in libs:
        lib = ctypes.CDLL(path)
        for name in ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads"):
            if hasattr(lib, name):
                fn = getattr(lib, name)
                fn.argtypes = [ctypes.c_int]
                return fn
    sys.exit("blas_threads.py: this NumPy does not bundle scipy-openblas; nothing to switch")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--workloads", default="lenet5-train-b128,vgg_block-train-b64")
    args = parser.parse_args()
    set_threads = _openblas_setter()
    for workload in args.workloads.split(","):
        step = bench.make_step("cnnkit", workload)
        for n in (1, 2):
            set_threads(n)
            step()
        times: dict = {1: [], 2: []}
        before = bench._cpu_sample()
        for r in range(args.rounds):
            for n in ((1, 2) if r % 2 == 0 else (2, 1)):
                set_threads(n)
                start = time.perf_counter()
                step()
                step()
                times[n].append((time.perf_counter() - start) / 2)
        load = bench._foreign(before, bench._cpu_sample())
        one, two = (statistics.median(times[n]) * 1e3 for n in (1, 2))
        print(f"{workload}: 1 BLAS thread {one:.0f} ms/step, 2 threads {two:.0f} ms/step "
              f"(2 threads / 1 thread = {two / one:.2f}); other processes used {100 * load:.0f}% of the machine")
    set_threads(2)


if __name__ == "__main__":
    main()
