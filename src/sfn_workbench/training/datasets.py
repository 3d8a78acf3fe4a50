"""Training data that needs no download: scikit-learn's bundled digits, or CIFAR-100 on disk.

Both become small RGB PNGs on disk, so that training reads its inputs through the
same decode-and-preprocess path (:func:`sfn_inference.core.imaging.image_to_tensor`)
that serves them: no train/serve skew by construction.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

#: Side of the PNGs written for the digits set: CIFAR's 32 x 32, so one model shape fits both.
IMAGE_SIDE = 32
#: CIFAR-100 fine labels of the original "Scones Unlimited" project.
CIFAR_BICYCLE, CIFAR_MOTORCYCLE = 8, 48


@dataclass(frozen=True)
class LabelledImages:
    images: np.ndarray  # (N, H, W, 3) uint8
    labels: np.ndarray  # (N,) int, an index into label_names
    label_names: list[str]


def load_digits() -> LabelledImages:
    """The 1,797 8x8 digits shipped with scikit-learn, upscaled to 32x32 RGB."""
    from sklearn.datasets import load_digits as sk_load_digits  # noqa: PLC0415

    digits = sk_load_digits()
    gray = (digits.images * (255.0 / 16.0)).round().astype(np.uint8)
    upscaled = np.stack(
        [np.asarray(Image.fromarray(g).resize((IMAGE_SIDE, IMAGE_SIDE), Image.Resampling.BILINEAR)) for g in gray]
    )
    rgb = np.repeat(upscaled[..., None], 3, axis=-1)
    return LabelledImages(rgb, digits.target.astype(int), [str(d) for d in range(10)])


def load_cifar100(
    root: Path, split: str = "train", classes: Sequence[int] = (CIFAR_BICYCLE, CIFAR_MOTORCYCLE)
) -> LabelledImages:
    """Read CIFAR-100's python-pickle format (``root/{train,test,meta}``), keeping ``classes``."""
    with (root / split).open("rb") as f:
        batch = pickle.load(f, encoding="bytes")  # noqa: S301 - the user's own data set on disk
    with (root / "meta").open("rb") as f:
        names = [n.decode() for n in pickle.load(f, encoding="bytes")[b"fine_label_names"]]  # noqa: S301
    fine = np.asarray(batch[b"fine_labels"])
    keep = np.isin(fine, classes)
    # Rows are 3072 bytes: the red plane, then green, then blue, each 32x32 row-major.
    images = np.asarray(batch[b"data"], dtype=np.uint8)[keep].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    remap = {c: i for i, c in enumerate(classes)}
    return LabelledImages(images, np.asarray([remap[c] for c in fine[keep]]), [names[c] for c in classes])


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a reproducible stratified train/test split."""
    rng = np.random.default_rng(seed)
    train: list[int] = []
    test: list[int] = []
    for label in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == label))
        n_test = max(1, round(len(idx) * test_fraction))
        test.extend(idx[:n_test])
        train.extend(idx[n_test:])
    return np.sort(np.asarray(train)), np.sort(np.asarray(test))


def write_pngs(data: LabelledImages, indices: np.ndarray, out: Path) -> list[Path]:
    """Write ``out/<label>/<index>.png`` for each index; returns the paths in order."""
    paths = []
    for i in indices:
        path = out / data.label_names[data.labels[i]] / f"{int(i):05d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(data.images[i]).save(path, optimize=True)
        paths.append(path)
    return paths


def demo_split(out: Path, split: str = "test", seed: int = 0, test_fraction: float = 0.2) -> list[Path]:
    """The digits split the demo bundle was trained on, written as PNGs (the demo uploads these)."""
    data = load_digits()
    train, test = stratified_split(data.labels, test_fraction, seed)
    return write_pngs(data, test if split == "test" else train, out)
