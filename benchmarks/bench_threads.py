"""Thread policy under load: an atlas-like workload alone and next to a busy process, default torch threads vs
tamelab._threads.configure_threads(), each run in a fresh process, interleaved, best of N.

Workload (what the atlas spends its time on): (1) top-5 certified Hessian eigenpairs of the digits MLP
64-128-128-10 (26k parameters, 1797 samples: large matrix products), (2) a latency-bound loop of small kernels
(2000 SGD steps of a 64-32-10 MLP on 64 samples, like the tame and PAC-Bayes sections), (3) an 11x11 loss surface.
Load: the machine's own (printed), plus ``--busy N`` spinning processes started before the loaded runs
(default 1 per core; ``--busy 0`` on a machine that is already loaded by others). Fair share: a
single-threaded job next to L runnable threads on c cores gets c/(L+1) of a core, so next to one busy
process per core it should run about 2x slower; the goal is <= 3x, against the 93x measured for the default
on a loaded machine. Each run also reports wall / CPU seconds ("stretch"): ~1 for a single thread on a free
core, the fair-share factor under load; CPU time far above the work means spinning threads.

Run: python benchmarks/bench_threads.py [--rounds 3] [--quick] [--busy N]
"""

import argparse
import json
import os
import subprocess
import sys
import time

WORKLOAD = r"""
import json, os, sys, time
policy = sys.argv[1]
if policy == "tamelab":
    from tamelab._threads import configure_threads
    plan = configure_threads()
import torch
from torch import nn
if policy != "tamelab":
    plan = None
from tamelab.data import load_data
from tamelab.landscape import CurvatureOperator, loss_surface, top_eigenpairs
quick = sys.argv[2] == "1"
torch.manual_seed(0)
tr = load_data("digits", split="all", seed=0)
X, y = torch.as_tensor(tr.X, dtype=torch.float32), torch.as_tensor(tr.y)
t = {}
t0 = time.perf_counter()
m = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10))
r = top_eigenpairs(CurvatureOperator(m, "cross_entropy", (X, y)), 5, tol=1e-5, check=not quick)
t["eigenpairs"] = time.perf_counter() - t0
t0 = time.perf_counter()
small = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
opt = torch.optim.SGD(small.parameters(), lr=0.05)
for i in range(500 if quick else 2000):
    xb, yb = X[(i * 64) % 1700:(i * 64) % 1700 + 64], y[(i * 64) % 1700:(i * 64) % 1700 + 64]
    opt.zero_grad()
    nn.functional.cross_entropy(small(xb), yb).backward()
    opt.step()
t["small_kernels"] = time.perf_counter() - t0
t0 = time.perf_counter()
loss_surface(m, X, y, grid=5 if quick else 11)
t["surface"] = time.perf_counter() - t0
print(json.dumps({"times": t, "threads": torch.get_num_threads(), "status": r.status.value,
                  "plan": plan.reason if plan else "torch default"}))
"""

BUSY_PROCESSES = r"""
import multiprocessing as mp, sys, time
def spin():
    x = 0
    while True:
        x += 1
if __name__ == "__main__":
    ps = [mp.Process(target=spin, daemon=True) for _ in range(int(sys.argv[1]))]
    [p.start() for p in ps]
    time.sleep(float(sys.argv[2]))
"""


def run(policy: str, quick: bool) -> dict:
    import resource

    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY", "TAMELAB_THREADS")
    }
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", WORKLOAD, policy, "1" if quick else "0"],
        capture_output=True,
        check=False,
        text=True,
        env=env,
        timeout=3600,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    r = json.loads(out.stdout.strip().splitlines()[-1])
    r["cpu"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    r["wall"] = wall
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--busy", type=int, default=None, help="spinning processes for the loaded runs (default: cores)")
    a = ap.parse_args()
    cores = len(os.sched_getaffinity(0))
    nbusy = cores if a.busy is None else a.busy
    print(
        f"{cores} cores, load average at start {os.getloadavg()[0]:.1f}; loaded runs add {nbusy} spinning processes",
        flush=True,
    )
    best: dict = {}
    for rnd in range(a.rounds):
        for loaded in (False, True) if nbusy else (False,):
            busy = None
            if loaded:
                busy = subprocess.Popen(
                    [sys.executable, "-c", BUSY_PROCESSES, str(nbusy), "3600"], start_new_session=True
                )  # its own process group: killed as a whole
                time.sleep(2.0)
            try:
                for policy in ("default", "tamelab") if rnd % 2 == 0 else ("tamelab", "default"):
                    r = run(policy, a.quick)
                    key = (policy, loaded)
                    tot = sum(r["times"].values())
                    if key not in best or tot < sum(best[key]["times"].values()):
                        best[key] = r
                    print(
                        f"round {rnd} {'loaded' if loaded else 'as is '} {policy:8s} threads={r['threads']} "
                        f"total {tot:7.2f} s (cpu {r['cpu']:.1f} s, stretch {r['wall'] / max(r['cpu'], 1e-9):.1f}) "
                        + " ".join(f"{k}={v:.2f}" for k, v in r["times"].items()),
                        flush=True,
                    )
            finally:
                if busy is not None:
                    import signal

                    os.killpg(busy.pid, signal.SIGKILL)
                    busy.wait()
    print("\nbest of rounds")
    for policy in ("default", "tamelab"):
        a0 = best[(policy, False)]
        print(
            f"{policy:8s} as-is {sum(a0['times'].values()):7.2f} s, cpu {a0['cpu']:.1f} s, threads {a0['threads']} "
            f"({a0['plan']})"
        )
    d, t = best[("default", False)], best[("tamelab", False)]
    print(f"default / tamelab, as-is: {sum(d['times'].values()) / sum(t['times'].values()):.2f}x")
    if not nbusy:
        return
    print("slowdown = loaded / as-is (fair share with one busy process per core: ~2x)")
    for policy in ("default", "tamelab"):
        a0, a1 = best[(policy, False)], best[(policy, True)]
        parts = " ".join(f"{k} {a1['times'][k] / a0['times'][k]:.1f}x" for k in a0["times"])
        print(
            f"{policy:8s} as-is {sum(a0['times'].values()):7.2f} s  loaded {sum(a1['times'].values()):7.2f} s  "
            f"slowdown {sum(a1['times'].values()) / sum(a0['times'].values()):5.1f}x  ({parts})"
        )


if __name__ == "__main__":
    main()
