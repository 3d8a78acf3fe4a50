"""The training scripts' pure data loaders, on tiny generated data (no TensorFlow, no downloads)."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from sfn_inference.core.series import znormalise
from sfn_workbench.training.common import label_distribution
from sfn_workbench.training.fashion import LABELS as FASHION_LABELS
from sfn_workbench.training.fashion import load_fashion_mnist, parse_idx, read_idx
from sfn_workbench.training.forda import LABELS as FORDA_LABELS
from sfn_workbench.training.forda import ucr_labels_to_index
from sfn_workbench.training.iris import reference_rows


def idx_bytes(array: np.ndarray, type_code: int) -> bytes:
    header = struct.pack(">BBBB", 0, 0, type_code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def test_parse_idx_reads_uint8_images_plain_and_gzipped():
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    raw = idx_bytes(images, 0x08)
    for data in (raw, gzip.compress(raw)):
        parsed = parse_idx(data)
        assert parsed.dtype == np.uint8
        np.testing.assert_array_equal(parsed, images)


def test_parse_idx_reads_big_endian_types_in_native_order():
    values = np.array([1, -2, 70000], dtype=">i4")
    parsed = parse_idx(idx_bytes(values, 0x0C))
    assert parsed.dtype == np.dtype("int32")
    assert parsed.dtype.isnative
    assert parsed.tolist() == [1, -2, 70000]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x89PNG\r\n\x1a\n", "not an idx file"),
        (b"\x00\x00\x07\x01", "not an idx file"),
        (b"\x00\x00\x08\x03\x00\x00", "header is truncated"),
        (idx_bytes(np.zeros((2, 2), np.uint8), 0x08)[:-1], "body has 3 bytes"),
    ],
)
def test_parse_idx_refuses_malformed_files(data, message):
    with pytest.raises(ValueError, match=message):
        parse_idx(data)


def test_load_fashion_mnist_pairs_images_with_labels(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = np.array([9, 0, 3, 3, 7], dtype=np.uint8)
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images, 0x08)))
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels, 0x08)))
    got_images, got_labels = load_fashion_mnist(tmp_path, "t10k")
    np.testing.assert_array_equal(got_images, images)
    assert got_labels.tolist() == [9, 0, 3, 3, 7]
    assert [FASHION_LABELS[i] for i in got_labels] == ["ankle-boot", "t-shirt", "dress", "dress", "sneaker"]
    np.testing.assert_array_equal(read_idx(tmp_path / "t10k-labels-idx1-ubyte.gz"), labels)


def test_load_fashion_mnist_refuses_mismatched_counts(tmp_path):
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(idx_bytes(np.zeros((3, 28, 28), np.uint8), 0x08))
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(idx_bytes(np.zeros(2, np.uint8), 0x08))
    with pytest.raises(ValueError, match="do not match labels"):
        load_fashion_mnist(tmp_path, "train")


def test_label_distribution_covers_every_class_in_order():
    assert label_distribution(np.array([0, 2, 2, 2]), ["a", "b", "c"]) == {"a": 0.25, "b": 0.0, "c": 0.75}


def test_ucr_labels_map_minus_one_and_one_to_class_indices():
    index = ucr_labels_to_index(np.array([-1.0, 1.0, 1.0, -1.0]))
    assert index.tolist() == [0, 1, 1, 0]
    assert [FORDA_LABELS[i] for i in index] == ["0", "1", "1", "0"]


def test_ucr_labels_refuse_other_classes():
    with pytest.raises(ValueError, match=r"unexpected UCR classes \[0.0, 2.0\]"):
        ucr_labels_to_index(np.array([-1.0, 0.0, 2.0, 1.0]))


def test_znormalise_gives_mean_zero_unit_population_std_and_is_idempotent():
    rows = np.array([[1.0, 2.0, 3.0, 4.0], [10.0, -10.0, 10.0, -10.0], [5.0, 5.0, 5.0, 5.0]])
    z = znormalise(rows)
    assert z.dtype == np.float32
    np.testing.assert_allclose(z[:2].mean(axis=1), 0.0, atol=1e-7)
    np.testing.assert_allclose(z[:2].std(axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(z[2], 0.0)  # a flat row has nothing to scale
    np.testing.assert_allclose(znormalise(z), z, atol=1e-6)


def test_znormalise_rescales_sample_std_rows_like_ucr_publishes_them():
    row = np.random.default_rng(0).normal(size=500)
    published = (row - row.mean()) / row.std(ddof=1)
    np.testing.assert_allclose(znormalise(published[None])[0], published * np.sqrt(500 / 499), rtol=1e-5)


def test_iris_reference_rows_name_labels_and_keep_features():
    rows = reference_rows(np.array([[5.1, 3.5, 1.4, 0.2]]), np.array([0]), np.array([2]), np.array([[0.1, 0.2, 0.7]]))
    assert rows == [
        {
            "features": [5.1, 3.5, 1.4, 0.2],
            "label": "setosa",
            "sklearn_label": "virginica",
            "sklearn_probabilities": [0.1, 0.2, 0.7],
        }
    ]
