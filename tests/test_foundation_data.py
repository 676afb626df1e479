import numpy as np
import pytest

from tamelab import InputError
from tamelab.data import Dataset, load_data, load_npz, save_npz
from tamelab.data import gaussian_clusters, sparse_coding, spirals, teacher_student


def test_digits_shapes_and_scaling():
    ds = load_data("digits", split="all")
    assert ds.X.shape == (1797, 64) and ds.n_classes == 10
    assert ds.X.min() == 0.0 and ds.X.max() == 1.0
    tr, te = load_data("digits", split="train", seed=3), load_data("digits", split="test", seed=3)
    assert tr.n + te.n == 1797
    # seeded split is reproducible and disjoint
    assert np.array_equal(tr.X, load_data("digits", split="train", seed=3).X)
    rows = {r.tobytes() for r in tr.X}
    assert sum(r.tobytes() in rows for r in te.X) <= 10  # digits has a few duplicate images


def test_generators_are_seeded(seed):
    for name in ("clusters", "teacher", "moons", "circles", "spirals"):
        a, b = load_data(name, split="all", seed=seed), load_data(name, split="all", seed=seed)
        assert np.array_equal(a.X, b.X), name


def test_gaussian_clusters_radius_and_centring(seed):
    ds = gaussian_clusters(q=4, per_class=15, radius=0.05, seed=seed)
    means = np.array(ds.meta["means"])
    for j in range(4):
        dev = ds.X[ds.y == j] - means[j]
        assert np.allclose(dev.mean(0), 0, atol=1e-12)
        assert np.linalg.norm(dev, axis=1).max() == pytest.approx(0.05)
    assert np.array_equal(ds.Y, np.eye(4)[ds.y])


def test_sparse_coding_is_planted(seed):
    ds = sparse_coding(n=16, h=32, k=3, samples=50, seed=seed)
    A, codes = ds.meta["A"], ds.meta["codes"]
    assert np.allclose(np.linalg.norm(A, axis=0), 1)
    assert np.all((codes > 0).sum(1) == 3)
    assert np.allclose(ds.X, codes @ A.T)


def test_teacher_and_spirals_shapes():
    assert teacher_student(n=30, d=3).Y.shape == (30, 1)
    assert spirals(n=40).X.shape == (40, 2)


@pytest.mark.parametrize(
    "X, y, Y, match",
    [
        (np.zeros((0, 3)), np.zeros(0, int), None, "empty"),
        (np.zeros(3), np.zeros(3, int), None, "2-D"),
        (np.array([[np.nan, 1.0]]), np.zeros(1, int), None, "NaN"),
        (np.zeros((3, 2)), np.zeros(2, int), None, "lengths must match"),
        (np.zeros((3, 2)), np.array([0.5, 1, 2]), None, "integers"),
        (np.zeros((3, 2)), None, None, "neither"),
        (np.zeros((3, 2)), None, np.ones((2, 1)), "lengths must match"),
        (np.zeros((3, 2)), np.array([0, -1, 1]), None, ">= 0"),
    ],
)
def test_bad_data_gives_one_clear_error(X, y, Y, match):
    with pytest.raises(InputError, match=match):
        Dataset(X, y, Y)


def test_npz_roundtrip_and_errors(tmp_path):
    ds = Dataset(np.arange(6.0).reshape(3, 2), np.array([0, 1, 0]))
    p = save_npz(ds, tmp_path / "d.npz")
    back = load_npz(p)
    assert np.array_equal(back.X, ds.X) and np.array_equal(back.y, ds.y)
    np.savez(tmp_path / "bad.npz", Z=np.zeros(3))
    with pytest.raises(InputError, match="no array 'X'"):
        load_npz(tmp_path / "bad.npz")
    np.savez(tmp_path / "obj.npz", X=np.array([{"a": 1}], dtype=object), y=np.zeros(1, int))
    with pytest.raises(InputError):
        load_npz(tmp_path / "obj.npz")  # object arrays would need pickle: refused
    with pytest.raises(InputError, match="unknown data"):
        load_data("mnist")
