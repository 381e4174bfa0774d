"""cProfile of cnnkit training steps for one ``cnnkit bench`` workload (where the time goes).

Not a test. Runs warm-up steps, then profiles ``--steps`` steps and prints the top functions by
own time (tottime) and by cumulative time, per step in ms.

Run:  python benchmarks/profile_step.py [--workload lenet5-train-b128] [--steps 10] [--threads 2]
"""

from __future__ import annotations

import argparse
import os

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--workload", default="lenet5-train-b128")
parser.add_argument("--steps", type=int, default=10)
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--top", type=int, default=25)
args = parser.parse_args()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[var] = str(args.threads)  # before NumPy loads its BLAS

import cProfile  # noqa: E402
import pstats  # noqa: E402
import time  # noqa: E402

from cnnkit.cli.bench import make_step  # noqa: E402

step = make_step("cnnkit", args.workload)
for _ in range(3):
    step()
start = time.perf_counter()
for _ in range(args.steps):
    step()
print(f"{args.workload}: {(time.perf_counter() - start) / args.steps * 1e3:.1f} ms/step (unprofiled)")
profile = cProfile.Profile()
profile.enable()
for _ in range(args.steps):
    step()
profile.disable()
stats = pstats.Stats(profile)
rows = []
for (file, line, name), (_, calls, tottime, cumtime, _) in stats.stats.items():
    rows.append((tottime, cumtime, calls, f"{os.path.basename(file)}:{line}({name})"))
for key, title in ((0, "own time"), (1, "cumulative")):
    print(f"\n--- top by {title}, ms per step ---")
    for row in sorted(rows, key=lambda r: -r[key])[:args.top]:
        print(f"{row[0] / args.steps * 1e3:8.1f} {row[1] / args.steps * 1e3:8.1f} {row[2] // args.steps:6d}  {row[3]}")
