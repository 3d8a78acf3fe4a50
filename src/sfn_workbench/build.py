"""Build the Lambda artifacts: ``make package``, ``sam build`` and the local cloud all come here.

An artifact is a directory laid out as ``/var/task``: the handler ``app.py``, the
:mod:`sfn_inference` package whole (it holds exactly what a Lambda runs; the
workbench is a separate package), the function's model bundle, and, with
``with_deps``, the pinned runtime dependencies as manylinux wheels for the target
Python and architecture. boto3, botocore and s3transfer are left out: the Lambda
Python runtime ships them.

    sfn-inference-build build classify --out DIR [--no-deps]
    sfn-inference-build package [--arch x86_64|arm64] [--out build]
"""

from __future__ import annotations

import ast
import base64
import glob
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

import sfn_inference
from sfn_inference.datacapture.logstream import CAPTURE_KEY
from sfn_workbench import artifact_check, bytecode_compile
from sfn_workbench.paths import project_root

PACKAGE_DIR = Path(sfn_inference.__file__).parent
#: The pipeline's functions, in execution order; the others follow in name order.
PIPELINE = ("serialize", "classify", "filter")


def functions() -> tuple[str, ...]:
    """``functions/<name>/app.py`` of the checkout: the pipeline's first, then the rest."""
    found = sorted(p.parent.name for p in (project_root() / "functions").glob("*/app.py"))
    return PIPELINE + tuple(name for name in found if name not in PIPELINE)


ARCHES = ("x86_64", "arm64")
#: What each function needs besides code, relative to the root and to the task root alike.
BUNDLES = {
    "classify": [Path("models") / "digits"],
    "monitor": [Path("models") / "digits"],
    "digits": [Path("models") / "digits"],
    "fashion": [Path("models") / "fashion"],
    "forda": [Path("models") / "forda"],
    "iris": [Path("models") / "iris"],
}
#: In the Lambda Python runtime already (botocore alone is ~30 MB unzipped).
LAMBDA_PROVIDED = {"boto3", "botocore", "s3transfer"}
#: Distributions only some functions load. LiteRT and what it pulls in (ml-dtypes,
#: protobuf, flatbuffers) are about a third of an artifact, and only the LiteRT functions run
#: it; ONNX Runtime (45 MB) only the Iris function does.
ONLY_FOR = {"ai-edge-litert": {"classify", "digits", "fashion", "forda"}, "onnxruntime": {"iris"}}
#: Distributions some functions never load: the series and tabular functions decode no images.
NOT_FOR = {"pillow": {"forda", "iris"}}
#: The module each of those distributions is imported as: an artifact without the distribution
#: must not be able to import it (checked by ``check_all``).
MODULE_OF = {"ai-edge-litert": "ai_edge_litert", "onnxruntime": "onnxruntime", "pillow": "PIL"}
#: Dependencies declared but never imported by what runs here: ``import onnxruntime`` and an
#: InferenceSession on the CPU load none of these (checked with sys.modules); sympy and mpmath
#: alone are ~80 MB, for onnxruntime's symbolic shape inference tool.
UNLOADED_DEPENDENCIES = {"onnxruntime": {"sympy", "coloredlogs", "packaging", "protobuf", "flatbuffers"}}
#: Never in any artifact: the training stack, and the seed's pickle loader.
NEVER_SHIPPED = ("sklearn", "scipy", "tensorflow", "joblib", "keras")
#: Lambda limits for a .zip function: unzipped (function and layers) and direct-upload zipped.
MAX_UNZIPPED = 262_144_000
MAX_ZIPPED = 52_428_800
#: This project's own budget per artifact, unzipped: a cold start reads it all from the network.
BUDGET_UNZIPPED = 100 * 1_048_576
#: Not loaded by ``ai_edge_litert.interpreter`` on CPU (checked with /proc/self/maps):
#: the WebGPU accelerator, the NPU ahead-of-time compiler, vendor dispatch plugins, CLI tools.
UNUSED_PATHS = (
    "ai_edge_litert/libLiteRtWebGpuAccelerator.so",
    "ai_edge_litert/aot",
    "ai_edge_litert/vendors",
    "ai_edge_litert/tools",
    # The Swagger UI's script and styles, served only by a resolver with enable_swagger (none here).
    "aws_lambda_powertools/event_handler/openapi/swagger_ui/swagger-ui-bundle.min.js",
    "aws_lambda_powertools/event_handler/openapi/swagger_ui/swagger-ui.min.css",
    # numpy's Fortran wrapper generator, a build tool that `import numpy` never loads.
    "numpy/f2py",
    # ONNX Runtime's Python tools (model conversion, quantisation, transformer fusion): an
    # InferenceSession loads none of them (checked with sys.modules).
    "onnxruntime/transformers",
    "onnxruntime/quantization",
    "onnxruntime/tools",
    "onnxruntime/datasets",
)
#: Trimmed from each artifact whose handler does not import the module. No handler imports
#: Powertools' event handler since digits and fashion route with ``core.gateway``, so none ships it.
UNLESS_IMPORTED = {"aws_lambda_powertools/event_handler": "aws_lambda_powertools.event_handler"}
#: Shared libraries nothing here loads: Pillow's AVIF codec (decode_image opens PNG and JPEG
#: only) and numpy's SIMD test module (numpy's own tests import it, `import numpy` does not).
#: Pillow's font, colour-management, WebP, Tk and math extensions with the libraries only they
#: link (freetype, harfbuzz, libpng, brotli, lcms2, libwebp): ``PIL._imaging`` needs none of them
#: (readelf), and the bytecode profile decodes a JPEG on the trimmed artifact to prove it.
UNUSED_GLOBS = (
    "PIL/_avif.*.so",
    "pillow.libs/libavif-*",
    "numpy/_core/_simd.*.so",
    *(f"PIL/{m}.*.so" for m in ("_imagingft", "_imagingcms", "_webp", "_imagingtk", "_imagingmath", "_imagingmorph")),
    *(f"pillow.libs/{lib}-*" for lib in ("libfreetype", "libharfbuzz", "libpng16", "libbrotlicommon", "libbrotlidec")),
    *(f"pillow.libs/{lib}-*" for lib in ("liblcms2", "libwebp", "libwebpdemux", "libwebpmux", "libsharpyuv")),
    # ONNX Runtime's C API library (22 MB), for C/C++ callers: the Python binding links the
    # runtime statically and never loads it (checked with /proc/self/maps).
    "onnxruntime/capi/libonnxruntime.so.*",
)
#: Bytecode caches, test suites, and PEP 561 stub-only packages (``wrapt-stubs``).
TRIM_DIRS = {"__pycache__", "tests"}
#: Bytecode for the wrong interpreter, type stubs and C headers: nothing Lambda executes.
TRIM_SUFFIXES = (".pyc", ".pyi", ".h", ".hpp", ".pxd")
#: The reference image the artifact check classifies, and the label it must get.
CHECK_IMAGE = Path("models") / "digits" / "reference" / "7_00017.png"
CHECK_LABEL = "7"


class PackagingError(Exception):
    """An artifact cannot be built, is over a Lambda limit, or fails its check."""


# --------------------------------------------------------------------- building
def build_function(
    function: str, out: Path, *, with_deps: bool, python_version: str = "3.12", arch: str = "x86_64"
) -> Path:
    """Lay out ``function``'s artifact in ``out`` (which must be empty or absent) and return it."""
    if function not in functions():
        raise PackagingError(f"unknown function {function!r} (one of {', '.join(functions())})")
    if arch not in ARCHES:
        raise PackagingError(f"unknown architecture {arch!r} (one of {', '.join(ARCHES)})")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise PackagingError(f"{out} is not empty; build into an empty or new directory")
    out.mkdir(parents=True, exist_ok=True)
    root = project_root()
    for source in sorted((root / "functions" / function).glob("*.py")):
        shutil.copy2(source, out / source.name)
    ignore = shutil.ignore_patterns("__pycache__", ".*", "*.pyc")
    shutil.copytree(PACKAGE_DIR, out / PACKAGE_DIR.name, ignore=ignore)
    for bundle in BUNDLES.get(function, []):
        shutil.copytree(root / bundle, out / bundle, ignore=ignore)
    if with_deps:
        install_dependencies(function, out, python_version=python_version, arch=arch)
        trim(out, keep=kept_paths(function))
    return out


def runtime_requirements(function: str) -> list[str]:
    """The pinned ``[project].dependencies`` this function ships, minus what Lambda provides."""
    project = tomllib.loads((project_root() / "pyproject.toml").read_text())["project"]
    requirements = []
    for requirement in project["dependencies"]:
        name = _normalise(re.split(r"[\[=<>!~; ]", requirement, maxsplit=1)[0])
        if "==" not in requirement:
            raise PackagingError(f"runtime dependency {requirement!r} is not pinned with ==")
        if name in LAMBDA_PROVIDED or not ships(name, function):
            continue
        requirements.append(requirement)
    return requirements


def ships(distribution: str, function: str) -> bool:
    """Whether ``function``'s artifact holds this (normalised) runtime distribution."""
    return function in ONLY_FOR.get(distribution, {function}) and function not in NOT_FOR.get(distribution, set())


def absent_modules(function: str) -> list[str]:
    """The modules of the runtime distributions ``function`` does not ship, and of the training stack."""
    left_out = [module for name, module in MODULE_OF.items() if not ships(name, function)]
    return sorted({*left_out, *NEVER_SHIPPED})


def platform_tags(arch: str) -> list[str]:
    """Every manylinux tag from glibc 2.28 down, explicitly.

    pip before 24 does not expand ``manylinux_2_28_x86_64`` to older glibc tags, so
    ``--platform manylinux_2_28_x86_64`` alone misses ai-edge-litert's 2_27 wheels;
    ``manylinux2014`` alone silently resolves ai-edge-litert 1.4.0. The Lambda
    python3.12 runtime (Amazon Linux 2023) has glibc 2.34, so all of these run there.
    """
    machine = {"x86_64": "x86_64", "arm64": "aarch64"}[arch]
    return [f"manylinux_2_{minor}_{machine}" for minor in range(28, 16, -1)] + [f"manylinux2014_{machine}"]


def install_dependencies(function: str, target: Path, *, python_version: str, arch: str) -> None:
    """Resolve the runtime deps for the target, then install all but Lambda's own boto3 set.

    Resolution includes boto3 and botocore (aws-xray-sdk needs botocore), so the
    install is in two steps: resolve everything, install the resolution minus
    :data:`LAMBDA_PROVIDED` without re-resolving.
    """
    requirements = runtime_requirements(function)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    target_args = ["--implementation", "cp", "--python-version", python_version, "--only-binary=:all:"]
    for tag in platform_tags(arch):
        target_args += ["--platform", tag]
    with tempfile.TemporaryDirectory() as tmp:
        report_path = Path(tmp) / "report.json"
        _run([*pip, "install", "--dry-run", "--ignore-installed", "--report", str(report_path),
              "--target", str(Path(tmp) / "unused"), *target_args, *requirements])  # fmt: skip
        report = json.loads(report_path.read_text())
    needed = _without_lambda_provided(report["install"])
    _run([*pip, "install", "--no-deps", "--no-compile", "--target", str(target), *target_args, *needed])
    shutil.rmtree(target / "bin", ignore_errors=True)  # console scripts: nothing runs them in Lambda


def _without_lambda_provided(resolution: list[dict[str, Any]]) -> list[str]:
    """``name==version`` of every resolved distribution reachable from the requested ones
    without passing through :data:`LAMBDA_PROVIDED`: so botocore's own dependencies
    (urllib3, python-dateutil) go too, unless something else needs them.

    Edges are ``Requires-Dist`` entries between resolved distributions, taken unless
    their marker names an extra that was not requested. Other markers are not
    evaluated: at worst that keeps a distribution pip resolved anyway, never drops one.
    """
    by_name = {_normalise(item["metadata"]["name"]): item for item in resolution}
    pending = [name for name, item in by_name.items() if item.get("requested") and name not in LAMBDA_PROVIDED]
    keep: set[str] = set()
    while pending:
        name = pending.pop()
        if name in keep:
            continue
        keep.add(name)
        extras = set(by_name[name].get("requested_extras") or [])
        for requirement in by_name[name]["metadata"].get("requires_dist") or []:
            dependency = _normalise(re.split(r"[\[=<>!~;( ]", requirement.strip(), maxsplit=1)[0])
            marker = requirement.partition(";")[2]
            extra = re.search(r"extra\s*==\s*[\"']([^\"']+)[\"']", marker)
            if extra and _normalise(extra.group(1)) not in {_normalise(e) for e in extras}:
                continue
            if dependency in UNLOADED_DEPENDENCIES.get(name, set()):
                continue
            if dependency in by_name and dependency not in LAMBDA_PROVIDED:
                pending.append(dependency)
    return sorted(f"{by_name[n]['metadata']['name']}=={by_name[n]['metadata']['version']}" for n in keep)


def kept_paths(function: str) -> set[str]:
    """The :data:`UNLESS_IMPORTED` paths this function's handler needs, by what ``app.py`` imports."""
    tree = ast.parse((project_root() / "functions" / function / "app.py").read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    return {
        path
        for path, module in UNLESS_IMPORTED.items()
        if any(name == module or name.startswith(f"{module}.") for name in imported)
    }


def trim(artifact: Path, keep: Collection[str] = ()) -> None:
    """Delete what Lambda never loads; ``check_artifacts`` runs the handlers on the result to prove it."""
    for relative in [*UNUSED_PATHS, *(p for p in UNLESS_IMPORTED if p not in keep)]:
        path = artifact / relative
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    for pattern in UNUSED_GLOBS:
        for path in artifact.glob(pattern):
            path.unlink()
    for path in sorted(artifact.rglob("*"), reverse=True):  # children before their parents
        if path.is_dir() and (path.name in TRIM_DIRS or path.name.endswith("-stubs")):
            shutil.rmtree(path)
        elif path.is_file() and path.suffix in TRIM_SUFFIXES:
            path.unlink()


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _run(command: Sequence[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PackagingError(f"{' '.join(command[:6])} ... failed:\n{result.stdout}{result.stderr}")


# ---------------------------------------------------------------------- zipping
def zip_artifact(artifact: Path, zip_path: Path) -> Path:
    """A reproducible zip: sorted entries, fixed timestamps and modes, so unchanged code
    gives the same bytes and ``cloudformation package`` (which keys uploads by MD5)
    updates no function."""
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in artifact.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(artifact).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if os.access(path, os.X_OK) else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())  # level 9 saves 1 % and takes 2.5x as long
    return zip_path


def directory_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# --------------------------------------------------------------------- checking
def invoke_artifact(
    artifact: Path,
    events: list[Any],
    *,
    python: str = sys.executable,
    env: dict[str, str] | None = None,
    s3_object: dict[str, str] | None = None,
    function: str | None = None,
) -> dict[str, Any]:
    """Call ``app.lambda_handler`` of an artifact in a fresh interpreter that sees only
    the artifact and, as Lambda's runtime provides them, boto3, botocore and s3transfer.

    Returns ``{"results": [...], "origins": {module: file}, "python": [major, minor]}``;
    an exception raised by the handler is a result ``{"errorType", "errorMessage"}``.
    ``s3_object`` (bucket, key, base64 body, content_type) is served by an in-memory
    store that ``function``'s composition root is built with (see :mod:`sfn_workbench.artifact_check`).
    """
    artifact = Path(artifact).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        provided = Path(tmp) / "lambda-runtime"
        _link_lambda_provided(provided)
        result_path = Path(tmp) / "result.json"
        child_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": os.pathsep.join([str(artifact), str(provided)]),
            "PYTHONDONTWRITEBYTECODE": "1",  # /var/task is read-only in Lambda
            "LAMBDA_TASK_ROOT": str(artifact),
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "POWERTOOLS_SERVICE_NAME": "sfn-inference",
            "POWERTOOLS_METRICS_NAMESPACE": "SfnInference",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "POWERTOOLS_TRACE_DISABLED": "true",
            **(env or {}),
        }
        # -S: none of the interpreter's own site-packages, only what PYTHONPATH names.
        completed = subprocess.run(
            [python, "-S", artifact_check.__file__, str(result_path)],
            input=json.dumps(
                {
                    "events": events,
                    "object": s3_object,
                    "function": function,
                    "absent": absent_modules(function) if function else [],
                }
            ),
            capture_output=True,
            text=True,
            cwd=artifact,
            env=child_env,
            timeout=300,
            check=False,
        )
        if completed.returncode != 0 or not result_path.exists():
            raise PackagingError(f"{artifact.name}: the handler could not run:\n{completed.stderr[-3000:]}")
        result: dict[str, Any] = json.loads(result_path.read_text())
    result["stdout"] = completed.stdout
    return result


def _link_lambda_provided(into: Path) -> None:
    """Symlink this interpreter's boto3 and what it needs, as Lambda's runtime provides them."""
    import importlib.util  # noqa: PLC0415

    into.mkdir(parents=True)
    for name in ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six"):
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (into / source.name).symlink_to(source)


def check_artifacts(artifacts: dict[str, Path], python: str) -> list[str]:
    """Run the three handlers the way the state machine chains them, on a reference PNG.

    serialize reads it from an EventBridge "Object Created" event, classify must
    label it as the training run did, filter must pass it and must raise
    LowConfidenceError on a low-confidence result. Returns one line per check.
    """
    root = project_root()
    image = (root / CHECK_IMAGE).read_bytes()
    bucket, key = "sfn-inference-check", f"incoming/{CHECK_IMAGE.name}"
    event = json.loads((root / "events" / "eventbridge_object_created.json").read_text())
    event["detail"]["bucket"]["name"] = bucket
    event["detail"]["object"].update(key=key, size=len(image))
    s3_object = {"bucket": bucket, "key": key, "body": base64.b64encode(image).decode(), "content_type": "image/png"}
    lines = []

    run = invoke_artifact(artifacts["serialize"], [event], python=python, s3_object=s3_object, function="serialize")
    [payload] = _results(run, "serialize", artifacts["serialize"])
    if payload.get("transport") != "inline" or base64.b64decode(payload.get("image_data", "")) != image:
        raise PackagingError(f"serialize did not inline the image: {str(payload)[:300]}")
    lines.append(f"serialize  inlined {len(image)} bytes from an EventBridge event")

    env = {
        "BACKEND": "litert",
        "MODEL_DIR": "models/digits",
        "LITERT_NUM_THREADS": "1",
        "CAPTURE_DESTINATION_S3_URI": "s3://sfn-inference-check/captures",
        "CAPTURE_ENDPOINT_NAME": "check-litert",
    }
    run = invoke_artifact(artifacts["classify"], [payload], python=python, env=env)
    records = [line for line in run["stdout"].splitlines() if line.startswith(f'{{"{CAPTURE_KEY}"')]
    [classified] = _results(run, "classify", artifacts["classify"])
    if len(records) != 1:
        raise PackagingError(f"classify logged {len(records)} capture records, expected 1")
    expected = json.loads((root / "models" / "digits" / "reference" / "predictions.json").read_text())
    reference = expected[CHECK_IMAGE.name][int(CHECK_LABEL)]
    if classified.get("label") != CHECK_LABEL or abs(classified.get("confidence", -1) - reference) > 1e-3:
        raise PackagingError(
            f"classify labelled {CHECK_IMAGE.name} {classified.get('label')!r} with confidence "
            f"{classified.get('confidence')} (expected {CHECK_LABEL!r}, {reference})"
        )
    lines.append(
        f"classify   {CHECK_IMAGE.name} -> {classified['label']} ({classified['confidence']:.4f}), 1 capture log line"
    )

    low = json.loads((root / "events" / "classified_low_confidence.json").read_text())
    run = invoke_artifact(artifacts["filter"], [classified, low], python=python, env={"CONFIDENCE_THRESHOLD": "0.93"})
    passed, failed = _results(run, "filter", artifacts["filter"])
    if passed.get("label") != CHECK_LABEL or failed.get("errorType") != "LowConfidenceError":
        raise PackagingError(f"filter: passed {str(passed)[:200]}, low confidence gave {failed}")
    lines.append("filter     passes it; raises LowConfidenceError below the threshold")
    return lines


#: The functions that serve a series or tabular bundle: checked on their seeds' own requests.
MODEL_FUNCTIONS = ("forda", "iris")


def check_model_functions(artifacts: dict[str, Path], python: str) -> list[str]:
    """forda answers the eight reference series with their recorded classes, through the seed's
    direct event and an HTTP API event, logging one capture record per series; iris answers
    the seed's sample ``virginica`` by direct invocation and by GET. Neither can import the
    runtime it does not ship, nor Pillow (``absent`` in the artifact check)."""
    root = project_root()
    capture = {"CAPTURE_DESTINATION_S3_URI": "s3://sfn-inference-check/captures"}
    references = json.loads((root / "models" / "forda" / "reference" / "series.json").read_text())
    seed_event = {"body": json.dumps({"items": [[[v] for v in r["series"]] for r in references]})}
    http = {"version": "2.0", "requestContext": {"http": {"method": "POST"}}, "isBase64Encoded": False}
    one = {**http, "body": json.dumps({"items": [references[-1]["series"]]})}
    env = {"MODEL_DIR": "models/forda", "CAPTURE_ENDPOINT_NAME": "check-forda", **capture}
    run = invoke_artifact(artifacts["forda"], [seed_event, one], python=python, env=env, function="forda")
    batch, single = _results(run, "forda", artifacts["forda"])
    classes = [r["result"]["Class"] for r in batch.get("body", [])]
    records = [line for line in run["stdout"].splitlines() if line.startswith(f'{{"{CAPTURE_KEY}"')]
    if classes != [r["class"] for r in references] or single.get("statusCode") != 200 or len(records) != 9:
        raise PackagingError(f"forda: classes {classes}, HTTP answer {str(single)[:200]}, {len(records)} captures")
    lines = [f"forda      {len(classes)} reference series -> their recorded classes, 9 capture log lines"]

    query = {"sl": "6.9", "sw": "3.1", "pl": "5.1", "pw": "2.3"}
    get = {"version": "2.0", "requestContext": {"http": {"method": "GET"}}, "queryStringParameters": query}
    seed = {"sl": 6.9, "sw": 3.1, "pl": 5.1, "pw": 2.3}
    env = {"MODEL_DIR": "models/iris", "CAPTURE_ENDPOINT_NAME": "check-iris", **capture}
    run = invoke_artifact(artifacts["iris"], [seed, get], python=python, env=env, function="iris")
    direct, by_get = _results(run, "iris", artifacts["iris"])
    if direct != {"statusCode": 200, "body": "virginica"} or by_get.get("body") != '"virginica"':
        raise PackagingError(f"iris: direct {direct}, GET {by_get}")
    lines.append('iris       the seed\'s sample -> "virginica" (direct invoke and GET); ONNX Runtime, no LiteRT')
    return lines


#: What the HTTP functions are checked with: a reference image each, and the label it must get.
HTTP_CHECKS = {
    "digits": (Path("models") / "digits" / "reference" / "0_00048.png", "0"),
    "fashion": (Path("models") / "fashion" / "reference" / "trouser_00002.png", "trouser"),
}


def check_http_artifacts(artifacts: dict[str, Path], python: str) -> list[str]:
    """Each HTTP function answers API Gateway's 2.0 event for its route with the right label: digits
    a PNG body, fashion an ``s3://`` URL read through its root's store; and each logs one capture line."""
    root = project_root()
    lines = []
    for function, (image_path, label) in HTTP_CHECKS.items():
        if function not in artifacts:
            continue
        image = (root / image_path).read_bytes()
        event = json.loads((root / "events" / "http_api_predict.json").read_text())
        route = f"/{function}/predict"
        event["routeKey"] = event["requestContext"]["routeKey"] = f"POST {route}"
        event["rawPath"] = event["requestContext"]["http"]["path"] = f"/Prod{route}"
        s3_object = None
        if function == "fashion":
            s3_object = {"bucket": "sfn-inference-check", "key": f"test/{image_path.name}",
                         "body": base64.b64encode(image).decode(), "content_type": "image/png"}  # fmt: skip
            body = json.dumps({"url": f"s3://{s3_object['bucket']}/{s3_object['key']}"})
            event.update(body=body, isBase64Encoded=False)
            event["headers"]["content-type"] = "application/json"
        else:
            event.update(body=base64.b64encode(image).decode(), isBase64Encoded=True)
        env = {
            "MODEL_DIR": f"models/{image_path.parts[1]}",
            "LITERT_NUM_THREADS": "1",
            "CAPTURE_DESTINATION_S3_URI": "s3://sfn-inference-check/captures",
            "CAPTURE_ENDPOINT_NAME": "check",
        }
        run = invoke_artifact(
            artifacts[function], [event], python=python, env=env, s3_object=s3_object, function=function
        )
        [response] = _results(run, function, artifacts[function])
        answer = json.loads(response.get("body") or "{}")
        captured = [line for line in run["stdout"].splitlines() if line.startswith(f'{{"{CAPTURE_KEY}"')]
        if response.get("statusCode") != 200 or answer.get("label") != label or len(captured) != 1:
            raise PackagingError(f"{function}: {str(response)[:300]} ({len(captured)} capture lines)")
        lines.append(f"{function:<10} POST {route} {image_path.name} -> 200 {label} ({answer['score']:.4f})")
    return lines


def _results(run: dict[str, Any], function: str, artifact: Path) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = run["results"]
    for name, origin in run["origins"].items():
        if origin and name != "boto3" and not Path(origin).resolve().is_relative_to(artifact.resolve()):
            raise PackagingError(f"{function}: {name} was imported from outside the artifact ({origin})")
    if any("errorType" in r for r in results) and function != "filter":
        raise PackagingError(f"{function} raised: {results}")
    return results


def find_python(version: str) -> str | None:
    """A working interpreter of this version: $PYTHON312-style variable, PATH, then pyenv."""
    candidates = [
        os.environ.get(f"PYTHON{version.replace('.', '')}"),
        shutil.which(f"python{version}"),
        *sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python{version}")), reverse=True),
    ]
    for candidate in filter(None, candidates):
        try:
            probe = subprocess.run(
                [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except OSError:
            continue
        if probe.returncode == 0 and probe.stdout.strip() == version:  # pyenv shims can be broken
            return candidate
    return None


# -------------------------------------------------------------------- bytecode
#: Lambda's task root, as tracebacks should name it (the build directory means nothing there).
TASK_ROOT = "/var/task"
#: Functions whose bytecode covers only what their handler loads: classify's whole tree compiled
#: (11 MB of .pyc) would take it past its 100 MB budget; what it loads is a fraction of that.
PROFILED = ("classify",)
#: Functions shipped without bytecode: their whole tree compiled (12.5 MB of .pyc) takes the
#: HTTP image functions past the 100 MB budget, and they have no load profile yet (the next
#: lever: profile them as classify is). Each cold start compiles what it imports.
WITHOUT_BYTECODE = ("digits", "fashion")


def target_python(arch: str, python_version: str) -> str | None:
    """The interpreter that can compile (and run) this target's code here, if any."""
    host = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine().lower())
    if host != arch or sys.platform != "linux":
        return None
    return find_python(python_version)


def compile_bytecode(function: str, artifact: Path, python: str) -> int:
    """Ship ``__pycache__`` for the target interpreter, so no cold start compiles a module.

    Lambda's task directory is read-only: without bytecode in the zip, every cold start
    compiles every module it imports (``make bench`` measures the difference). Hash-based
    and unchecked (PEP 552), because the zip's fixed timestamps would never match a
    timestamp-based ``.pyc``. Returns the number of modules compiled.
    """
    root = artifact.resolve()
    if function in PROFILED:
        files = [Path(f) for f in loaded_modules(function, root, python)]
    else:
        files = sorted(root.rglob("*.py"))
    completed = subprocess.run(
        [python, bytecode_compile.__file__, str(root), TASK_ROOT],
        input=json.dumps([str(f) for f in files]), capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    if completed.returncode != 0:
        raise PackagingError(f"{function}: compiling bytecode with {python} failed:\n{completed.stderr[-2000:]}")
    return len(files)


def loaded_modules(function: str, artifact: Path, python: str) -> list[str]:
    """The artifact's modules its handler loads on a cold start and on warm invocations: for classify,
    a plain PNG (the fast path) and a JPEG (Pillow's path)."""
    from PIL import Image  # noqa: PLC0415 - the workbench's own Pillow, to make the JPEG

    png = (project_root() / CHECK_IMAGE).read_bytes()
    buffer = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").save(buffer, "JPEG", quality=95)
    events = [
        {"s3_bucket": "b", "s3_key": f"k.{kind}", "content_type": f"image/{kind}", "image_data": encode(data)}
        for kind, data in (("png", png), ("jpeg", buffer.getvalue()))
    ]
    env = {"BACKEND": "litert", "MODEL_DIR": "models/digits", "CAPTURE_DESTINATION_S3_URI": "s3://check/captures"}
    run = invoke_artifact(artifact, events, python=python, env=env)
    _results(run, function, artifact)
    loaded: list[str] = run["loaded"]
    return [f for f in loaded if f.endswith(".py")]


def encode(data: bytes) -> str:
    return base64.b64encode(data).decode()


# -------------------------------------------------------------------- packaging
@dataclass(frozen=True)
class Artifact:
    function: str
    directory: Path
    zip_path: Path
    unzipped: int
    zipped: int

    @property
    def problems(self) -> list[str]:
        found = []
        if self.unzipped > MAX_UNZIPPED:
            found.append(f"unzipped {_mb(self.unzipped)} > {_mb(MAX_UNZIPPED)}")
        shipped = sorted(m for m in absent_modules(self.function) if (self.directory / m).exists())
        if shipped:
            found.append(f"holds {', '.join(shipped)}, which it must not")
        if self.zipped > MAX_ZIPPED:
            found.append(f"zipped {_mb(self.zipped)} > {_mb(MAX_ZIPPED)} (direct upload)")
        if self.unzipped > BUDGET_UNZIPPED:
            found.append(f"unzipped {_mb(self.unzipped)} > the project's budget of {_mb(BUDGET_UNZIPPED)}")
        return found


def package(out: Path, *, arch: str = "x86_64", python_version: str = "3.12") -> list[Artifact]:
    """Build and zip every function into ``out`` and write ``out/template.json`` for deploying them."""
    artifacts = []
    python = target_python(arch, python_version)
    if python is None:
        print(f"bytecode skipped: no python{python_version} for {arch} here; each cold start compiles what it imports")
    for function in functions():
        directory = out / function
        shutil.rmtree(directory, ignore_errors=True)
        build_function(function, directory, with_deps=True, python_version=python_version, arch=arch)
        if python is not None and function not in WITHOUT_BYTECODE:
            compile_bytecode(function, directory, python)
        zip_path = zip_artifact(directory, out / f"{function}.zip")
        artifacts.append(Artifact(function, directory, zip_path, directory_size(directory), zip_path.stat().st_size))
    write_deploy_template(out / "template.json", {a.function: a.zip_path for a in artifacts})
    return artifacts


def write_deploy_template(path: Path, zips: dict[str, Path]) -> Path:
    """``infra/template.yaml`` with each function's CodeUri pointing at its built zip, and
    every other local path made relative to ``path``'s directory, for
    ``aws cloudformation package`` to upload (it resolves paths from the template's directory)."""
    from sfn_workbench.template import load_template  # noqa: PLC0415

    source = project_root() / "infra" / "template.yaml"
    template = load_template(source)
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        code = props.get("CodeUri")
        if resource.get("Type") == "AWS::Serverless::Function" and isinstance(code, str):
            function = (source.parent / code).resolve().name
            props["CodeUri"] = os.path.relpath(zips[function].resolve(), path.parent.resolve())
            resource.pop("Metadata", None)  # BuildMethod is for `sam build`; this is built already
        definition = props.get("DefinitionUri")
        if isinstance(definition, str) and not definition.startswith("s3://"):
            props["DefinitionUri"] = os.path.relpath((source.parent / definition).resolve(), path.parent.resolve())
    path.write_text(json.dumps(template, indent=2) + "\n")
    return path


def _mb(size: int) -> str:
    return f"{size / 1_048_576:.1f} MB"


def _table(artifacts: list[Artifact]) -> str:
    width = max([len("artifact"), *(len(a.function) + 4 for a in artifacts)]) + 2
    limits = f"Lambda limits: {_mb(MAX_UNZIPPED)} / {_mb(MAX_ZIPPED)}; budget {_mb(BUDGET_UNZIPPED)} unzipped"
    rows = [f"{'artifact':<{width}}{'unzipped':>12}{'zipped':>12}  {limits}"]
    for a in artifacts:
        verdict = "; ".join(a.problems) or "ok"
        rows.append(f"{a.function + '.zip':<{width}}{_mb(a.unzipped):>12}{_mb(a.zipped):>12}  {verdict}")
    return "\n".join(rows)


app = typer.Typer(help="Build the Lambda artifacts.", no_args_is_help=True, add_completion=False)
Arch = Annotated[str, typer.Option(help="x86_64 or arm64")]
PythonVersion = Annotated[str, typer.Option(help="the Lambda runtime's Python")]


@app.command()
def build(
    function: str,
    out: Annotated[Path, typer.Option(help="an empty or new directory")],
    no_deps: Annotated[bool, typer.Option("--no-deps", help="code and model only")] = False,
    arch: Arch = "x86_64",
    python_version: PythonVersion = "3.12",
) -> None:
    """Lay out one function's artifact (what `sam build` calls)."""
    try:
        build_function(function, out, with_deps=not no_deps, python_version=python_version, arch=arch)
    except PackagingError as exc:
        raise typer.Exit(_fail(str(exc))) from None


@app.command("package")
def package_command(
    out: Annotated[Path | None, typer.Option(help="default: build/ in the checkout")] = None,
    no_check: Annotated[bool, typer.Option("--no-check", help="skip running the handlers")] = False,
    arch: Arch = "x86_64",
    python_version: PythonVersion = "3.12",
) -> None:
    """Build, zip, size-check and test every function."""
    out = out or project_root() / "build"
    try:
        artifacts = package(out, arch=arch, python_version=python_version)
        print(_table(artifacts))
        print(f"deploy template: {out / 'template.json'}")
        if any(a.problems for a in artifacts):
            raise typer.Exit(_fail("over a Lambda size limit or the project's budget, or holding what it must not"))
        if not no_check:
            check_all(artifacts, arch, python_version)
    except PackagingError as exc:
        raise typer.Exit(_fail(str(exc))) from None


#: What a function's root needs to build at import, as the template gives it (the import-only check).
IMPORT_CHECK_ENV = {
    "monitor": {
        "CAPTURE_SOURCE": "s3://sfn-inference-check/captures/check-litert/AllTraffic/",
        "MONITORING_OUTPUT": "s3://sfn-inference-check/monitoring/",
        "MONITORED_ENDPOINT": "check-litert",
        "MODEL_DIR": "models/digits",
    },
    "report": {"IMAGE_BUCKET": "sfn-inference-check"},
}


def check_all(artifacts: list[Artifact], arch: str, python_version: str) -> None:
    host = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine().lower())
    python = find_python(python_version)
    if host != arch or python is None or sys.platform != "linux":
        variable = f"PYTHON{python_version.replace('.', '')}"
        why = (
            f"{arch} artifacts on a {host} {sys.platform} host"
            if host != arch or sys.platform != "linux"
            else f"no working python{python_version} (set {variable} to one)"
        )
        print(f"check skipped: {why}; the artifacts are built but not run")
        return
    print(f"checking the artifacts with {python}:")
    directories = {a.function: a.directory for a in artifacts}
    checks = [check_artifacts, check_http_artifacts, check_model_functions]
    for line in [line for check in checks for line in check(directories, python)]:
        print(f"  ok  {line}")
    for artifact in artifacts:
        if artifact.function not in (*PIPELINE, *HTTP_CHECKS, *MODEL_FUNCTIONS):  # no fixture: import it all
            env = IMPORT_CHECK_ENV.get(artifact.function, {})
            invoke_artifact(artifact.directory, [], python=python, function=artifact.function, env=env)
            print(f"  ok  {artifact.function:<10} imports its handler and every packaged module")


def _fail(message: str) -> int:
    print(f"FAILED: {message}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    app()
