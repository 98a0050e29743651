"""Dataset loaders on fixtures written in the real file formats, corrupt input, augmentation, splits."""

import gzip
import io
import pickle
import struct
import tarfile

import numpy as np
import pytest

from skipless import data
from skipless.errors import SkiplessError


def write_idx(path, array: np.ndarray, compress=True):
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    (gzip.open if compress else open)(path, "wb").write(payload)


def write_fashion(folder, n_train=12, n_test=6, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {
        "x_train": rng.integers(0, 256, (n_train, 28, 28)),
        "y_train": rng.integers(0, 10, n_train),
        "x_test": rng.integers(0, 256, (n_test, 28, 28)),
        "y_test": rng.integers(0, 10, n_test),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for key, name in data.FASHION_FILES.items():
        write_idx(folder / name, arrays[key])
    return arrays


def cifar_batch(n, seed):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    flat = images.transpose(0, 3, 1, 2).reshape(n, 3072)  # the official layout: R plane, G plane, B plane
    return images, {b"batch_label": b"fixture", b"labels": list(rng.integers(0, 10, n)), b"data": flat}


def write_cifar(folder, n=4):
    folder.mkdir(parents=True)
    images = {}
    for i, name in enumerate((*data.CIFAR_TRAIN_BATCHES, data.CIFAR_TEST_BATCH)):
        images[name], batch = cifar_batch(n, i)
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    return images


def test_fashion_mnist_idx_gz_is_read_and_padded(tmp_path):
    arrays = write_fashion(tmp_path / "fm")
    ds = data.load("fashion_mnist", tmp_path / "fm")
    assert ds.x_train.shape == (12, 32, 32, 1) and ds.x_test.shape == (6, 32, 32, 1)
    np.testing.assert_array_equal(ds.x_train[:, 2:30, 2:30, 0], arrays["x_train"])
    assert ds.x_train[:, :2].max() == 0 and ds.x_train[:, 30:].max() == 0
    np.testing.assert_array_equal(ds.y_test, arrays["y_test"])
    assert not ds.flip


def test_truncated_idx_gz_is_a_clear_error(tmp_path):
    write_fashion(tmp_path / "fm")
    path = tmp_path / "fm" / data.FASHION_FILES["x_train"]
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(SkiplessError, match="truncated or corrupt"):
        data.load("fashion_mnist", tmp_path / "fm")


def test_idx_with_short_payload_is_a_clear_error(tmp_path):
    write_fashion(tmp_path / "fm")
    path = tmp_path / "fm" / data.FASHION_FILES["x_test"]
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:-100]))
    with pytest.raises(SkiplessError, match="promises"):
        data.load("fashion_mnist", tmp_path / "fm")


def test_non_idx_file_is_a_clear_error(tmp_path):
    write_fashion(tmp_path / "fm")
    (tmp_path / "fm" / data.FASHION_FILES["y_train"]).write_bytes(gzip.compress(b"<html>not found</html>"))
    with pytest.raises(SkiplessError, match="not an idx-ubyte file"):
        data.load("fashion_mnist", tmp_path / "fm")


def test_missing_fashion_mnist_says_how_to_install(tmp_path):
    with pytest.raises(SkiplessError, match="apt-get install dataset-fashion-mnist"):
        data.load("fashion_mnist", tmp_path)


def test_cifar_batches_folder_in_official_layout(tmp_path):
    images = write_cifar(tmp_path / "cifar-10-batches-py")
    for where in (tmp_path / "cifar-10-batches-py", tmp_path):  # the folder itself, or its parent
        ds = data.load("cifar10", where)
        assert ds.x_train.shape == (20, 32, 32, 3) and ds.x_test.shape == (4, 32, 32, 3)
        np.testing.assert_array_equal(ds.x_train[:4], images["data_batch_1"])
        np.testing.assert_array_equal(ds.x_test, images["test_batch"])
        assert ds.flip


def test_cifar_tar_gz_archive(tmp_path):
    images = write_cifar(tmp_path / "cifar-10-batches-py")
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    ds = data.load("cifar10", archive)
    np.testing.assert_array_equal(ds.x_train[-4:], images["data_batch_5"])


def test_truncated_cifar_archive_is_a_clear_error(tmp_path):
    write_cifar(tmp_path / "src")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(tmp_path / "src", arcname="cifar-10-batches-py")
    archive = tmp_path / "cifar-10-python.tar.gz"
    archive.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(SkiplessError, match="truncated or corrupt"):
        data.load("cifar10", archive)


def test_corrupt_cifar_pickle_is_a_clear_error(tmp_path):
    write_cifar(tmp_path / "cifar-10-batches-py")
    path = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(SkiplessError, match="data_batch_3.*fetch the dataset again"):
        data.load("cifar10", tmp_path)


def test_missing_cifar_explains_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "KERAS_CACHE", tmp_path / "cache")
    with pytest.raises(SkiplessError, match="cifar-10-python.tar.gz") as e:
        data.load("cifar10", tmp_path)
    assert "--data-dir" in str(e.value)


def test_unknown_dataset_and_missing_dir():
    with pytest.raises(SkiplessError, match="unknown dataset"):
        data.load("imagenet")
    with pytest.raises(SkiplessError, match="does not exist"):
        data.load("fashion_mnist", "/nonexistent/folder")


def test_split_is_seeded_and_disjoint(tmp_path):
    write_fashion(tmp_path / "fm", n_train=50)
    ds = data.load("fashion_mnist", tmp_path / "fm")
    (xa, _), (va, _) = ds.split(10, seed=3)
    (xb, _), (vb, _) = ds.split(10, seed=3)
    (_, _), (vc, _) = ds.split(10, seed=4)
    np.testing.assert_array_equal(va, vb)
    assert len(xa) == 40 and len(va) == 10
    assert not np.array_equal(va, vc)


def test_augmentation_is_a_padded_crop_and_deterministic():
    import tensorflow as tf

    images = tf.constant(np.arange(2 * 8 * 8, dtype=np.float32).reshape(2, 8, 8, 1) + 1)
    seed = tf.constant([7, 1], tf.int64)
    a = data.augment_batch(images, seed, flip=False, pad=2).numpy()
    b = data.augment_batch(images, seed, flip=False, pad=2).numpy()
    np.testing.assert_array_equal(a, b)
    assert a.shape == (2, 8, 8, 1)
    padded = np.pad(images.numpy(), ((0, 0), (2, 2), (2, 2), (0, 0)))
    for i in range(2):  # every output is some 8x8 window of the zero-padded image
        windows = [padded[i, r : r + 8, c : c + 8] for r in range(5) for c in range(5)]
        assert any(np.array_equal(a[i], w) for w in windows)


def test_flip_mirrors_some_images():
    import tensorflow as tf

    images = tf.constant(np.random.default_rng(0).normal(size=(64, 8, 8, 1)).astype(np.float32))
    out = data.augment_batch(images, tf.constant([1, 2], tf.int64), flip=True, pad=0).numpy()
    flipped = [np.array_equal(out[i], images.numpy()[i, :, ::-1]) for i in range(64)]
    same = [np.array_equal(out[i], images.numpy()[i]) for i in range(64)]
    assert all(f or s for f, s in zip(flipped, same, strict=True)) and 10 < sum(flipped) < 54


def test_embedded_dataset_is_the_real_fashion_mnist(dataset):
    if dataset.name != "fashion_mnist":
        pytest.skip("checks the embedded default dataset")
    assert dataset.x_train.shape == (60000, 32, 32, 1) and dataset.x_test.shape == (10000, 32, 32, 1)
    assert np.bincount(dataset.y_test).tolist() == [1000] * 10
    x = dataset.normalize(dataset.x_test[:1000])
    assert x.dtype == np.float32 and -1 < x.min() < 0 and 2 < x.max() < 3
