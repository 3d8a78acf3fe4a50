"""The executions view names the key of any execution input, and survives inputs that are not objects."""

from __future__ import annotations

import json

import pytest

from sfn_workbench.localcloud.executions import _input_key
from support import load_event


@pytest.mark.parametrize("raw", ['"just a string"', "[1, 2]", "null", "42", "not json"])
def test_inputs_that_are_not_objects_have_no_key(raw: str) -> None:
    assert _input_key(raw) is None


def test_the_key_of_a_test_case_and_of_an_eventbridge_event() -> None:
    assert _input_key(json.dumps({"s3_bucket": "b", "s3_key": "test/7/1.png"})) == "test/7/1.png"
    event = load_event("eventbridge_object_created")
    assert _input_key(json.dumps(event)) == event["detail"]["object"]["key"]
