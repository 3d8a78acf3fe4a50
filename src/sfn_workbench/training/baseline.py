"""Write a bundle's monitoring baseline: ``monitoring/statistics.json`` and ``constraints.json``.

The baseline describes the held-out split as the model sees it in service: predicted labels,
confidence, and each image's input brightness and contrast. Held-out rather than training
data, because confidence on the training split is inflated by the fit: the monitor would
see every real hour as a drop.

    python -m sfn_workbench.training.baseline models/digits
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from sfn_inference.adapters.litert import LiteRTImagePredictor
from sfn_inference.core.bundle import ModelBundle
from sfn_inference.core.imaging import image_to_tensor, sniff_content_type
from sfn_inference.core.messages import EncodedImage
from sfn_inference.monitoring.checks import Thresholds, constraints_document
from sfn_inference.monitoring.statistics import Observation, summarise, to_document
from sfn_workbench.training.datasets import demo_split


def image_observations(bundle: ModelBundle, images: list[bytes]) -> list[Observation]:
    predictor = LiteRTImagePredictor(bundle, num_threads=1)
    results = predictor.predict([EncodedImage(data, sniff_content_type(data[:8])) for data in images])
    observations = []
    for data, result in zip(images, results, strict=True):
        if not isinstance(result, list):
            raise result
        best = max(range(len(result)), key=result.__getitem__)
        pixels = image_to_tensor(data, bundle.preprocessing)
        observations.append(Observation(bundle.labels[best], result[best], float(pixels.mean()), float(pixels.std())))
    return observations


def write_baseline(bundle: ModelBundle, observations: list[Observation], limits: Thresholds | None = None) -> Path:
    folder = bundle.path / "monitoring"
    folder.mkdir(exist_ok=True)
    stats = summarise(observations)
    (folder / "statistics.json").write_text(json.dumps(to_document(stats), indent=2) + "\n")
    (folder / "constraints.json").write_text(
        json.dumps(constraints_document(stats, limits or Thresholds()), indent=2) + "\n"
    )
    return folder


def main(
    bundle_dir: Annotated[Path, typer.Argument(help="the image bundle (digits: its held-out demo split)")],
) -> None:
    """Write the digits bundle's baseline from its held-out split (the demo test images)."""
    bundle = ModelBundle(bundle_dir)
    with tempfile.TemporaryDirectory() as tmp:
        images = [p.read_bytes() for p in demo_split(Path(tmp))]
    folder = write_baseline(bundle, image_observations(bundle, images))
    print(f"wrote {folder}/statistics.json and constraints.json from {len(images)} held-out images")


if __name__ == "__main__":
    typer.run(main)
