import pickle

import numpy as np

from sfn_workbench.training.datasets import (
    CIFAR_BICYCLE,
    CIFAR_MOTORCYCLE,
    load_cifar100,
    stratified_split,
)


def write_fake_cifar100(root, n: int = 12) -> tuple[np.ndarray, list[int]]:
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
    fine = [CIFAR_BICYCLE, CIFAR_MOTORCYCLE, 3] * (n // 3)
    # CIFAR's row layout: all red values, then green, then blue, each plane row-major.
    rows = images.transpose(0, 3, 1, 2).reshape(n, 3072)
    batch = {b"data": rows, b"fine_labels": fine, b"coarse_labels": [0] * n, b"filenames": [b"x.png"] * n}
    names = [f"class{i}".encode() for i in range(100)]
    names[CIFAR_BICYCLE], names[CIFAR_MOTORCYCLE] = b"bicycle", b"motorcycle"
    (root / "train").write_bytes(pickle.dumps(batch))
    (root / "meta").write_bytes(pickle.dumps({b"fine_label_names": names, b"coarse_label_names": []}))
    return images, fine


def test_cifar100_loader_keeps_bicycle_and_motorcycle_with_channels_last(tmp_path) -> None:
    images, fine = write_fake_cifar100(tmp_path)
    data = load_cifar100(tmp_path, "train")
    keep = [i for i, f in enumerate(fine) if f in (CIFAR_BICYCLE, CIFAR_MOTORCYCLE)]
    assert data.label_names == ["bicycle", "motorcycle"]
    assert data.images.shape == (len(keep), 32, 32, 3)
    np.testing.assert_array_equal(data.images, images[keep])
    assert data.labels.tolist() == [0 if fine[i] == CIFAR_BICYCLE else 1 for i in keep]


def test_split_is_stratified_disjoint_and_reproducible() -> None:
    labels = np.repeat(np.arange(4), 25)
    train, test = stratified_split(labels, 0.2, seed=3)
    assert set(train).isdisjoint(test) and len(train) + len(test) == 100
    assert np.bincount(labels[test]).tolist() == [5, 5, 5, 5]
    again = stratified_split(labels, 0.2, seed=3)
    assert np.array_equal(train, again[0]) and np.array_equal(test, again[1])
