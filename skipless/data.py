"""Datasets in their real file formats, normalization, augmentation and splits.

* ``fashion_mnist`` (the embedded default, works offline): idx-ubyte ``.gz`` files from the Debian
  package ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``), the Keras cache
  (``~/.keras/datasets/fashion-mnist``) or ``data_dir``. Images are zero-padded from 28x28 to 32x32.
* ``cifar10`` (the target dataset): the official pickled batches, as the ``cifar-10-batches-py``
  folder (``data_dir`` or the Keras cache) or the ``cifar-10-python.tar.gz`` archive.

Images are kept as uint8 NHWC arrays; :meth:`Dataset.normalize` maps them to the float inputs the
models see. Augmentation (random crop with 4-pixel zero padding, horizontal flip except for
Fashion-MNIST, whose garments are not mirror-symmetric in meaning) runs in a seeded tf.data pipeline.
"""

from __future__ import annotations

import gzip
import os
import pickle
import struct
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from skipless.errors import SkiplessError

DATASETS = ("fashion_mnist", "cifar10")
DEFAULT_DATASET = "fashion_mnist"
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
KERAS_CACHE = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"

FASHION_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
CIFAR_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST_BATCH = "test_batch"

FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot")
CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

# Per-channel statistics of the training images (fixed constants, so that a model's input
# normalization never depends on which subset was loaded).
NORMALIZATION = {
    "fashion_mnist": ((0.2860,), (0.3530,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}


@dataclass
class Dataset:
    name: str
    x_train: np.ndarray  # uint8, N x 32 x 32 x C
    y_train: np.ndarray  # int64, N
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...]
    source: str

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])

    @property
    def flip(self) -> bool:
        return self.name != "fashion_mnist"

    def normalize(self, images: np.ndarray) -> np.ndarray:
        mean, std = (np.asarray(v, dtype=np.float32) for v in NORMALIZATION[self.name])
        return ((images.astype(np.float32) / 255.0) - mean) / std

    def split(self, val_size: int, seed: int = 0) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """A seeded train/validation split of the training set: ((x, y) train, (x, y) validation)."""
        if not 0 <= val_size < len(self.x_train):
            raise SkiplessError(f"validation size {val_size} must be below the {len(self.x_train)} training images")
        order = np.random.default_rng(seed).permutation(len(self.x_train))
        val, train = order[:val_size], order[val_size:]
        return (self.x_train[train], self.y_train[train]), (self.x_train[val], self.y_train[val])


# ---------------------------------------------------------------- file formats


def read_idx(path: Path) -> np.ndarray:
    """Read an idx-ubyte file (gzip-compressed or not), checking magic, shape and length."""
    try:
        opener = gzip.open if str(path).endswith(".gz") else open
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise SkiplessError(f"{path}: cannot read the idx file ({e}); it is truncated or corrupt, fetch it again") from e
    if len(raw) < 4:
        raise SkiplessError(f"{path}: {len(raw)} bytes is too short for an idx file; fetch it again")
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08 or ndim not in (1, 3):
        raise SkiplessError(f"{path}: not an idx-ubyte file (magic {raw[:4].hex()}); fetch it again")
    header = 4 + 4 * ndim
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(shape))
    if len(raw) - header != expected:
        raise SkiplessError(
            f"{path}: idx header promises {expected} bytes of data for shape {shape}, file has {len(raw) - header}; "
            "it is truncated or corrupt, fetch it again"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _unpickle_cifar_batch(fobj, where: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        batch = pickle.load(fobj, encoding="bytes")
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError, AttributeError) as e:
        raise SkiplessError(f"{where}: not a readable CIFAR-10 batch ({type(e).__name__}: {e}); fetch the dataset again") from e
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise SkiplessError(f"{where}: CIFAR-10 batch has data {data.shape} and {len(labels)} labels; expected N x 3072")
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def _cifar_from_dir(folder: Path) -> tuple[np.ndarray, ...]:
    def read(name):
        path = folder / name
        try:
            with open(path, "rb") as f:
                return _unpickle_cifar_batch(f, str(path))
        except OSError as e:
            raise SkiplessError(f"{path}: cannot read ({e}); fetch the dataset again") from e

    train = [read(n) for n in CIFAR_TRAIN_BATCHES]
    x_test, y_test = read(CIFAR_TEST_BATCH)
    return np.concatenate([t[0] for t in train]), np.concatenate([t[1] for t in train]), x_test, y_test


def _cifar_from_tar(archive: Path) -> tuple[np.ndarray, ...]:
    batches = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar.getmembers():
                base = os.path.basename(member.name)
                if base in CIFAR_TRAIN_BATCHES or base == CIFAR_TEST_BATCH:
                    batches[base] = _unpickle_cifar_batch(tar.extractfile(member), f"{archive}:{member.name}")
    except (tarfile.TarError, OSError, EOFError) as e:
        raise SkiplessError(f"{archive}: cannot read the archive ({e}); it is truncated or corrupt, download it again") from e
    missing = [n for n in (*CIFAR_TRAIN_BATCHES, CIFAR_TEST_BATCH) if n not in batches]
    if missing:
        raise SkiplessError(f"{archive}: the archive lacks {', '.join(missing)}; download cifar-10-python.tar.gz again")
    x_train = np.concatenate([batches[n][0] for n in CIFAR_TRAIN_BATCHES])
    y_train = np.concatenate([batches[n][1] for n in CIFAR_TRAIN_BATCHES])
    return x_train, y_train, *batches[CIFAR_TEST_BATCH]


CIFAR_MISSING = (
    "CIFAR-10 was not found. skipless reads the official Python version of the dataset: download "
    "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz (163 MB) on a machine with internet access and "
    "either pass --data-dir pointing at that .tar.gz or at the unpacked 'cifar-10-batches-py' folder, or "
    "unpack it into the Keras cache ({cache}/cifar-10-batches-py), where "
    "tf.keras.datasets.cifar10.load_data() also puts it. Looked in: {looked}."
)

FASHION_MISSING = (
    "Fashion-MNIST was not found. On Debian/Ubuntu install it with 'sudo apt-get install dataset-fashion-mnist' "
    "(it puts the idx files in {debian}), or pass --data-dir pointing at a folder holding "
    "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and "
    "t10k-labels-idx1-ubyte.gz. Looked in: {looked}."
)


def _load_cifar10(data_dir: Path | None) -> Dataset:
    candidates = []
    if data_dir is not None:
        candidates = [data_dir, data_dir / "cifar-10-batches-py", data_dir / "cifar-10-python.tar.gz"]
    candidates += [KERAS_CACHE / "cifar-10-batches-py", KERAS_CACHE / "cifar-10-python.tar.gz"]
    for c in candidates:
        if c.is_dir() and (c / CIFAR_TEST_BATCH).exists():
            arrays, source = _cifar_from_dir(c), str(c)
            break
        if c.is_file() and c.name.endswith((".tar.gz", ".tgz")):
            arrays, source = _cifar_from_tar(c), str(c)
            break
    else:
        raise SkiplessError(CIFAR_MISSING.format(cache=KERAS_CACHE, looked=", ".join(map(str, candidates))))
    return Dataset("cifar10", *arrays, classes=CIFAR_CLASSES, source=source)


def _load_fashion_mnist(data_dir: Path | None) -> Dataset:
    candidates = [data_dir] if data_dir is not None else [DEBIAN_FASHION_MNIST, KERAS_CACHE / "fashion-mnist"]
    for folder in candidates:
        if all((folder / f).exists() for f in FASHION_FILES.values()):
            arrays = {k: read_idx(folder / f) for k, f in FASHION_FILES.items()}
            break
    else:
        raise SkiplessError(FASHION_MISSING.format(debian=DEBIAN_FASHION_MNIST, looked=", ".join(map(str, candidates))))
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or x.shape[1:] != (28, 28) or y.ndim != 1 or len(x) != len(y):
            raise SkiplessError(f"{folder}: {split} images {x.shape} and labels {y.shape} do not pair up as Fashion-MNIST")
        arrays[f"x_{split}"] = np.pad(x, ((0, 0), (2, 2), (2, 2)))[..., None]
        arrays[f"y_{split}"] = y.astype(np.int64)
    return Dataset(
        "fashion_mnist",
        arrays["x_train"],
        arrays["y_train"],
        arrays["x_test"],
        arrays["y_test"],
        classes=FASHION_CLASSES,
        source=str(folder),
    )


def load(name: str = DEFAULT_DATASET, data_dir: str | Path | None = None) -> Dataset:
    """Load a dataset by name; raises :class:`SkiplessError` with instructions when it is missing or corrupt."""
    data_dir = Path(data_dir).expanduser() if data_dir else None
    if data_dir is not None and not data_dir.exists():
        raise SkiplessError(f"--data-dir {data_dir} does not exist")
    if name == "fashion_mnist":
        return _load_fashion_mnist(data_dir)
    if name == "cifar10":
        return _load_cifar10(data_dir)
    raise SkiplessError(f"unknown dataset {name!r}: use one of {', '.join(DATASETS)}")


# ---------------------------------------------------------------- training pipeline


def edge_cases(shape, seed: int = 0) -> np.ndarray:
    """Inputs that reach the corners of the fixed-point types (normalized values, N x H x W x C): all
    zeros, saturating maxima and minima, a checkerboard of both, and random values. Real test images
    rarely saturate a requantization; these make every saturation and wrap show."""
    rng = np.random.default_rng(seed)
    checker = np.indices(shape[:2]).sum(axis=0) % 2
    checker = np.repeat((checker * 200.0 - 100.0)[..., None], shape[2], axis=2)
    return np.stack(
        [np.zeros(shape), np.full(shape, 100.0), np.full(shape, -100.0), checker, rng.uniform(-6, 6, shape), rng.normal(0, 1.5, shape)]
    ).astype(np.float32)


def augment_batch(images, seed, flip: bool, pad: int = 4):
    """Random crop with ``pad``-pixel zero padding and (optionally) a horizontal flip, per image (tf ops)."""
    import tensorflow as tf

    n, h, w = tf.shape(images)[0], images.shape[1], images.shape[2]
    padded = tf.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
    offsets = tf.random.stateless_uniform([n, 2], seed=seed, minval=0, maxval=2 * pad + 1, dtype=tf.int32)
    rows = offsets[:, 0:1] + tf.range(h)[None, :]
    cols = offsets[:, 1:2] + tf.range(w)[None, :]
    if flip:
        flips = tf.random.stateless_uniform([n, 1], seed=seed + 1, maxval=2, dtype=tf.int32)
        cols = tf.where(flips == 1, tf.reverse(cols, axis=[1]), cols)
    out = tf.gather(padded, rows, axis=1, batch_dims=1)
    return tf.gather(out, cols, axis=2, batch_dims=1)


def train_pipeline(ds: Dataset, x: np.ndarray, y: np.ndarray, batch_size: int, seed: int, epoch: int = 0, augment: bool = True):
    """A tf.data pipeline of (normalized augmented image, label) for one epoch; deterministic in (seed, epoch)."""
    import tensorflow as tf

    order = np.random.default_rng([seed, epoch]).permutation(len(x))
    xs = ds.normalize(x[order])
    pipe = tf.data.Dataset.from_tensor_slices((xs, y[order])).batch(batch_size)
    if augment:
        flip = ds.flip

        def aug(step, batch):
            images, labels = batch
            s = tf.stack([tf.constant(seed * 100003 + epoch, tf.int64), step])
            return augment_batch(images, s, flip), labels

        pipe = pipe.enumerate().map(aug, num_parallel_calls=1)
    return pipe.prefetch(2)
