"""Batch mode's pure core: every key ends as exactly one row, whatever the object holds."""

import json

import pytest

from sfn_inference.adapters.litert import LiteRTImagePredictor
from sfn_inference.adapters.memory import InMemoryObjectStore
from sfn_inference.core.bundle import ModelBundle
from sfn_inference.core.messages import MAX_INLINE_BYTES, BatchEvent, ResultRow
from sfn_inference.core.ports import ObjectInfo
from sfn_inference.core.report import ReportRequest, rows_from_result_files, summarise_rows, write_report
from sfn_inference.core.stages import classify_batch, filter_batch, serialize_batch
from support import BUNDLE_DIR, load_handler, png_image

BUCKET = "b"


@pytest.fixture(scope="module")
def predictor() -> LiteRTImagePredictor:
    return LiteRTImagePredictor(ModelBundle(BUNDLE_DIR), num_threads=1)


@pytest.fixture
def store(reference_pngs) -> InMemoryObjectStore:
    store = InMemoryObjectStore()
    objects = {
        "batch/7.png": reference_pngs["7_00017.png"],
        "batch/blend.png": reference_pngs["low_confidence.png"],
        "batch/notes.txt": b"not an image",
        "batch/empty.png": b"",
        "batch/truncated.png": reference_pngs["3_00023.png"][:100],
        "batch/café menu (2).png": reference_pngs["0_00048.png"],
    }
    for key, body in objects.items():
        store.put(BUCKET, key, body, "image/png")
    return store


def listing(store: InMemoryObjectStore, extra: tuple[str, ...] = ()) -> list[dict[str, object]]:
    """What the ItemReader's listObjectsV2 gives: each key with its size (a listed key gone since has one too)."""
    sizes = {k: len(body) for (_, k), (body, _) in store.objects.items()}
    return [{"Key": k, "Etag": '"abc"', "Size": sizes.get(k, 1)} for k in [*sizes, *extra]]


def test_the_listing_stands_in_for_the_head(store: InMemoryObjectStore) -> None:
    """The ItemReader already gave each key's size: the batch does not HEAD what it listed."""
    heads: list[str] = []
    original = store.head

    def counted_head(bucket: str, key: str) -> ObjectInfo:
        heads.append(key)
        return original(bucket, key)

    store.head = counted_head  # type: ignore[method-assign]
    serialize_batch(BatchEvent(mode="batch", bucket=BUCKET, items=listing(store)), store)
    assert heads == []


def run_child(store, predictor, items, threshold: float = 0.93) -> list[ResultRow]:
    """The child workflow's three steps, as the Distributed Map runs them."""
    event = BatchEvent(mode="batch", bucket=BUCKET, items=items)
    event = BatchEvent(mode="batch", bucket=BUCKET, items=serialize_batch(event, store))
    event = BatchEvent(mode="batch", bucket=BUCKET, items=classify_batch(event, store, predictor))
    return [ResultRow.model_validate(r) for r in filter_batch(event, threshold)]


def test_every_key_gets_exactly_one_right_outcome(store, predictor) -> None:
    items = listing(store, extra=("batch/vanished.png",))
    rows = {r.key: r for r in run_child(store, predictor, items)}
    assert sorted(rows) == sorted(str(i["Key"]) for i in items)
    assert (rows["batch/7.png"].outcome, rows["batch/7.png"].label) == ("confident", "7")
    assert rows["batch/café menu (2).png"].label == "0"
    assert rows["batch/blend.png"].outcome == "low_confidence"
    assert (rows["batch/blend.png"].confidence or 1.0) < 0.93
    errors = {k: r.error for k, r in rows.items() if r.outcome == "error"}
    assert errors == {
        "batch/notes.txt": "NotAnImageError",
        "batch/empty.png": "EmptyObjectError",
        "batch/truncated.png": "CorruptImageError",
        "batch/vanished.png": "ObjectNotFoundError",
    }
    assert all(r.etag == "abc" for r in rows.values())


def test_one_model_invocation_per_batch(store, predictor, monkeypatch) -> None:
    calls = []
    original = predictor.model.run

    def counting(batch):
        calls.append(len(batch))
        return original(batch)

    monkeypatch.setattr(predictor.model, "run", counting)
    run_child(store, predictor, listing(store))
    assert calls == [2 + 1]  # 7, blend and the café image decode; the rest are error rows before the model


def test_batch_labels_match_the_single_image_path(predictor, reference_pngs) -> None:
    store = InMemoryObjectStore()
    for name, data in reference_pngs.items():
        store.put(BUCKET, name, data, "image/png")
    rows = run_child(store, predictor, listing(store), threshold=0.5)
    single = {name: predictor.predict([png_image(data)])[0] for name, data in reference_pngs.items()}
    for row in rows:
        assert row.confidence == pytest.approx(max(single[row.key]), abs=1e-6)
        assert row.label == predictor.labels[single[row.key].index(max(single[row.key]))]


def test_a_batch_stays_under_the_state_limit_by_passing_big_items_by_reference(reference_pngs) -> None:
    store = InMemoryObjectStore()
    image = reference_pngs["7_00017.png"]
    padded = image[:-12] + b"\0\0\0\0zPAD" + b"" + image[-12:]  # still a PNG header; size is what matters
    big = padded + b"\0" * (MAX_INLINE_BYTES // 2 - len(padded))
    for i in range(4):
        store.put(BUCKET, f"big/{i}.png", big, "image/png")
    items = serialize_batch(BatchEvent(mode="batch", bucket=BUCKET, items=listing(store)), store)
    assert [i["transport"] for i in items].count("inline") == 1
    assert len(json.dumps(items)) < 262_144


def test_the_batch_handlers_round_trip(store, context, monkeypatch) -> None:
    monkeypatch.setenv("MODEL_DIR", str(BUNDLE_DIR))
    serialize, classify = load_handler("serialize", store=store), load_handler("classify", store=store)
    filter_app = load_handler("filter")
    event = {"mode": "batch", "bucket": BUCKET, "items": listing(store)}
    event = serialize.lambda_handler(event, context)
    event = classify.lambda_handler(event, context)
    assert all("image_data" not in i for i in event["items"]), "classified items leave the bytes behind"
    rows = filter_app.lambda_handler(event, context)["rows"]
    assert len(rows) == len(listing(store))


def test_failed_children_give_every_key_of_their_batch_an_error_row() -> None:
    succeeded = {
        "Status": "SUCCEEDED",
        "Output": json.dumps({"rows": [{"key": "a.png", "outcome": "confident", "label": "1", "confidence": 0.99}]}),
    }
    failed = {
        "Status": "FAILED",
        "Input": json.dumps({"Items": [{"Key": "b.png", "Etag": '"e1"'}, {"Key": "c.png"}]}),
        "Error": "Sandbox.Timedout",
        "Cause": "Task timed out after 30.00 seconds",
    }
    rows = rows_from_result_files([succeeded, failed])
    assert [(r.key, r.outcome, r.error) for r in rows] == [
        ("a.png", "confident", None),
        ("b.png", "error", "Sandbox.Timedout"),
        ("c.png", "error", "Sandbox.Timedout"),
    ]
    assert summarise_rows(rows)["outcomes"] == {"confident": 1, "low_confidence": 0, "error": 2}


def test_the_report_writes_items_and_summary() -> None:
    store = InMemoryObjectStore()
    result = [{"Status": "SUCCEEDED", "Output": json.dumps({"rows": [{"key": "x.png", "outcome": "low_confidence"}]})}]
    store.put(BUCKET, "results/run/m1/SUCCEEDED_0.json", json.dumps(result).encode(), "application/json")
    manifest = {"ResultFiles": {"SUCCEEDED": [{"Key": "results/run/m1/SUCCEEDED_0.json"}], "FAILED": []}}
    store.put(BUCKET, "results/run/m1/manifest.json", json.dumps(manifest).encode(), "application/json")
    request = ReportRequest.model_validate(
        {
            "bucket": BUCKET,
            "prefix": "batch/",
            "results_prefix": "results/run/",
            "map": {"ResultWriterDetails": {"Bucket": BUCKET, "Key": "results/run/m1/manifest.json"}},
        }
    )
    summary = write_report(request, store)
    assert summary["outcomes"]["low_confidence"] == 1 and summary["items"] == 1
    lines = store.get(BUCKET, "results/run/items.jsonl").decode().splitlines()
    assert [json.loads(line)["key"] for line in lines] == ["x.png"]
    assert json.loads(store.get(BUCKET, "results/run/summary.json"))["items"] == 1


def test_a_listed_item_gives_its_etag_in_either_spelling() -> None:
    from sfn_inference.core.messages import ListedObject

    assert ListedObject.model_validate({"Key": "k", "Etag": '"a1"'}).etag == "a1"  # Step Functions' item
    assert ListedObject.model_validate({"Key": "k", "ETag": '"a1"'}).etag == "a1"  # the S3 API's
