"""``cnnkit bench``: training and inference throughput of cnnkit next to PyTorch on this CPU.

Not a test. Both frameworks run in one process with the same thread count, interleaved round by
round (which goes first alternates), after warm-up; each round times one repeat of about
``--min-time`` seconds per framework. The table gives the median images/s over the rounds, the
spread (min–max) and the ratio cnnkit/PyTorch (above 1 means cnnkit is faster). Every repeat is
watched through ``/proc/stat``: the share of the machine used by *other* processes is recorded
per repeat, and a round waits (briefly) for a quiet moment before it starts, because one foreign
busy thread on a 2-core machine slows a run several-fold.

Peak memory is measured separately: a fresh child process per framework and workload runs a few
steps and reports its ``VmHWM`` (``ru_maxrss`` is not used: Linux carries it across exec). The
cnnkit child never imports PyTorch.

Thread counts are fixed through ``OMP_NUM_THREADS``/``OPENBLAS_NUM_THREADS``/``MKL_NUM_THREADS``,
which BLAS reads only when it loads; ``cnnkit bench`` therefore re-runs itself in a child process
with those variables set whenever they differ from ``--threads``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from typing import Any, Callable, Optional, Sequence

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")

# name: (model, mode, batch, input shape per image)
WORKLOADS = {
    "lenet5-train-b32": ("lenet5", "train", 32, (1, 28, 28)),
    "lenet5-train-b128": ("lenet5", "train", 128, (1, 28, 28)),
    "lenet5-infer-b256": ("lenet5", "infer", 256, (1, 28, 28)),
    "mnist_cnn-train-b128": ("mnist_cnn", "train", 128, (1, 28, 28)),
    "vgg_block-train-b64": ("vgg_block", "train", 64, (3, 32, 32)),
}


def add_parser(sub: Any) -> None:
    p = sub.add_parser("bench", help="images/s of cnnkit vs PyTorch (CPU), interleaved rounds",
                       description="Benchmark training and inference throughput of cnnkit against PyTorch "
                                   "in one process (needs `pip install torch`).")
    _arguments(p)
    p.set_defaults(run=run)


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threads", type=int, default=2, help="BLAS/OpenMP threads for both frameworks (default 2)")
    p.add_argument("--rounds", type=int, default=7, help="interleaved timed rounds (at least 7 for the report)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps per framework before the rounds")
    p.add_argument("--min-time", type=float, default=0.5, help="seconds per timed repeat")
    p.add_argument("--workloads", default=",".join(WORKLOADS),
                   help=f"comma-separated subset of: {', '.join(WORKLOADS)}")
    p.add_argument("--rss", default="lenet5-train-b128",
                   help="workloads whose peak RSS is measured in fresh children ('all', 'none' or a list)")
    p.add_argument("--quiet-wait", type=float, default=5.0,
                   help="seconds a round may wait for other processes to go quiet")
    p.add_argument("--json", default=None, help="write the results to this JSON file")
    p.add_argument("--rss-child", nargs=2, metavar=("FRAMEWORK", "WORKLOAD"), help=argparse.SUPPRESS)


def _threads_pinned(threads: int) -> bool:
    return all(os.environ.get(v) == str(threads) for v in _THREAD_VARS)


def _child_env(threads: int) -> dict:
    env = dict(os.environ)
    env.update({v: str(threads) for v in _THREAD_VARS})
    return env


def run(args: argparse.Namespace) -> int:
    """Entry point of ``cnnkit bench``: re-run in a child when the thread variables are not set."""
    if not _threads_pinned(args.threads):
        argv = [sys.executable, "-m", "cnnkit.cli.bench"] + _argv_of(args)
        return subprocess.call(argv, env=_child_env(args.threads))
    return _main(args)


def _argv_of(args: argparse.Namespace) -> list:
    out = ["--threads", str(args.threads), "--rounds", str(args.rounds), "--warmup", str(args.warmup),
           "--min-time", str(args.min_time), "--workloads", args.workloads, "--rss", args.rss,
           "--quiet-wait", str(args.quiet_wait)]
    return out + (["--json", args.json] if args.json else [])


# --- machine load ------------------------------------------------------------------------------

def _cpu_sample() -> Optional[tuple]:
    """(total, idle, steal) jiffies of the whole machine and busy jiffies of this process."""
    try:
        with open("/proc/stat") as f:
            vals = [int(v) for v in f.readline().split()[1:]]
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        own = int(fields[11]) + int(fields[12])  # utime + stime of this process (all threads)
    except (OSError, ValueError, IndexError):
        return None  # not Linux: no gating
    return sum(vals[:8]), vals[3] + vals[4], vals[7], own


def _foreign(before: Optional[tuple], after: Optional[tuple]) -> float:
    """Share of the machine's CPU used by other processes (plus hypervisor steal) in between."""
    if before is None or after is None:
        return 0.0
    total = after[0] - before[0]
    if total <= 0:
        return 0.0
    busy = total - (after[1] - before[1])
    return max(0.0, (busy - (after[3] - before[3])) / total)


def _wait_quiet(limit_s: float, threshold: float = 0.05) -> None:
    end = time.perf_counter() + limit_s
    while time.perf_counter() < end:
        before = _cpu_sample()
        time.sleep(0.2)
        if _foreign(before, _cpu_sample()) < threshold:
            return


def _peak_rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


# --- workloads ---------------------------------------------------------------------------------

def _cnnkit_model(name: str) -> Any:
    import cnnkit
    from cnnkit import nn

    if name == "vgg_block":  # Conv-BN-ReLU ×2 + MaxPool, then a linear head for the loss
        return nn.Sequential(nn.Conv2d(3, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                             nn.Conv2d(64, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 16 * 16, 10))
    return getattr(cnnkit.models, name)()


def _torch_model(name: str) -> Any:
    from torch import nn

    if name == "lenet5":
        return nn.Sequential(nn.Conv2d(1, 20, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
                             nn.Conv2d(20, 50, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
                             nn.Flatten(), nn.Linear(2450, 500), nn.ReLU(), nn.Linear(500, 10))
    if name == "mnist_cnn":
        return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Dropout(0.25), nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(), nn.Dropout(0.5),
                             nn.Linear(128, 10))
    return nn.Sequential(nn.Conv2d(3, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                         nn.Conv2d(64, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 16 * 16, 10))


def _data(workload: str) -> tuple:
    import numpy as np

    _, _, batch, shape = WORKLOADS[workload]
    rng = np.random.default_rng(0)
    return rng.standard_normal((batch, *shape), dtype=np.float32), rng.integers(0, 10, batch).astype(np.int64)


def make_step(framework: str, workload: str) -> Callable[[], None]:
    """One training step (zero_grad, forward, cross-entropy, backward, SGD momentum 0.9) or one
    inference forward, on a fixed seeded batch, as a zero-argument callable."""
    model_name, mode, _, _ = WORKLOADS[workload]
    x, y = _data(workload)
    if framework == "cnnkit":
        import cnnkit
        import cnnkit.functional as F

        cnnkit.manual_seed(0)
        model, xt, yt = _cnnkit_model(model_name), cnnkit.tensor(x), cnnkit.tensor(y)
        no_grad, cross_entropy, optim = cnnkit.no_grad, F.cross_entropy, cnnkit.optim
    else:
        import torch

        torch.manual_seed(0)
        model, xt, yt = _torch_model(model_name), torch.from_numpy(x), torch.from_numpy(y)
        no_grad, cross_entropy, optim = torch.inference_mode, torch.nn.functional.cross_entropy, torch.optim
    if mode == "infer":
        model.eval()

        def infer() -> None:
            with no_grad():
                model(xt)
        return infer
    model.train()
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def train() -> None:
        opt.zero_grad()
        cross_entropy(model(xt), yt).backward()
        opt.step()
    return train


def _repeat(step: Callable[[], None], iters: int) -> tuple:
    before = _cpu_sample()
    start = time.perf_counter()
    for _ in range(iters):
        step()
    elapsed = (time.perf_counter() - start) / iters
    return elapsed, _foreign(before, _cpu_sample())


def bench_workload(workload: str, args: argparse.Namespace) -> dict:
    """Interleaved rounds for one workload; returns per-framework seconds per step and load."""
    steps = {fw: make_step(fw, workload) for fw in ("cnnkit", "torch")}
    iters = {}
    for fw, step in steps.items():
        for _ in range(args.warmup):
            step()
        start = time.perf_counter()
        step()
        iters[fw] = max(1, round(args.min_time / max(time.perf_counter() - start, 1e-6)))
    times: dict = {fw: [] for fw in steps}
    load: dict = {fw: [] for fw in steps}
    for r in range(args.rounds):
        _wait_quiet(args.quiet_wait)
        for fw in (("cnnkit", "torch") if r % 2 == 0 else ("torch", "cnnkit")):
            t, f = _repeat(steps[fw], iters[fw])
            times[fw].append(t)
            load[fw].append(f)
    batch = WORKLOADS[workload][2]
    row: dict = {"workload": workload, "batch": batch, "iters_per_repeat": iters}
    for fw in steps:
        ips = sorted(batch / t for t in times[fw])
        row[fw] = {"images_per_s_median": statistics.median(ips), "images_per_s_min": ips[0],
                   "images_per_s_max": ips[-1], "seconds_per_step": times[fw],
                   "foreign_cpu_per_repeat": load[fw]}
    row["ratio"] = row["cnnkit"]["images_per_s_median"] / row["torch"]["images_per_s_median"]
    return row


def rss_child(framework: str, workload: str) -> None:
    """Body of a fresh child: a few steps, then print this process's peak RSS in MiB."""
    step = make_step(framework, workload)
    for _ in range(5):
        step()
    print(json.dumps({"peak_rss_mib": _peak_rss_mib()}))


def measure_rss(workload: str, threads: int) -> dict:
    out = {}
    for fw in ("cnnkit", "torch"):
        proc = subprocess.run([sys.executable, "-m", "cnnkit.cli.bench", "--rss-child", fw, workload],
                              env=_child_env(threads), capture_output=True, text=True, check=False)
        try:
            out[fw] = json.loads(proc.stdout.strip().splitlines()[-1])["peak_rss_mib"]
        except (IndexError, ValueError, KeyError):
            raise RuntimeError(f"cnnkit bench: the peak-RSS child for {fw} {workload} failed:\n{proc.stderr}")
    return out


# --- report ------------------------------------------------------------------------------------

def _meta(args: argparse.Namespace) -> dict:
    import numpy as np
    import torch

    import cnnkit

    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model)
    except OSError:
        pass
    return {"machine": {"cpu": model, "logical_cpus": os.cpu_count(), "platform": platform.platform()},
            "versions": {"python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__,
                         "cnnkit": cnnkit.__version__},
            "threads": args.threads, "torch_threads": torch.get_num_threads(), "rounds": args.rounds,
            "warmup": args.warmup, "min_time_s": args.min_time,
            "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def format_table(rows: Sequence[dict], rss: dict) -> str:
    lines = [f"{'workload':<22} {'cnnkit img/s':>13} {'(min–max)':>15} {'torch img/s':>12} {'(min–max)':>15} "
             f"{'cnnkit/torch':>12} {'load%':>6}"]
    for row in rows:
        c, t = row["cnnkit"], row["torch"]
        load = 100 * max(max(c["foreign_cpu_per_repeat"]), max(t["foreign_cpu_per_repeat"]))
        lines.append(f"{row['workload']:<22} {c['images_per_s_median']:>13.0f} "
                     f"{c['images_per_s_min']:>7.0f}–{c['images_per_s_max']:<7.0f} {t['images_per_s_median']:>12.0f} "
                     f"{t['images_per_s_min']:>7.0f}–{t['images_per_s_max']:<7.0f} {row['ratio']:>11.2f}× "
                     f"{load:>6.0f}")
    for workload, peak in rss.items():
        lines.append(f"peak RSS {workload}: cnnkit {peak['cnnkit']:.0f} MiB, torch {peak['torch']:.0f} MiB "
                     f"(fresh child each, VmHWM)")
    lines.append("load% = the highest share of the machine used by other processes during any timed repeat")
    return "\n".join(lines)


def _main(args: argparse.Namespace) -> int:
    if args.rss_child:
        rss_child(*args.rss_child)
        return 0
    try:
        import torch
    except ImportError:
        print("cnnkit bench: PyTorch is needed for the comparison; install it with `pip install torch`",
              file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    names = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = [w for w in names if w not in WORKLOADS]
    if unknown:
        print(f"cnnkit bench: unknown workload(s) {unknown}; choose from {list(WORKLOADS)}", file=sys.stderr)
        return 2
    rss_names = list(WORKLOADS) if args.rss == "all" else [] if args.rss == "none" else \
        [w.strip() for w in args.rss.split(",") if w.strip()]
    if any(w not in WORKLOADS for w in rss_names):
        print(f"cnnkit bench: --rss takes 'all', 'none' or workloads from {list(WORKLOADS)}; got {args.rss!r}",
              file=sys.stderr)
        return 2
    meta = _meta(args)
    print(f"cnnkit vs PyTorch, {args.threads} threads each, median of {args.rounds} interleaved rounds "
          f"(~{args.min_time}s each), after {args.warmup} warm-up steps", flush=True)
    rows = []
    for name in names:
        rows.append(bench_workload(name, args))
        r = rows[-1]
        print(f"  {name}: cnnkit {r['cnnkit']['images_per_s_median']:.0f} img/s, "
              f"torch {r['torch']['images_per_s_median']:.0f} img/s, ratio {r['ratio']:.2f}", flush=True)
    rss = {name: measure_rss(name, args.threads) for name in rss_names if name}
    print(format_table(rows, rss))
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "rows": rows, "peak_rss_mib": rss}, f, indent=2)
        print(f"wrote {args.json}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parse ``argv`` as ``cnnkit bench`` does and run (the thread variables must already be set)."""
    parser = argparse.ArgumentParser(prog="cnnkit bench", description=__doc__.splitlines()[0])
    _arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
