"""The tabular decoder: a record as JSON or query strings, named errors for everything else."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sfn_inference.core.bundle import ModelBundle
from sfn_inference.core.errors import (
    InvalidRequestError,
    MissingFeatureError,
    ModelBundleError,
    NonFiniteValueError,
    NonNumericValueError,
    UnknownFeatureError,
)
from sfn_inference.core.tabular import TabularSchema, decode_record
from support import ROOT

SCHEMA = TabularSchema(("sl", "sw", "pl", "pw"))
SEED = {"sl": 6.9, "sw": 3.1, "pl": 5.1, "pw": 2.3}


def test_the_seeds_record_as_json_numbers_or_as_query_strings_gives_the_same_tensor() -> None:
    as_json = decode_record(SEED, SCHEMA)
    as_query = decode_record({"pw": "2.3", "pl": " 5.1", "sw": "3.1", "sl": "6.9"}, SCHEMA)
    assert as_json.tensor.shape == (1, 4) and as_json.tensor.dtype == np.float32
    np.testing.assert_array_equal(as_json.tensor, as_query.tensor)
    np.testing.assert_array_equal(as_json.tensor[0], np.array([6.9, 3.1, 5.1, 2.3], dtype=np.float32))
    assert json.loads(as_query.request()) == SEED, "the capture input is the record, in feature order"
    assert decode_record({"sl": 7, "sw": "3", "pl": "+5.", "pw": ".5e1"}, SCHEMA).values == {
        "sl": 7.0,
        "sw": 3.0,
        "pl": 5.0,
        "pw": 5.0,
    }


@pytest.mark.parametrize(
    ("record", "error", "says"),
    [
        ({"sl": 6.9, "sw": 3.1, "pl": 5.1}, MissingFeatureError, "missing pw: the model takes exactly sl, sw, pl, pw"),
        ({}, MissingFeatureError, "missing sl, sw, pl, pw"),
        ({**SEED, "colour": "blue"}, UnknownFeatureError, "unknown feature 'colour': the model takes exactly"),
        ({**SEED, "sl": "abc"}, NonNumericValueError, 'sl is "abc", not a number'),
        ({**SEED, "sw": "1_000"}, NonNumericValueError, "sw is"),
        ({**SEED, "pl": True}, NonNumericValueError, "pl is true, not a number"),
        ({**SEED, "pl": None}, NonNumericValueError, "pl is null"),
        ({**SEED, "pw": [2.3]}, NonNumericValueError, "pw is [2.3]"),
        ({**SEED, "sl": "6.9,7.0"}, NonNumericValueError, "sl is"),
        ({**SEED, "sl": "NaN"}, NonFiniteValueError, "finite number"),
        ({**SEED, "sl": float("inf")}, NonFiniteValueError, "finite number"),
        ({**SEED, "sl": "1e39"}, NonFiniteValueError, "float32 range"),
        ([6.9, 3.1, 5.1, 2.3], InvalidRequestError, 'send {"sl": 1.0, "sw": 1.0, "pl": 1.0, "pw": 1.0}'),
    ],
)
def test_each_bad_record_is_a_named_error_that_says_what_to_fix(record, error, says) -> None:
    with pytest.raises(error) as raised:
        decode_record(record, SCHEMA)
    assert says in str(raised.value)


def test_the_iris_bundle_declares_its_features() -> None:
    assert TabularSchema.of(ModelBundle(ROOT / "models" / "iris")) == SCHEMA
    with pytest.raises(ModelBundleError, match="is a series model"):
        TabularSchema.of(ModelBundle(ROOT / "models" / "forda"))
