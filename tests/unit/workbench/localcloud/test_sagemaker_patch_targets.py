"""Fail loudly when a moto upgrade changes the signatures and state the SageMaker plugin relies on."""

import inspect


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
