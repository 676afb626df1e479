"""The thread policy (tamelab._threads): one decision for torch and BLAS threads, passive OpenMP waiting."""

import os

import pytest
import torch

from tamelab import InputError
from tamelab import _threads as T


@pytest.fixture
def clean_env(monkeypatch):
    for k in (*T.THREAD_ENV, *T.PASSIVE_ENV, "TAMELAB_THREADS"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setattr(T, "_EXPORTED", set())
    n = torch.get_num_threads()
    yield monkeypatch
    torch.set_num_threads(n)


@pytest.mark.parametrize(
    "cores,load,workers,want",
    [
        (2, 0.0, 1, 2),
        (2, 7.0, 1, 1),
        (2, 0.0, 2, 1),
        (2, 1.2, 1, 1),
        (16, 0.3, 1, 16),
        (16, 0.3, 4, 4),
        (16, 8.0, 2, 4),
        (16, 30.0, 4, 1),
        (1, 0.0, 3, 1),
    ],
)
def test_plan_never_exceeds_the_free_cores(clean_env, cores, load, workers, want):
    p = T.plan_threads(workers, load=load, cores=cores)
    assert p.threads == want
    assert p.threads * workers <= max(workers, cores)  # never oversubscribed (1 thread minimum each)


def test_explicit_settings_win_and_bad_ones_are_input_errors(clean_env):
    clean_env.setenv("TAMELAB_THREADS", "3")
    assert T.plan_threads(load=9, cores=2).threads == 3 and T.plan_threads(load=9, cores=2).reason == "requested"
    assert T.plan_threads(threads=2, load=0, cores=2).threads == 2
    clean_env.setenv("TAMELAB_THREADS", "many")
    with pytest.raises(InputError, match="TAMELAB_THREADS"):
        T.plan_threads()
    clean_env.delenv("TAMELAB_THREADS")
    clean_env.setenv("OMP_NUM_THREADS", "1")  # the user's own OpenMP setting is respected
    assert T.plan_threads(load=0, cores=8).threads == 1
    with pytest.raises(InputError, match="workers"):
        T.plan_threads(0)


def test_configure_applies_torch_blas_and_the_passive_wait_policy(clean_env):
    plan = T.configure_threads(plan=T.plan_threads(load=0.0, cores=2, threads=None))
    assert torch.get_num_threads() == plan.threads == 2
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE" and os.environ["GOMP_SPINCOUNT"] == "0"
    assert os.environ["OMP_NUM_THREADS"] == "2" and T.current_plan() == plan
    # a later decision (more load) may lower what we exported ourselves
    T.configure_threads(plan=T.plan_threads(load=5.0, cores=2))
    assert torch.get_num_threads() == 1 and os.environ["OMP_NUM_THREADS"] == "1"
    from threadpoolctl import threadpool_info

    assert all(i["num_threads"] == 1 for i in threadpool_info() if i["user_api"] == "blas")
    env = T.worker_env(2, threads=None)
    assert env["OMP_WAIT_POLICY"] == "PASSIVE" and int(env["OMP_NUM_THREADS"]) >= 1


def test_the_user_wait_policy_is_kept(clean_env):
    clean_env.setenv("OMP_WAIT_POLICY", "ACTIVE")
    T.configure_threads(plan=T.plan_threads(load=0.0, cores=2))
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
