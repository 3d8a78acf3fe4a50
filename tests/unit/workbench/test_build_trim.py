"""Per-function packaging: Powertools' event handler ships only with the functions that import it,
and every artifact stays inside the project's 100 MB budget."""

from __future__ import annotations

from pathlib import Path

from sfn_workbench.build import BUDGET_UNZIPPED, Artifact, functions, kept_paths, runtime_requirements, trim

EVENT_HANDLER = "aws_lambda_powertools/event_handler"


def test_only_the_http_functions_keep_the_event_handler() -> None:
    keeping = {f for f in functions() if EVENT_HANDLER in kept_paths(f)}
    assert {"digits", "fashion"} <= keeping
    assert not keeping & {"serialize", "classify", "filter", "capture_compactor", "report"}


def test_trim_keeps_what_the_function_imports(tmp_path: Path) -> None:
    for name in ("digits", "classify"):
        artifact = tmp_path / name
        (artifact / EVENT_HANDLER / "openapi" / "swagger_ui").mkdir(parents=True)
        (artifact / EVENT_HANDLER / "api_gateway.py").write_text("")
        (artifact / EVENT_HANDLER / "openapi" / "swagger_ui" / "swagger-ui-bundle.min.js").write_text("x")
        trim(artifact, keep=kept_paths(name))
    assert (tmp_path / "digits" / EVENT_HANDLER / "api_gateway.py").is_file()
    assert not (tmp_path / "digits" / EVENT_HANDLER / "openapi" / "swagger_ui" / "swagger-ui-bundle.min.js").exists()
    assert not (tmp_path / "classify" / EVENT_HANDLER).exists()


def test_the_model_functions_get_litert_and_the_others_do_not() -> None:
    with_litert = {f for f in functions() if any(r.startswith("ai-edge-litert") for r in runtime_requirements(f))}
    assert {"classify", "digits", "fashion"} <= with_litert
    assert not with_litert & {"serialize", "filter", "capture_compactor", "report"}


def test_an_artifact_over_the_budget_is_a_problem() -> None:
    within = Artifact("digits", Path("d"), Path("d.zip"), BUDGET_UNZIPPED, 30 << 20)
    over = Artifact("digits", Path("d"), Path("d.zip"), BUDGET_UNZIPPED + 1, 30 << 20)
    assert within.problems == []
    assert over.problems and "budget" in over.problems[0]
