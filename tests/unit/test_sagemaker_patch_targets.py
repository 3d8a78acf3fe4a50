"""Fail loudly when a moto upgrade moves what the SageMaker plugin patches or reads."""

import inspect

import pytest

from sfn_inference.localcloud import patches, sagemaker


def test_moto_is_the_pinned_version() -> None:
    patches.check_version()


@pytest.mark.parametrize(
    ("owner", "name"), sagemaker.PATCH_TARGETS, ids=[f"{o.__name__}.{n}" for o, n in sagemaker.PATCH_TARGETS]
)
def test_every_patched_attribute_exists(owner, name: str) -> None:
    assert callable(getattr(owner, name, None)), f"{owner.__module__}.{owner.__name__}.{name} is gone"


def test_the_signatures_the_patches_call_through_to() -> None:
    from moto.sagemaker.models import SageMakerModelBackend
    from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

    assert list(inspect.signature(SageMakerModelBackend.create_endpoint).parameters) == [
        "self",
        "endpoint_name",
        "endpoint_config_name",
        "tags",
    ]
    assert "use_raw_body" in inspect.signature(SageMakerRuntimeResponse.setup_class).parameters


def test_the_moto_state_the_plugin_reads() -> None:
    from moto.s3.models import s3_backends
    from moto.sagemaker.models import FakeEndpoint, sagemaker_backends

    backend = sagemaker_backends["123456789012"]["us-east-1"]
    for attribute in ("_models", "endpoint_configs", "endpoints", "account_id", "region_name", "partition"):
        assert hasattr(backend, attribute), f"SageMakerModelBackend.{attribute} is gone"
    assert hasattr(s3_backends["123456789012"][backend.partition], "get_object")
    for attribute in ("endpoint_status", "failure_reason", "last_modified_time", "endpoint_config_name"):
        assert attribute in inspect.getsource(FakeEndpoint.__init__), f"FakeEndpoint.{attribute} is gone"
