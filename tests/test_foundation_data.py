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


# ---------------------------------------------------------------------------------------------
# MNIST-1D: generated offline, deterministic per seed
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def offline(monkeypatch):
    """Any attempt to download, unpickle or open a socket fails the test."""
    import socket

    import mnist1d.data
    import mnist1d.utils
    import requests

    def boom(*a, **k):
        raise AssertionError("network or pickle used")

    monkeypatch.setattr(mnist1d.data, "get_dataset", boom)
    monkeypatch.setattr(mnist1d.data, "from_pickle", boom)
    monkeypatch.setattr(mnist1d.utils, "from_pickle", boom)
    monkeypatch.setattr(requests, "get", boom)
    monkeypatch.setattr(socket.socket, "connect", boom)
    from tamelab.data._mnist1d import _generate

    _generate.cache_clear()


def test_mnist1d_is_offline_deterministic_and_equals_make_dataset(offline, seed):
    import random

    from mnist1d.data import get_dataset_args, make_dataset

    from tamelab.data import mnist1d

    np.random.seed(7)
    random.seed(7)
    np_state, py_state = np.random.get_state()[1].copy(), random.getstate()
    tr = load_data("mnist1d", split="train", seed=seed, n=200)
    te = load_data("mnist1d", split="test", seed=seed, n=200)
    assert np.array_equal(np.random.get_state()[1], np_state) and random.getstate() == py_state  # restored
    assert tr.X.shape == (160, 40) and te.X.shape == (40, 40) and tr.n_classes <= 10
    assert "generator split" in tr.meta["test_source"] and tr.meta["seed"] == seed
    # the reference: the package's own construction with the same arguments and its own 80/20 split
    args = get_dataset_args()
    args.num_samples, args.seed = 200, seed
    ref = make_dataset(args)
    assert np.array_equal(tr.X, ref["x"]) and np.array_equal(tr.y, ref["y"])
    assert np.array_equal(te.X, ref["x_test"]) and np.array_equal(te.y, ref["y_test"])
    # same seed -> identical (also after clearing the cache); other seed -> different; balanced classes
    from tamelab.data._mnist1d import _generate

    _generate.cache_clear()
    again = mnist1d("all", n=200, seed=seed)
    assert np.array_equal(again.X, np.concatenate([tr.X, te.X]))
    assert np.bincount(again.y).tolist() == [20] * 10
    assert not np.array_equal(mnist1d("all", n=200, seed=seed + 1).X, again.X)
    assert abs(again.X.mean()) < 1e-12 and again.X.std() == pytest.approx(1.0, rel=1e-12)
    again.X[0, 0] = 99.0  # callers get copies: the cache is not corrupted
    assert mnist1d("all", n=200, seed=seed).X[0, 0] != 99.0


@pytest.mark.parametrize("n", [0, 15, -10, 2.5])
def test_mnist1d_bad_sizes(n):
    from tamelab.data import mnist1d

    with pytest.raises(InputError, match="n_samples.*multiple of 10"):
        mnist1d("all", n=n)


def test_mnist1d_size_guard():
    from tamelab.data import mnist1d

    with pytest.raises(InputError, match="n_samples.*min to generate"):
        mnist1d("all", n=10_000_000)


# ---------------------------------------------------------------------------------------------
# .npz with and without a test split; validation and label range
# ---------------------------------------------------------------------------------------------
def test_npz_test_split_from_file_or_seeded_and_recorded(tmp_path, seed):
    rng = np.random.default_rng(seed)
    X, y = rng.standard_normal((50, 3)), rng.integers(0, 4, 50)
    Xt, yt = rng.standard_normal((7, 3)), rng.integers(0, 4, 7)
    np.savez(tmp_path / "with.npz", X=X, y=y, X_test=Xt, y_test=yt)
    tr, te = load_data(str(tmp_path / "with.npz"), split="train"), load_data(str(tmp_path / "with.npz"), split="test")
    assert np.array_equal(tr.X, X) and np.array_equal(te.X, Xt) and np.array_equal(te.y, yt)
    assert tr.meta["test_source"] == te.meta["test_source"] == "file"
    assert load_data(str(tmp_path / "with.npz"), split="all").n == 57

    np.savez(tmp_path / "without.npz", X=X, y=y)
    p = str(tmp_path / "without.npz")
    tr, te = load_data(p, split="train", seed=seed), load_data(p, split="test", seed=seed)
    assert tr.n == 40 and te.n == 10
    assert tr.meta["test_source"] == f"seeded split (seed {seed}, test_fraction 0.2)" and tr.meta["split_seed"] == seed
    # disjoint, covering, and reproducible from the recorded seed
    rows = lambda d: {r.tobytes() for r in d.X}  # noqa: E731
    assert not rows(tr) & rows(te) and rows(tr) | rows(te) == {r.tobytes() for r in X}
    perm = np.random.default_rng(seed).permutation(50)
    assert np.array_equal(te.X, X[np.sort(perm[40:])])
    assert not np.array_equal(load_data(p, split="test", seed=seed + 1).X, te.X)
    assert load_data(p, split="all").meta["test_source"] == "none"


def test_npz_labels_of_a_billion_are_refused_with_the_count(tmp_path):
    np.savez(tmp_path / "big.npz", X=np.zeros((3, 2)), y=np.array([0, 1, 10**9]))
    with pytest.raises(InputError, match=r"labels reach 1,000,000,000.*1,000,000,001 classes.*only 3 distinct"):
        load_data(str(tmp_path / "big.npz"))
    ds = load_npz(tmp_path / "big.npz", max_classes=10**9 + 1)  # deliberately raised: accepted
    assert ds.n_classes == 10**9 + 1


@pytest.mark.parametrize(
    "arrays, match",
    [
        ({"X": np.zeros((0, 3)), "y": np.zeros(0, int)}, "empty"),
        ({"X": np.array([[np.nan, 1.0]]), "y": np.zeros(1, int)}, "NaN"),
        ({"X": np.zeros((4, 2)), "y": np.zeros(4, int), "X_test": np.zeros((2, 3)), "y_test": np.zeros(2, int)},
         "X_test samples have shape"),
        ({"X": np.zeros((4, 2)), "y": np.zeros(4, int), "X_test": np.zeros((2, 2))}, "same kind of targets"),
        ({"X": np.zeros((4, 2)), "y": np.zeros(4, int), "X_test": np.full((2, 2), np.inf), "y_test": np.zeros(2, int)},
         "NaN/inf"),
        ({"X": np.zeros((1, 2)), "y": np.zeros(1, int)}, "too few to split"),
    ],
)
def test_npz_bad_files_one_line(tmp_path, arrays, match):
    np.savez(tmp_path / "d.npz", **arrays)
    with pytest.raises(InputError, match=match):
        load_data(str(tmp_path / "d.npz"), split="train")


def test_save_npz_with_test_round_trips(tmp_path):
    tr = Dataset(np.arange(8.0).reshape(4, 2), np.array([0, 1, 0, 1]))
    te = Dataset(np.ones((2, 2)), np.array([1, 0]))
    save_npz(tr, tmp_path / "d.npz", test=te)
    back = load_data(str(tmp_path / "d.npz"), split="test")
    assert np.array_equal(back.X, te.X) and back.meta["test_source"] == "file"


# ---------------------------------------------------------------------------------------------
# image folders
# ---------------------------------------------------------------------------------------------
def _png(path, arr):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def test_image_folder_round_trip_gray_and_rgb(tmp_path, seed):
    rng = np.random.default_rng(seed)
    imgs = {}
    for cls in ("zebra", "ant"):  # labels follow sorted class names: ant = 0, zebra = 1
        for i in range(3):
            a = rng.integers(0, 256, (5, 4), dtype=np.uint8)
            _png(tmp_path / "g" / cls / f"{i}.png", a)
            imgs[(cls, i)] = a
    ds = load_data(str(tmp_path / "g"), split="all")
    assert ds.X.shape == (6, 1, 5, 4) and ds.meta["classes"] == ["ant", "zebra"]
    assert ds.y.tolist() == [0, 0, 0, 1, 1, 1]
    assert np.array_equal(ds.X[4, 0], imgs[("zebra", 1)] / 255.0)
    assert ds.d == 20 and ds.sample_shape == (1, 5, 4)
    # colour: three channels, CHW layout
    c = rng.integers(0, 256, (3, 2, 3), dtype=np.uint8)
    _png(tmp_path / "c" / "a" / "x.png", c)
    _png(tmp_path / "c" / "b" / "y.png", c[::-1].copy())
    dc = load_data(str(tmp_path / "c"), split="all")
    assert dc.X.shape == (2, 3, 3, 2) and np.array_equal(dc.X[0], c.transpose(2, 0, 1) / 255.0)
    # seeded split recorded; train/test sub-folders are used as given
    tr = load_data(str(tmp_path / "g"), split="train", seed=seed, test_fraction=0.34)
    assert tr.n == 4 and "seeded split" in tr.meta["test_source"]
    for split, cls in (("train", "ant"), ("train", "zebra"), ("test", "ant"), ("test", "zebra")):
        _png(tmp_path / "tt" / split / cls / "0.png", imgs[(cls, 0)])
    te = load_data(str(tmp_path / "tt"), split="test")
    assert te.meta["test_source"] == "folder" and te.n == 2 and np.array_equal(te.X[1, 0], imgs[("zebra", 0)] / 255.0)


def test_image_folder_refusals_and_resize(tmp_path):
    from tamelab.data import image_folder

    _png(tmp_path / "a" / "x" / "0.png", np.zeros((4, 4), np.uint8))
    _png(tmp_path / "a" / "y" / "0.png", np.full((6, 5), 255, np.uint8))
    with pytest.raises(InputError, match="differ in size.*size=\\(H, W\\)"):
        image_folder(tmp_path / "a")
    ds = image_folder(tmp_path / "a", size=(3, 2))
    assert ds.X.shape == (2, 1, 3, 2) and np.allclose(ds.X[1], 1.0) and np.allclose(ds.X[0], 0.0)
    (tmp_path / "a" / "y" / "notes.txt").write_text("hi")
    with pytest.raises(InputError, match="notes.txt is not an image file"):
        image_folder(tmp_path / "a", size=(3, 2))
    (tmp_path / "a" / "y" / "notes.txt").unlink()
    (tmp_path / "a" / "y" / ".DS_Store").write_bytes(b"\0")  # hidden files are skipped
    assert image_folder(tmp_path / "a", size=(3, 2)).n == 2
    with pytest.raises(InputError, match="GiB.*max_bytes"):
        image_folder(tmp_path / "a", size=(3, 2), max_bytes=10)
    (tmp_path / "a" / "stray.png").write_bytes(b"x")
    with pytest.raises(InputError, match="stray.png is a file directly in the image folder"):
        image_folder(tmp_path / "a")
    (tmp_path / "b" / "k").mkdir(parents=True)
    (tmp_path / "b" / "k" / "bad.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match="bad.png cannot be read as an image"):
        image_folder(tmp_path / "b")


def test_load_data_lists_the_choices():
    with pytest.raises(InputError, match="unknown data 'cifar'.*digits, mnist1d, clusters.*image folder"):
        load_data("cifar")
    with pytest.raises(InputError, match="n_samples.*fixed size"):
        load_data("digits", n=100)
    with pytest.raises(InputError, match="does not take a sample count"):
        load_data("clusters", n=100)
    assert load_data("moons", n=50, split="all").n == 50


def test_dataset_torch_on_device():
    import torch

    ds = Dataset(np.zeros((3, 2)), np.array([0, 1, 0]))
    X, y = ds.torch(torch.float64, device="cpu")
    assert X.dtype == torch.float64 and y.dtype == torch.long and X.device.type == "cpu"
    with pytest.raises(InputError, match="device"):
        ds.torch(device="nonsense")
