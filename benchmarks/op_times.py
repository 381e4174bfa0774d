"""Wall time per op of cnnkit training steps (forward and backward), for one ``cnnkit bench`` workload.

Not a test. Wraps ``Function.apply`` (forward) and the engine's per-node backward with timers, runs
warm-up steps, then ``--steps`` timed steps, and prints ms per step by op (convolutions are listed
per input-channel count, e.g. ``ConvNd20`` is LeNet's conv2). Unlike ``profile_step.py`` this counts
wall time on the calling thread including the time the op waits for cnnkit's other threads, so the
rows add up to the step.

Run:  python benchmarks/op_times.py [--workload lenet5-train-b128] [--steps 40]
"""

from __future__ import annotations

import argparse
import collections
import time

from cnnkit.autograd import engine, function
from cnnkit.cli.bench import WORKLOADS, make_step

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--workload", default="lenet5-train-b128", choices=list(WORKLOADS))
parser.add_argument("--steps", type=int, default=40)
args = parser.parse_args()

forward: dict = collections.defaultdict(float)
backward: dict = collections.defaultdict(float)
real_apply = function.Function.apply.__func__
real_run_node = engine._run_node


def _key(cls: type, inputs: tuple) -> str:
    if cls.__name__ == "ConvNd":
        return f"ConvNd{inputs[0].shape[1]}"
    return cls.__name__


def timed_apply(cls: type, *inputs, **options):
    start = time.perf_counter()
    out = real_apply(cls, *inputs, **options)
    key = _key(cls, inputs)
    forward[key] += time.perf_counter() - start
    if out.creator is not None:
        out.creator._op_times_key = key
    return out


def timed_run_node(fn, *rest):
    start = time.perf_counter()
    real_run_node(fn, *rest)
    backward[getattr(fn, "_op_times_key", type(fn).__name__)] += time.perf_counter() - start


function.Function.apply = classmethod(timed_apply)
engine._run_node = timed_run_node

step = make_step("cnnkit", args.workload)
for _ in range(5):
    step()
forward.clear()
backward.clear()
start = time.perf_counter()
for _ in range(args.steps):
    step()
total = (time.perf_counter() - start) / args.steps * 1e3
print(f"{args.workload}: {total:.1f} ms/step")
scale = 1e3 / args.steps
for name in sorted(set(forward) | set(backward), key=lambda k: -(forward[k] + backward[k])):
    print(f"  {name:22s} forward {forward[name] * scale:6.2f}  backward {backward[name] * scale:6.2f}")
ops = (sum(forward.values()) + sum(backward.values())) * scale
print(f"  ops {ops:.1f} ms; the rest ({total - ops:.1f} ms) is the optimizer, zero_grad and Python")
