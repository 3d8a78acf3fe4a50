import pytest

from sfn_inference.core.errors import ConfigError, InvalidEventError, LowConfidenceError
from sfn_inference.core.settings import FilterConfig
from support import load_event, load_handler


@pytest.fixture
def filter_app():
    return load_handler("filter")


def test_low_confidence_raises_a_named_error_with_label_confidence_and_threshold(filter_app, context) -> None:
    with pytest.raises(LowConfidenceError) as info:
        filter_app.lambda_handler(load_event("classified_low_confidence"), context)
    assert type(info.value).__name__ == "LowConfidenceError"
    assert str(info.value) == "confidence 0.5200 for label '0' is below the threshold 0.9300"
    assert (info.value.label, info.value.confidence, info.value.threshold) == ("0", 0.52, 0.93)


def test_confident_events_pass_through_unchanged(filter_app, context) -> None:
    event = {**load_event("classified_low_confidence"), "confidence": 0.93, "extra": {"kept": True}}
    assert filter_app.lambda_handler(event, context) is event


def test_threshold_from_configuration(context) -> None:
    filter_app = load_handler("filter", env={"CONFIDENCE_THRESHOLD": "0.5"})
    assert filter_app.lambda_handler(load_event("classified_low_confidence"), context)["label"] == "0"


def test_input_field_overrides_the_threshold(filter_app, context) -> None:
    event = {**load_event("classified_low_confidence"), "confidence_threshold": 0.5}
    assert filter_app.lambda_handler(event, context) is event
    with pytest.raises(LowConfidenceError, match=r"threshold 0\.9900"):
        filter_app.lambda_handler({**event, "confidence_threshold": 0.99, "confidence": 0.98}, context)


def test_default_threshold_is_093() -> None:
    assert FilterConfig.from_env({}).threshold == 0.93


@pytest.mark.parametrize("value", ["high", "1.5", "0"])
def test_bad_threshold_configuration_is_a_config_error(value: str) -> None:
    with pytest.raises(ConfigError, match="CONFIDENCE_THRESHOLD"):
        FilterConfig.from_env({"CONFIDENCE_THRESHOLD": value})


@pytest.mark.parametrize(
    "event", [{}, {"label": "0"}, {**load_event("classified_low_confidence"), "confidence": "high"}]
)
def test_bad_events_are_invalid_event_errors(filter_app, context, event) -> None:
    with pytest.raises(InvalidEventError):
        filter_app.lambda_handler(event, context)
