"""Per-function packaging: Powertools' event handler ships only with a function that imports it (none
does since the HTTP functions route with core.gateway), and every artifact stays inside the 100 MB budget."""

from __future__ import annotations

from pathlib import Path

from sfn_workbench.build import BUDGET_UNZIPPED, Artifact, functions, kept_paths, runtime_requirements, trim

EVENT_HANDLER = "aws_lambda_powertools/event_handler"


def test_no_function_keeps_the_event_handler() -> None:
    # digits and fashion route with sfn_inference.core.gateway: Powertools' resolver cost 50-90 ms of cold start
    assert {f for f in functions() if EVENT_HANDLER in kept_paths(f)} == set()


def test_trim_keeps_what_the_function_imports(tmp_path: Path) -> None:
    for name, keep in (("importing", {EVENT_HANDLER}), ("digits", kept_paths("digits"))):
        artifact = tmp_path / name
        (artifact / EVENT_HANDLER / "openapi" / "swagger_ui").mkdir(parents=True)
        (artifact / EVENT_HANDLER / "api_gateway.py").write_text("")
        (artifact / EVENT_HANDLER / "openapi" / "swagger_ui" / "swagger-ui-bundle.min.js").write_text("x")
        trim(artifact, keep=keep)
    assert (tmp_path / "importing" / EVENT_HANDLER / "api_gateway.py").is_file()
    assert not (tmp_path / "importing" / EVENT_HANDLER / "openapi" / "swagger_ui" / "swagger-ui-bundle.min.js").exists()
    assert not (tmp_path / "digits" / EVENT_HANDLER).exists()


def test_the_model_functions_get_litert_and_the_others_do_not() -> None:
    with_litert = {f for f in functions() if any(r.startswith("ai-edge-litert") for r in runtime_requirements(f))}
    assert {"classify", "digits", "fashion"} <= with_litert
    assert not with_litert & {"serialize", "filter", "capture_compactor", "report"}


def test_an_artifact_over_the_budget_is_a_problem() -> None:
    within = Artifact("digits", Path("d"), Path("d.zip"), BUDGET_UNZIPPED, 30 << 20)
    over = Artifact("digits", Path("d"), Path("d.zip"), BUDGET_UNZIPPED + 1, 30 << 20)
    assert within.problems == []
    assert over.problems and "budget" in over.problems[0]
