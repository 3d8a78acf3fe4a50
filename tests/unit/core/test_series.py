"""The series decoder: every bad request is a named error that says what to fix; good ones become the tensor."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from sfn_inference.core.bundle import ModelBundle
from sfn_inference.core.errors import (
    BatchTooLargeError,
    EmptyBatchError,
    InvalidRequestError,
    ModelBundleError,
    NonFiniteValueError,
    NonNumericValueError,
    RaggedBatchError,
    SeriesLengthError,
)
from sfn_inference.core.series import SeriesSchema, answer, decode_series, items_of, znormalise
from support import ROOT

SCHEMA = SeriesSchema(length=5, sample_shape=(5, 1), normalise=False, max_batch=3)
ROW = [1.0, 2, -3.5, 4e3, 0.25]


def test_a_series_batch_becomes_the_models_tensor_as_nx_l_or_nx_l_x1() -> None:
    flat = decode_series([ROW, ROW[::-1]], SCHEMA)
    nested = decode_series([[[v] for v in ROW], [[v] for v in ROW[::-1]]], SCHEMA)
    assert flat.tensor.shape == (2, 5, 1) and flat.tensor.dtype == np.float32
    np.testing.assert_array_equal(flat.tensor, nested.tensor)
    np.testing.assert_array_equal(flat.tensor[0, :, 0], np.array(ROW, dtype=np.float32))
    assert flat.rows == nested.rows
    assert json.loads(flat.request_of(1)) == {"items": [ROW[::-1]]}, "each series' capture input is a request"


def test_a_normalising_schema_z_normalises_each_series_as_training_did() -> None:
    schema = SeriesSchema(length=5, sample_shape=(5,), normalise=True, max_batch=3)
    tensor = decode_series([ROW, [7, 7, 7, 7, 7]], schema).tensor
    assert tensor.shape == (2, 5)
    np.testing.assert_allclose(tensor[0], znormalise(np.array(ROW)), atol=1e-7)
    assert tensor[0].mean() == pytest.approx(0, abs=1e-6) and tensor[0].std() == pytest.approx(1, abs=1e-6)
    assert not tensor[1].any(), "a flat series becomes zeros, not NaN"


def test_znormalise_is_idempotent() -> None:
    rows = np.random.default_rng(0).normal(3, 5, size=(4, 500))
    once = znormalise(rows)
    np.testing.assert_allclose(znormalise(once), once, atol=1e-6)


@pytest.mark.parametrize(
    ("items", "error", "says"),
    [
        ([], EmptyBatchError, "at least one series"),
        ([ROW] * 4, BatchTooLargeError, "at most 3 per request: send them in 2 requests"),
        ([ROW, ROW[:4]], RaggedBatchError, "items[0] has 5 values but items[1] has 4: every series needs 5"),
        ([ROW[:4], ROW[:4]], SeriesLengthError, "each series has 4 values; the model takes exactly 5"),
        ([[*ROW, 1.0]], SeriesLengthError, "has 6 values"),
        ([[1.0, "2", 3.0, 4.0, 5.0]], NonNumericValueError, 'items[0][1] is "2", not a number'),
        ([ROW, [1.0, 2.0, True, 4.0, 5.0]], NonNumericValueError, "items[1][2] is true, not a number"),
        ([[1.0, None, 3.0, 4.0, 5.0]], NonNumericValueError, "items[0][1] is null"),
        ([[1.0, 2.0, 3.0, math.nan, 5.0]], NonFiniteValueError, "items[0][3] is nan"),
        ([[math.inf, 2.0, 3.0, 4.0, 5.0]], NonFiniteValueError, "items[0][0] is inf"),
        ([[1.0, 2.0, 3.0, 4.0, 1e39]], NonFiniteValueError, "within float32 range"),
        ([[1.0, 2.0, 3.0, 4.0, 10**400]], NonFiniteValueError, "items[0][4] is too large"),
        (
            ROW * 100,
            InvalidRequestError,
            "items[0] is a JSON number, not a list of 5 numbers (one series? wrap it",
        ),
        ("1,2,3", InvalidRequestError, '"items" is a JSON string; send a list of series'),
        ([[[1.0, 2.0]] * 5], InvalidRequestError, "items[0][0] is [1.0, 2.0]: a series is 5 numbers, or 5 one-element"),
        ([[[1.0], 2.0, [3.0], [4.0], [5.0]]], InvalidRequestError, "items[0][1] is 2.0"),
    ],
)
def test_each_bad_batch_is_a_named_error_that_says_what_to_fix(items, error, says) -> None:
    with pytest.raises(error) as raised:
        decode_series(items, SCHEMA)
    assert says in str(raised.value)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ([ROW], 'the body is a JSON array; send an object {"items": [[...], ...]}'),
        ({"item": [ROW]}, "the body has no \"items\" (its keys: 'item')"),
    ],
)
def test_a_body_without_items_is_an_invalid_request(body, says) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        items_of(body)
    assert says in str(raised.value)


def test_the_answer_is_the_seeds_one_object_for_one_series_and_a_list_for_several() -> None:
    assert answer([[0.2, 0.8]]) == {"result": {"Class": 1, "Probabilities": [0.2, 0.8]}}
    assert answer([[0.9, 0.1], [0.2, 0.8]]) == [
        {"result": {"Class": 0, "Probabilities": [0.9, 0.1]}},
        {"result": {"Class": 1, "Probabilities": [0.2, 0.8]}},
    ]


def test_the_forda_bundle_declares_its_schema() -> None:
    schema = SeriesSchema.of(ModelBundle(ROOT / "models" / "forda"), max_batch=64)
    assert schema == SeriesSchema(length=500, sample_shape=(500, 1), normalise=True, max_batch=64)
    with pytest.raises(ModelBundleError, match="is a tabular model"):
        SeriesSchema.of(ModelBundle(ROOT / "models" / "iris"), max_batch=64)
