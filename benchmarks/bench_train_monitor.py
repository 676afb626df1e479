"""Per-epoch cost of the monitored training loop (``tamelab.train.fit`` and ``tamelab.train.train``) vs a bare
loop on the same work.

Same model (``mlp(widths, seed)``), data (digits train split), optimizer transform, batch order and
number of steps. The bare loop does only forward, backward and the update; ``fit`` additionally
records loss, gradient/parameter norms, distance from init and path length every step, keeps
snapshots and evaluates full train/test loss once per epoch. Also reported: a bare loop with
``torch.optim`` (the framework floor) and the post-hoc cost of ``convergence_report``.

Per-epoch time of ``fit`` is measured as (time of E2 epochs − time of E1 epochs) / (E2 − E1) so
data loading and set-up cancel (with ``eval_every=5`` the runs are E1+1 and E2+1 epochs long, so both
contain the same number of evaluations plus the forced last one). Target: overhead ≤ 10 %.
Floor: the per-epoch evaluation is one forward pass over all 1797 samples (~1.4 ms here), ~10 % of a
batch-64 epoch of this small MLP by itself; the per-step records are a ``cat`` per step and four
reductions per 8 steps.

Run: python benchmarks/bench_train_monitor.py [--quick] [--widths 64,256,256,10] [--threads 1]
"""

import argparse
import time

import numpy as np
import torch

from tamelab.data import load_data
from tamelab.models import mlp
from tamelab.train import apply_updates, fit, make_optimizer, make_schedule

#: process CPU time by default: single-threaded runs on a shared VM see ±10 % wall-clock noise from
#: descheduling, which CPU time does not count (``--wall`` for wall clock)
_clock = time.process_time


def bare_epochs(widths, epochs, batch, lr, seed, *, torch_optim=False):
    tr = load_data("digits", split="train", seed=0)
    X = torch.as_tensor(tr.X, dtype=torch.float32)
    y = torch.as_tensor(tr.y)
    model = mlp(widths, seed=seed)
    loss_fn = torch.nn.functional.cross_entropy
    t0 = _clock()
    if torch_optim:
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        for e in range(epochs):
            perm = np.random.default_rng([seed, e]).permutation(tr.n)
            for lo in range(0, tr.n, batch):
                idx = torch.as_tensor(perm[lo : lo + batch])
                opt.zero_grad(set_to_none=True)
                loss_fn(model(X[idx]), y[idx]).backward()
                opt.step()
        return _clock() - t0
    opt = make_optimizer("adam", make_schedule("constant", lr))
    params = {k: v.detach().clone() for k, v in model.named_parameters()}
    names = list(params)
    state = opt.init(params)
    for e in range(epochs):
        perm = np.random.default_rng([seed, e]).permutation(tr.n)
        for lo in range(0, tr.n, batch):
            idx = torch.as_tensor(perm[lo : lo + batch])
            p = {k: v.clone().requires_grad_(True) for k, v in params.items()}
            loss = loss_fn(torch.func.functional_call(model, p, (X[idx],)), y[idx])
            grads = dict(zip(names, torch.autograd.grad(loss, [p[k] for k in names])))
            upd, state = opt.update(grads, state, params)
            params = apply_updates(params, upd)
    return _clock() - t0


def fit_time(widths, epochs, batch, lr, seed, record_every=1, eval_every=1):
    t0 = _clock()
    fit(
        {
            "widths": widths,
            "epochs": epochs,
            "batch_size": batch,
            "lr": lr,
            "seed": seed,
            "optimizer": "adam",
            "record_every": record_every,
            "eval_every": eval_every,
        }
    )
    return _clock() - t0


def train_torch_time(widths, epochs, batch, lr, seed):
    """The generic loop ``tamelab.train.train`` with a ``torch.optim.Adam`` instance (fully monitored)."""
    from tamelab.train import train

    tr = load_data("digits", split="train", seed=0)
    te = load_data("digits", split="test", seed=0)
    model = mlp(widths, seed=seed)
    t0 = _clock()
    train(
        model,
        tr,
        test=te,
        optimizer=torch.optim.Adam(model.parameters(), lr=lr),
        epochs=epochs,
        batch_size=batch,
        seed=seed,
    )
    return _clock() - t0


MODES = ("bare", "torch", "fit", "fit_off", "fit_eval5", "train_torch")


def one(mode, widths, batch, e1, e2):
    """One per-epoch time, measured in this (fresh) process after the same warm-up for every mode."""
    fit_time(widths, 1, batch, 1e-3, 0)
    bare_epochs(widths, 1, batch, 1e-3, 0)
    bare_epochs(widths, 1, batch, 1e-3, 0, torch_optim=True)  # torch.optim's first step imports more of torch
    if mode == "bare":
        return bare_epochs(widths, e2 - e1, batch, 1e-3, 0) / (e2 - e1)
    if mode == "torch":
        return bare_epochs(widths, e2 - e1, batch, 1e-3, 0, torch_optim=True) / (e2 - e1)
    if mode == "train_torch":
        return (train_torch_time(widths, e2, batch, 1e-3, 0) - train_torch_time(widths, e1, batch, 1e-3, 0)) / (e2 - e1)
    rec, ev, extra = {"fit": (1, 1, 0), "fit_off": (10**6, 1, 0), "fit_eval5": (1, 5, 1)}[mode]
    return (
        fit_time(widths, e2 + extra, batch, 1e-3, 0, rec, ev) - fit_time(widths, e1 + extra, batch, 1e-3, 0, rec, ev)
    ) / (e2 - e1)


def main():
    import subprocess
    import sys

    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--widths", default="64,128,128,10")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--wall", action="store_true", help="wall-clock instead of process CPU time")
    ap.add_argument("--one", choices=MODES, help=argparse.SUPPRESS)
    a = ap.parse_args()
    global _clock
    _clock = time.perf_counter if a.wall else time.process_time
    if a.threads:
        torch.set_num_threads(a.threads)
    widths = [int(w) for w in a.widths.split(",")]
    e1, e2 = (1, 3) if a.quick else (2, 12)
    if a.one:
        print(one(a.one, widths, a.batch, e1, e2))
        return
    reps = 1 if a.quick else a.repeats
    # every measurement in a fresh process, the modes in rotating order: in one long-lived process the
    # order of the measurements moved the bare loop by ~8 % (allocator and cache state)
    times: dict[str, list[float]] = {m: [] for m in MODES}
    base = [sys.executable, __file__, "--widths", a.widths, "--batch", str(a.batch), "--threads", str(a.threads)]
    base += ["--wall"] if a.wall else []
    base += ["--quick"] if a.quick else []
    for r in range(reps):
        for mode in MODES[r % len(MODES) :] + MODES[: r % len(MODES)]:
            out = subprocess.run(base + ["--one", mode], capture_output=True, text=True, check=True).stdout
            times[mode].append(float(out.strip().splitlines()[-1]))
    b, t, f, fs, f5, tt = (min(times[m]) for m in MODES)
    print(
        f"widths {widths}, batch {a.batch}, torch threads {a.threads or torch.get_num_threads()}, best of {reps} "
        f"fresh processes each, {'wall clock' if a.wall else 'process CPU time'}"
    )
    print(f"{'loop':>34} {'s/epoch':>9} {'ratio':>7}")
    print(f"{'bare (same transforms)':>34} {b:9.4f} {1.0:7.3f}")
    print(f"{'bare (torch.optim.Adam)':>34} {t:9.4f} {t / b:7.3f}")
    print(f"{'tamelab.train.fit (monitored)':>34} {f:9.4f} {f / b:7.3f}")
    print(f"{'fit, per-step records off':>34} {fs:9.4f} {fs / b:7.3f}")
    print(f"{'fit, train/test eval every 5 ep.':>34} {f5:9.4f} {f5 / b:7.3f}")
    print(
        f"{'train(model, torch.optim.Adam)':>34} {tt:9.4f} {tt / b:7.3f}   "
        f"({100 * (tt / t - 1):+.1f} % vs bare torch.optim)"
    )
    print(
        f"monitoring overhead vs bare transforms: {100 * (f / b - 1):+.1f} % (target <= 10 %); per-step records "
        f"{100 * (f - fs) / b:+.1f} %; with the full-batch train+test evaluation every 5 epochs instead of every "
        f"epoch: {100 * (f5 / b - 1):+.1f} %"
    )
    from tamelab.tame import convergence_report

    r = fit(
        {
            "widths": widths,
            "epochs": e2,
            "batch_size": a.batch,
            "optimizer": "sgd",
            "lr": 0.5,
            "schedule": "inv_t",
            "seed": 0,
        }
    )
    t0 = time.perf_counter()
    convergence_report(r, seed=0)
    print(
        f"convergence_report after training ({len(r.snapshots)} snapshots): {time.perf_counter() - t0:.3f} s "
        f"(= {(time.perf_counter() - t0) / (f * e2):.2f} x the training time)"
    )


if __name__ == "__main__":
    main()
