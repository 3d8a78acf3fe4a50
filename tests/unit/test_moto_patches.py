"""Fail loudly when a moto upgrade moves what the local cloud patches."""

import pytest

from sfn_inference.localcloud import patches


def test_moto_is_the_version_the_patches_target() -> None:
    patches.check_version()


@pytest.mark.parametrize(
    ("module", "owner", "attribute"),
    [
        ("moto.awslambda.models", "LambdaFunction", "invoke"),
        ("moto.events.models", "Rule", "send_to_targets"),
        ("moto.s3.notifications", None, "_send_event_bridge_message"),
        ("moto.stepfunctions.parser.models", "StepFunctionsParserBackend", "start_execution"),
        ("moto.s3.models", "FakeBucket", "get_permission"),
        ("moto.backends", None, "list_of_moto_modules"),
        ("moto.stepfunctions.parser.asl.parse.asl_parser", "AmazonStateLanguageParser", "parse"),
        ("moto.stepfunctions.parser.asl.utils.boto_client", None, "boto_client_for"),
        ("moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils", None, "boto_client_for"),
        (
            "moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.item_reader_decl",
            "ItemReader",
            "_eval_body",
        ),
        (
            "moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.distributed_iteration_component",
            "DistributedIterationComponent",
            "_map_run",
        ),
    ],
)
def test_every_patched_attribute_exists(module: str, owner: str | None, attribute: str) -> None:
    import importlib

    target = importlib.import_module(module)
    if owner is not None:
        target = getattr(target, owner)
    assert callable(getattr(target, attribute, None)), f"{module}.{owner}.{attribute} is gone"


def test_a_missing_target_is_a_loud_error() -> None:
    class Empty:
        pass

    with pytest.raises(patches.MotoPatchError, match="no such callable"):
        patches.replace(Empty, "nothing", lambda: None)


def test_a_different_moto_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import moto

    monkeypatch.setattr(moto, "__version__", "6.0.0")
    with pytest.raises(patches.MotoPatchError, match=r"moto 6\.0\.0 is installed"):
        patches.check_version()


def test_the_server_installs_every_plugin(tmp_path) -> None:
    """The real install path, in a subprocess so the patches do not leak into this one."""
    import subprocess
    import sys

    code = (
        "from pathlib import Path\n"
        "from sfn_inference.localcloud.context import LocalCloudContext\n"
        "from sfn_inference.localcloud.server import configure_moto, install_plugins\n"
        "configure_moto(1)\n"
        f"print('\\n'.join(install_plugins(LocalCloudContext('http://127.0.0.1:1', Path({str(tmp_path)!r})))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120).stdout
    for name in (
        "LambdaFunction.invoke",
        "Rule.send_to_targets",
        "_send_event_bridge_message",
        "start_execution",
        "FakeBucket.get_permission",
    ):
        assert name in out
