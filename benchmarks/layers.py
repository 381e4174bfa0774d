"""Forward + backward time of single layers at LeNet-5 sizes, cnnkit next to PyTorch (CPU).

Not a test. Both frameworks run in one process, interleaved round by round (which goes first
alternates), with the same thread count; the table gives medians over rounds and the ratio
cnnkit time / PyTorch time (below 1 means cnnkit is faster).

Run:  python benchmarks/layers.py [--rounds 7] [--batch 128] [--threads 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--min-time", type=float, default=0.3, help="seconds per timed repeat")
    parser.add_argument("--json", help="write the results here")
    return parser.parse_args()


ARGS = _parse()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)  # before NumPy and PyTorch load their thread pools

import numpy as np  # noqa: E402

import cnnkit  # noqa: E402
from cnnkit import nn  # noqa: E402

try:
    import torch  # noqa: E402
except ImportError:  # pragma: no cover
    sys.exit("PyTorch is needed for the comparison: pip install torch==2.13.0")
torch.set_num_threads(ARGS.threads)


def cases(batch: int) -> list:
    """(name, cnnkit layer, torch layer, input shape) at LeNet-5 sizes."""
    return [
        ("Conv2d 1→20 k5 p2, 28×28", nn.Conv2d(1, 20, 5, padding=2), torch.nn.Conv2d(1, 20, 5, padding=2), (batch, 1, 28, 28)),
        ("Conv2d 20→50 k5 p2, 14×14", nn.Conv2d(20, 50, 5, padding=2), torch.nn.Conv2d(20, 50, 5, padding=2), (batch, 20, 14, 14)),
        ("MaxPool2d 2/2, 20×28×28", nn.MaxPool2d(2), torch.nn.MaxPool2d(2), (batch, 20, 28, 28)),
        ("BatchNorm2d 20, 28×28", nn.BatchNorm2d(20), torch.nn.BatchNorm2d(20), (batch, 20, 28, 28)),
    ]


def step_cnnkit(layer: nn.Module, x: np.ndarray, g: np.ndarray):
    def run() -> None:
        inp = cnnkit.tensor(x, requires_grad=True)
        layer(inp).backward(g)
    return run


def step_torch(layer: "torch.nn.Module", x: np.ndarray, g: np.ndarray):
    xt, gt = torch.from_numpy(x), torch.from_numpy(g)

    def run() -> None:
        inp = xt.clone().requires_grad_(True)
        layer(inp).backward(gt)
    return run


def per_call(fn, min_time: float) -> float:
    fn()  # warm-up
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            return elapsed / calls


def main() -> None:
    rng = np.random.default_rng(0)
    rows = []
    for name, ours, theirs, shape in cases(ARGS.batch):
        x = rng.standard_normal(shape).astype(np.float32)
        out_shape = theirs(torch.from_numpy(x)).shape
        g = rng.standard_normal(tuple(out_shape)).astype(np.float32)
        runners = {"cnnkit": step_cnnkit(ours, x, g), "torch": step_torch(theirs, x, g)}
        times = {"cnnkit": [], "torch": []}
        for r in range(ARGS.rounds):
            order = ("cnnkit", "torch") if r % 2 == 0 else ("torch", "cnnkit")
            for key in order:
                times[key].append(per_call(runners[key], ARGS.min_time))
        med = {k: statistics.median(v) for k, v in times.items()}
        rows.append({"layer": name, "cnnkit_ms": med["cnnkit"] * 1e3, "torch_ms": med["torch"] * 1e3,
                     "ratio": med["cnnkit"] / med["torch"],
                     "spread_ms": {k: [min(v) * 1e3, max(v) * 1e3] for k, v in times.items()}})
    print(f"forward + backward, batch {ARGS.batch}, {ARGS.threads} threads, median of {ARGS.rounds} interleaved rounds")
    print(f"{'layer':<28} {'cnnkit ms':>10} {'torch ms':>10} {'cnnkit/torch':>13}")
    for row in rows:
        print(f"{row['layer']:<28} {row['cnnkit_ms']:>10.2f} {row['torch_ms']:>10.2f} {row['ratio']:>12.2f}×")
    if ARGS.json:
        meta = {"machine": platform.processor() or platform.machine(), "python": platform.python_version(),
                "numpy": np.__version__, "torch": torch.__version__, "cnnkit": cnnkit.__version__,
                "threads": ARGS.threads, "batch": ARGS.batch, "rounds": ARGS.rounds}
        with open(ARGS.json, "w") as f:
            json.dump({"meta": meta, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
