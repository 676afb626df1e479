"""Shared test configuration.

* ``seed`` fixture: rotates over 0–99 (``TAMELAB_TEST_SEED`` overrides; CI
  derives it from the date), so seeded tests must pass for any seed.
* matplotlib uses Agg; progress bars are silenced.
"""

from __future__ import annotations

import datetime
import os

import matplotlib
import pytest

matplotlib.use("Agg")
os.environ.setdefault("TAMELAB_QUIET", "1")


@pytest.fixture(autouse=True, scope="session")
def _default_runs_outside_the_working_tree(tmp_path_factory):
    """Commands run without --out write their default run directory under a temporary $TAMELAB_RUNS."""
    old = os.environ.get("TAMELAB_RUNS")
    os.environ["TAMELAB_RUNS"] = str(tmp_path_factory.mktemp("runs"))
    yield
    if old is None:
        os.environ.pop("TAMELAB_RUNS", None)
    else:
        os.environ["TAMELAB_RUNS"] = old


def _rotating_seed() -> int:
    if "TAMELAB_TEST_SEED" in os.environ:
        return int(os.environ["TAMELAB_TEST_SEED"]) % 100
    return datetime.date.today().toordinal() % 100


SEED = _rotating_seed()


def pytest_report_header(config):
    return f"tamelab test seed: {SEED} (set TAMELAB_TEST_SEED to reproduce)"


@pytest.fixture
def seed() -> int:
    return SEED


def pytest_collection_modifyitems(config, items):
    # slow tests run only when asked for with -m (the default suite stays < ~20 min)
    if config.getoption("-m"):
        return
    skip = pytest.mark.skip(reason="slow: run with -m slow (or 'make test-all')")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Latency-bound small-kernel tests: one intra-op thread avoids OpenMP contention on a shared 2-core
    runner (92 s -> 7 s measured for the tame tests); the previous setting is restored afterwards."""
    from tamelab._numerics import one_thread

    with one_thread():
        yield
