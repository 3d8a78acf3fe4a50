"""``sfn-inference``: the console a user would otherwise click through, for the local cloud."""

from __future__ import annotations

import contextlib
import json
import random
import shutil
import signal
import tempfile
import time
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sfn_workbench.demo_captures import (
    CAPTURE_PREFIX,
    CAPTURE_WAIT_S,
    CaptureReport,
    answered,
    answered_rows,
    copy_captures,
    notebook_command,
    wait_for_records,
)
from sfn_workbench.localcloud import control, s3_persistence
from sfn_workbench.localcloud.executions import ExecutionSummary, list_execution_arns, summarise, tally
from sfn_workbench.localcloud.naming import execution_name
from sfn_workbench.paths import state_dir as default_state_dir

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False)
console = Console()
StateDir = Annotated[
    Path | None,
    typer.Option(
        "--state-dir", help="where the local cloud keeps its state (default: .sfn-inference/ in the checkout)"
    ),
]
StackOpt = Annotated[str, typer.Option("--backend", help="which stack: litert or sagemaker")]
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(1)


def _cloud(state_dir: Path | None) -> control.LocalCloud:
    try:
        return control.require(state_dir)
    except control.LocalCloudError as exc:
        raise _fail(str(exc)) from None


def _stack(cloud: control.LocalCloud, backend: str) -> dict[str, Any]:
    if backend not in control.STACKS:
        raise _fail(f"unknown backend {backend!r}: choose {' or '.join(control.STACKS)}")
    try:
        return cloud.stack(control.STACKS[backend])
    except control.LocalCloudError:
        deployed = ", ".join(_deployed_backends(cloud)) or "none"
        raise _fail(
            f"the {backend} backend is not deployed in this local cloud (deployed: {deployed}): "
            f"deploy it with `sfn-inference up --backend {backend}`"
        ) from None


def _deployed_backends(cloud: control.LocalCloud) -> list[str]:
    stacks = set(cloud.deployed_stacks())
    return [backend for backend, name in control.STACKS.items() if name in stacks]


def _backends(option: str) -> list[str]:
    if option == "both":
        return list(control.STACKS)
    if option not in control.STACKS:
        raise _fail(f"unknown backend {option!r}: choose {', '.join(control.STACKS)} or both")
    return [option]


def env_lines(cloud: control.LocalCloud) -> list[str]:
    lines = [f"export {k}={v}" for k, v in cloud.ctx.aws_env().items()]
    url = api_base_url(cloud, control.STACKS["litert"])
    if url is not None:
        lines.append(f"export SFN_API_URL={url}")
    return lines


def api_base_url(cloud: control.LocalCloud, stack_name: str) -> str | None:
    """The base URL of the stack's HTTP API (its first stage), when that stack is deployed."""
    if stack_name not in cloud.deployed_stacks():
        return None
    routes = cloud.http_routes(stack_name)
    if not routes:
        return None
    path = routes[0].route_key.partition(" ")[2]
    return routes[0].url.removesuffix(path) if path else routes[0].url


def print_routes(cloud: control.LocalCloud, stack_name: str) -> None:
    """As `sam local start-api` does: each route, its function, its local URL."""
    for route in cloud.http_routes(stack_name):
        console.print(
            f"  mounted {route.function} at [bold]{route.url}[/bold] \\[{route.method}]",
            highlight=False,
            soft_wrap=True,
        )


@app.command()
def up(
    detach: Annotated[bool, typer.Option(help="leave the local cloud running in the background")] = False,
    backend: Annotated[str, typer.Option(help="litert, sagemaker or both")] = "litert",
    max_workers: Annotated[int, typer.Option(help="execution environments per function")] = 4,
    fresh: Annotated[
        bool, typer.Option(help="start empty: forget the S3 objects and function logs the last run kept")
    ] = False,
    state_dir: StateDir = None,
) -> None:
    """Start the local cloud and deploy infra/template.yaml into it (into the running one, if there is one).

    The S3 objects the last run kept come back, unless ``--fresh``.
    """
    backends = _backends(backend)
    running = control.find(state_dir)
    if running is not None:
        if fresh:
            raise _fail("--fresh starts a new local cloud, but one is running: `sfn-inference down` first")
        _deploy_into_running(running, backends)
        return
    started = time.monotonic()
    try:
        cloud = control.start(state_dir, max_workers, fresh=fresh)
    except control.LocalCloudError as exc:
        raise _fail(str(exc)) from None
    console.print(
        f"local cloud at [bold]{cloud.ctx.endpoint_url}[/bold] (pid {cloud.pid}), "
        f"ready in {time.monotonic() - started:.2f} s"
    )
    print_restored(cloud, fresh)
    try:
        for name in backends:
            t0 = time.monotonic()
            stack = cloud.deploy(name)
            console.print(
                f"deployed stack [bold]{stack.name}[/bold] ({len(stack.resources)} resources) "
                f"in {time.monotonic() - t0:.1f} s"
            )
            for key, value in stack.outputs.items():
                console.print(f"  {key}: {value}")
            print_routes(cloud, stack.name)
    except Exception as exc:
        cloud.stop()
        raise _fail(f"deploy failed: {exc}") from None
    console.print("\npoint the AWS CLI and boto3 at it:\n" + "\n".join(env_lines(cloud)))
    if detach:
        console.print("\nrunning in the background; stop it with `sfn-inference down`")
        return
    console.print("\nrunning; Ctrl-C stops it")
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        stop_and_report(cloud)


def _deploy_into_running(cloud: control.LocalCloud, backends: list[str]) -> None:
    """``up`` while a local cloud runs: deploy the backends it lacks, leave the others alone."""
    console.print(f"a local cloud is already running at [bold]{cloud.ctx.endpoint_url}[/bold] (pid {cloud.pid})")
    present = _deployed_backends(cloud)
    for name in backends:
        if name in present:
            console.print(f"  the {name} backend is deployed already")
            continue
        t0 = time.monotonic()
        try:
            stack = cloud.deploy(name)
        except Exception as exc:
            raise _fail(f"deploy failed: {exc}") from None
        console.print(f"deployed stack [bold]{stack.name}[/bold] in {time.monotonic() - t0:.1f} s")
        for key, value in stack.outputs.items():
            console.print(f"  {key}: {value}")
    console.print("\npoint the AWS CLI and boto3 at it:\n" + "\n".join(env_lines(cloud)))


def print_restored(cloud: control.LocalCloud, fresh: bool) -> None:
    where = s3_persistence.store_dir(cloud.ctx.state_dir)
    if fresh:
        console.print(f"started fresh: no S3 objects restored ({where} was cleared)")
        return
    tally = s3_persistence.read_tally(cloud.ctx.state_dir, s3_persistence.RESTORED_FILE)
    if tally and tally.objects:
        console.print(
            f"restored {tally.objects} S3 object(s) ({_megabytes(tally.bytes)}) in {tally.buckets} bucket(s) "
            f"from {where}; no event is sent for them (`up --fresh` starts empty)"
        )
        console.print(f"not kept from the last run: {s3_persistence.NOT_KEPT}")


def _megabytes(n: int) -> str:
    return f"{n / 1_048_576:.1f} MB"


@app.command()
def down(state_dir: StateDir = None) -> None:
    """Stop the local cloud; its S3 objects are saved in the state directory and come back on `up`."""
    looked_in = state_dir or default_state_dir()
    cloud = control.find(looked_in)
    if cloud is None:
        raise _fail(f"no local cloud is running (looked in {looked_in})")
    stop_and_report(cloud)


def stop_and_report(cloud: control.LocalCloud) -> None:
    """Stop the cloud, then say what it kept for the next `up` and what it did not."""
    started = time.monotonic()
    cloud.stop()
    console.print(f"stopped the local cloud (pid {cloud.pid}) in {time.monotonic() - started:.2f} s")
    where = s3_persistence.store_dir(cloud.ctx.state_dir)
    tally = s3_persistence.read_tally(cloud.ctx.state_dir, s3_persistence.SAVED_FILE)
    if tally is None:
        raise _fail(f"the S3 objects were not saved: see {cloud.ctx.state_dir / 'server.log'}")
    console.print(
        f"kept {tally.objects} S3 object(s) ({_megabytes(tally.bytes)}) in {tally.buckets} bucket(s) under {where}: "
        "they come back on the next `up` (`up --fresh` starts empty)"
    )
    console.print(f"not kept: {s3_persistence.NOT_KEPT}")


@app.command()
def env(state_dir: StateDir = None) -> None:
    """Print the environment that points the AWS CLI and boto3 at the local cloud."""
    print("\n".join(env_lines(_cloud(state_dir))))


def _image_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            files.append(path)
        else:
            raise _fail(f"{path} does not exist")
    return files


def upload_files(
    cloud: control.LocalCloud, bucket: str, files: list[Path], prefix: str, root: Path | None = None
) -> list[str]:
    s3 = cloud.client("s3")
    keys = []
    with _progress() as progress:
        task = progress.add_task(f"uploading to s3://{bucket}/{prefix}", total=len(files))
        for path in files:
            name = str(path.relative_to(root)) if root else path.name
            key = f"{prefix}{name}"
            s3.upload_file(str(path), bucket, key)
            keys.append(key)
            progress.advance(task)
    return keys


@app.command()
def upload(
    paths: Annotated[list[Path], typer.Argument(help="files or directories")],
    backend: StackOpt = "litert",
    prefix: Annotated[str, typer.Option(help="key prefix; the trigger listens on incoming/")] = "incoming/",
    state_dir: StateDir = None,
) -> None:
    """Put files under the input prefix; the S3 -> EventBridge trigger starts one execution each."""
    cloud = _cloud(state_dir)
    bucket = _stack(cloud, backend)["outputs"]["BucketName"]
    keys = upload_files(cloud, bucket, _image_files(paths), prefix)
    console.print(f"uploaded {len(keys)} object(s) to s3://{bucket}/{prefix}")


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    )


def generate_test_cases(
    cloud: control.LocalCloud,
    bucket: str,
    count: int,
    prefix: str = "test/",
    seed: int | None = None,
    backend: str = "litert",
) -> list[dict[str, str]]:
    """The course's generate_test_case(): random keys from the test prefix."""
    s3 = cloud.client("s3")
    keys = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for o in page.get("Contents", [])
    ]
    if not keys:
        raise _fail(f"s3://{bucket}/{prefix} is empty: seed it with `sfn-inference seed --backend {backend}`")
    rng = random.Random(seed)
    return [{"s3_bucket": bucket, "s3_key": rng.choice(keys)} for _ in range(count)]


def start_and_wait(
    cloud: control.LocalCloud, state_machine_arn: str, cases: list[dict[str, str]], timeout_s: float = 300
) -> list[ExecutionSummary]:
    sfn = cloud.client("stepfunctions")
    token = uuid.uuid4().hex[:8]  # one run: the same object twice in one run is two test cases
    arns = []
    for i, case in enumerate(cases):
        name = execution_name(case["s3_bucket"], case["s3_key"], sequencer=f"{token}-{i}")
        arns.append(
            sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(case))["executionArn"]
        )
    return wait_with_progress(cloud, arns, timeout_s)


def wait_with_progress(cloud: control.LocalCloud, arns: list[str], timeout_s: float) -> list[ExecutionSummary]:
    sfn = cloud.client("stepfunctions")
    pending, done = set(arns), {}
    deadline = time.monotonic() + timeout_s
    with _progress() as progress:
        task = progress.add_task("executions", total=len(arns))
        while pending and time.monotonic() < deadline:
            for arn in list(pending):
                if sfn.describe_execution(executionArn=arn)["status"] != "RUNNING":
                    pending.discard(arn)
                    done[arn] = summarise(sfn, arn, history=True)
                    progress.advance(task)
            time.sleep(0.1)
    for arn in pending:
        done[arn] = summarise(sfn, arn, history=True)
    return [done[a] for a in arns]


@app.command()
def run(
    count: Annotated[int, typer.Option(help="number of generated test cases")] = 10,
    backend: StackOpt = "litert",
    seed: Annotated[int | None, typer.Option(help="seed for the random pick of keys")] = None,
    state_dir: StateDir = None,
) -> None:
    """Start executions for random keys of the test prefix, wait, and summarise them."""
    cloud = _cloud(state_dir)
    stack = _stack(cloud, backend)
    cases = generate_test_cases(cloud, stack["outputs"]["BucketName"], count, seed=seed, backend=backend)
    summaries = start_and_wait(cloud, stack["outputs"]["StateMachineArn"], cases)
    print_executions(summaries)
    print_tally(tally(summaries))


@app.command()
def seed(
    backend: Annotated[
        str | None, typer.Option("--backend", help="litert, sagemaker or both (default: every deployed backend)")
    ] = None,
    prefix: Annotated[str, typer.Option(help="where generated test cases pick their keys")] = "test/",
    state_dir: StateDir = None,
) -> None:
    """Upload the demo data set's test split (PNGs) under the test prefix of each backend's bucket."""
    cloud = _cloud(state_dir)
    backends = _backends(backend) if backend else _deployed_backends(cloud)
    if not backends:
        raise _fail("no backend is deployed in this local cloud: deploy one with `sfn-inference up`")
    buckets = {name: _stack(cloud, name)["outputs"]["BucketName"] for name in backends}
    seeded = seed_test_split(cloud, list(buckets.values()), prefix)
    for name, bucket in buckets.items():
        console.print(f"seeded {len(seeded[bucket])} test images at s3://{bucket}/{prefix} ({name} backend)")


def seed_test_split(cloud: control.LocalCloud, buckets: list[str], prefix: str) -> dict[str, list[str]]:
    """The demo split, written to disk once and uploaded to each bucket: keys per bucket."""
    from sfn_workbench.training.datasets import demo_split  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp:
        files = demo_split(Path(tmp))
        return {bucket: upload_files(cloud, bucket, files, prefix, root=Path(tmp)) for bucket in buckets}


@app.command()
def executions(
    backend: StackOpt = "litert",
    limit: Annotated[int, typer.Option(help="most recent N")] = 50,
    state_dir: StateDir = None,
) -> None:
    """Status, label, confidence, error and duration of recent executions."""
    cloud = _cloud(state_dir)
    sfn = cloud.client("stepfunctions")
    arns = list_execution_arns(sfn, _stack(cloud, backend)["outputs"]["StateMachineArn"])[:limit]
    print_executions([summarise(sfn, arn) for arn in arns])


def print_executions(summaries: list[ExecutionSummary]) -> None:
    table = Table(title=f"{len(summaries)} execution(s)")
    for column in ("key", "status", "label", "confidence", "error", "duration"):
        table.add_column(column, justify="right" if column in {"confidence", "duration"} else "left")
    colour = {"SUCCEEDED": "green", "FAILED": "red", "RUNNING": "yellow"}
    for s in summaries:
        table.add_row(
            s.key or s.name,
            f"[{colour.get(s.status, 'white')}]{s.status}[/]",
            s.label or "",
            "" if s.confidence is None else f"{s.confidence:.3f}",
            s.error or "",
            "" if s.duration_s is None else f"{s.duration_s:.2f} s",
        )
    console.print(table)


def print_tally(counts: dict[str, Any]) -> None:
    table = Table(title="summary", show_header=False)
    outcomes = counts["outcomes"]
    table.add_row("executions", str(counts["total"]))
    table.add_row("succeeded (confident)", str(outcomes.get("confident", 0)))
    table.add_row("failed: low confidence", str(outcomes.get("low_confidence", 0)))
    table.add_row("failed: other errors", f"{outcomes.get('error', 0)} {counts['errors'] or ''}")
    table.add_row("per label", ", ".join(f"{k}: {v}" for k, v in counts["labels"].items()))
    if counts["slowest_state"]:
        mean = counts["mean_state_seconds"]
        table.add_row("slowest step", f"{counts['slowest_state']} ({mean[counts['slowest_state']] * 1000:.0f} ms mean)")
    console.print(table)


@app.command()
def logs(
    function: Annotated[str, typer.Argument(help="serialize, classify, filter, report, or a full function name")],
    backend: StackOpt = "litert",
    lines: Annotated[int, typer.Option("--lines", "-n", help="last N lines")] = 50,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="then print new lines as they come, until Ctrl-C")
    ] = False,
    state_dir: StateDir = None,
) -> None:
    """Show a function's logs (START/END/REPORT lines and the handler's own output)."""
    cloud = _cloud(state_dir)
    resources = _stack(cloud, backend)["resources"]
    names = {
        k.removesuffix("Function").lower(): v["ref"]
        for k, v in resources.items()
        if v["type"] == "AWS::Lambda::Function"
    }
    name = names.get(function.lower(), function)
    path = cloud.ctx.logs_dir / f"{name}.log"
    if not path.exists() and not follow:
        known = ", ".join(sorted(names))
        raise _fail(f"no logs for {name} yet (functions: {known})")
    position = 0
    if path.exists():
        data = path.read_bytes()
        position = len(data)
        print("\n".join(data.decode(errors="replace").splitlines()[-lines:]), flush=True)
    if follow:
        with contextlib.suppress(KeyboardInterrupt):
            follow_file(path, position)


def follow_file(path: Path, position: int, poll_s: float = 0.2) -> None:
    """Print the lines appended to ``path`` after ``position``, until interrupted (``tail -F``)."""
    pending = b""
    while True:
        size = path.stat().st_size if path.exists() else 0
        if size < position:  # truncated or replaced (`up --fresh`): start again from the top
            position, pending = 0, b""
        if size > position:
            with path.open("rb") as f:
                f.seek(position)
                chunk = f.read(size - position)
            position += len(chunk)
            *complete, pending = (pending + chunk).split(b"\n")
            for line in complete:
                print(line.decode(errors="replace"), flush=True)
        time.sleep(poll_s)


@app.command()
def predict(
    target: Annotated[str, typer.Argument(help="an image file (its bytes are POSTed) or a URL (http, https, s3)")],
    route: Annotated[
        str | None,
        typer.Option(help="the route's path (default: /digits/predict for a file, /fashion/predict for a URL)"),
    ] = None,
    upload: Annotated[
        bool, typer.Option(help="put the file in the stack's bucket under test/ and send its s3:// URL instead")
    ] = False,
    backend: StackOpt = "litert",
    state_dir: StateDir = None,
) -> None:
    """Ask the local HTTP API for a prediction, as the tutorials' clients do; print its JSON answer."""
    cloud = _cloud(state_dir)
    stack_name = control.STACKS.get(backend, backend)
    base = api_base_url(cloud, stack_name)
    if base is None:
        raise _fail(f"stack {stack_name} has no HTTP API deployed (run `sfn-inference up --backend {backend}`)")
    path = Path(target)
    if "://" not in target and not path.is_file():
        raise _fail(f"{target} is neither a file nor a URL")
    if upload and "://" not in target:
        bucket = _stack(cloud, backend)["outputs"]["BucketName"]
        key = f"test/predict/{path.name}"
        cloud.client("s3").upload_file(str(path), bucket, key)
        target = f"s3://{bucket}/{key}"
    if "://" in target:
        body, content_type = json.dumps({"url": target}).encode(), "application/json"
        route = route or "/fashion/predict"
    else:
        body = path.read_bytes()
        content_type = "image/jpeg" if body.startswith(b"\xff\xd8\xff") else "image/png"
        route = route or "/digits/predict"
    status, answer = post(f"{base}{route}", body, content_type)
    console.print(f"HTTP {status} from POST {base}{route}", style="green" if status < 400 else "red", highlight=False)
    print(answer)
    if status >= 400:
        raise typer.Exit(1)


def post(url: str, body: bytes, content_type: str, timeout_s: float = 35.0) -> tuple[int, str]:
    """One POST with the standard library; an HTTP error status is an answer, not an exception."""
    import urllib.error  # noqa: PLC0415
    import urllib.request  # noqa: PLC0415

    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": content_type})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 - our own local URL
            return int(response.status), response.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode(errors="replace")


def parse_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or len(uri) <= len("s3://"):
        raise _fail(f"expected s3://bucket/prefix, got {uri!r}")
    bucket, _, prefix = uri[len("s3://") :].partition("/")
    return bucket, prefix


def run_batch(
    sfn: Any, state_machine_arn: str, bucket: str, prefix: str, batch_size: int | None, timeout_s: float = 900
) -> dict[str, Any]:
    """Start a batch execution, show the map run's progress, and return the final description."""
    request: dict[str, Any] = {"bucket": bucket, "prefix": prefix}
    if batch_size is not None:
        request["batch_size"] = batch_size
    arn = sfn.start_execution(stateMachineArn=state_machine_arn, input=json.dumps(request))["executionArn"]
    deadline = time.monotonic() + timeout_s
    with _progress() as progress:
        task = progress.add_task(f"batch s3://{bucket}/{prefix}", total=None)
        while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
            if time.monotonic() > deadline:
                raise _fail(f"{arn} still running after {timeout_s:.0f} s")
            runs = sfn.list_map_runs(executionArn=arn).get("mapRuns", [])
            if runs:
                counts = sfn.describe_map_run(mapRunArn=runs[0]["mapRunArn"]).get("itemCounts", {})
                done = counts.get("succeeded", 0) + counts.get("failed", 0) + counts.get("timedOut", 0)
                progress.update(task, total=counts.get("total") or None, completed=done)
            time.sleep(0.2)
        progress.update(task, completed=progress.tasks[0].total or 0)
    return dict(described)


def print_batch_summary(summary: dict[str, Any]) -> None:
    table = Table(title=f"batch s3://{summary['bucket']}/{summary['prefix']}", show_header=False)
    table.add_row("items", str(summary["items"]))
    for outcome, n in summary["outcomes"].items():
        table.add_row(outcome, str(n))
    table.add_row("per label", ", ".join(f"{k}: {v}" for k, v in summary["labels"].items()))
    if summary["errors"]:
        table.add_row("errors", ", ".join(f"{k}: {v}" for k, v in summary["errors"].items()))
    if summary.get("note"):
        table.add_row("note", summary["note"])
    table.add_row("rows", f"s3://{summary['bucket']}/{summary['items_key']}")
    console.print(table)


def failure(described: dict[str, Any]) -> str:
    """An execution's error and cause, with a Lambda error's message rather than its JSON and stack trace."""
    cause = described.get("cause") or ""
    with contextlib.suppress(json.JSONDecodeError, AttributeError):
        cause = json.loads(cause).get("errorMessage", cause)
    return f"{described['status']}: {described.get('error')}: {cause}"


@app.command()
def batch(
    uri: Annotated[str, typer.Argument(help="s3://bucket/prefix to classify (under incoming/ or test/)")],
    batch_size: Annotated[int | None, typer.Option(help="keys per child workflow (default: the template's)")] = None,
    backend: StackOpt = "litert",
    stack: Annotated[str | None, typer.Option(help="on AWS: the CloudFormation stack to use")] = None,
    state_dir: StateDir = None,
) -> None:
    """Classify a whole prefix in one execution (a Distributed Map), locally or on AWS."""
    bucket, prefix = parse_s3_uri(uri)
    if stack is not None:  # AWS: the default credentials and region of boto3
        import boto3  # noqa: PLC0415

        outputs = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]
        arn = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "BatchStateMachineArn")
        sfn = boto3.client("stepfunctions")
    else:
        cloud = _cloud(state_dir)
        arn = _stack(cloud, backend)["outputs"]["BatchStateMachineArn"]
        sfn = cloud.client("stepfunctions")
    described = run_batch(sfn, arn, bucket, prefix, batch_size)
    if described["status"] != "SUCCEEDED":
        raise _fail(f"batch {failure(described)}")
    print_batch_summary(json.loads(described["output"]))


def wait_for_triggered(cloud: control.LocalCloud, state_machine_arn: str, expected: int, timeout_s: float) -> list[str]:
    """Wait until the trigger has started ``expected`` executions; returns their ARNs."""
    sfn = cloud.client("stepfunctions")
    deadline = time.monotonic() + timeout_s
    arns = list_execution_arns(sfn, state_machine_arn)
    while len(arns) < expected and time.monotonic() < deadline:
        time.sleep(0.5)
        arns = list_execution_arns(sfn, state_machine_arn)
    return arns


@app.command()
def monitor(
    window: Annotated[int, typer.Option(help="minutes of captures to read, ending now")] = 60,
    backend: StackOpt = "litert",
    state_dir: StateDir = None,
) -> None:
    """Run the drift monitor now (the deployed monitor function, the code the schedule runs) and show its report."""
    cloud = _cloud(state_dir)
    function = _stack(cloud, backend)["resources"]["MonitorFunction"]["ref"]
    response = cloud.client("lambda").invoke(FunctionName=function, Payload=json.dumps({"window_minutes": window}))
    report = json.loads(response["Payload"].read())
    if "FunctionError" in response:
        raise _fail(f"the monitor failed: {report.get('errorType')}: {report.get('errorMessage')}")
    print_monitoring_report(report)


def print_monitoring_report(report: dict[str, Any]) -> None:
    colour = {"ok": "green", "violations": "red"}.get(report["status"], "yellow")
    console.print(
        f"[{colour}]{report['status']}[/{colour}]: {report['item_count']} inferences of {report['endpoint']} "
        f"from {report['window']['start']} to {report['window']['end']}"
    )
    if report["checks"]:
        table = Table("check", "value", "threshold", "verdict")
        for check in report["checks"]:
            verdict = "[red]violated[/red]" if check["violated"] else "ok"
            table.add_row(check["name"], f"{check['value']:.4f}", f"{check['threshold']:.4f}", verdict)
        console.print(table)
    for violation in report["violations"]:
        console.print(f"  [red]{violation['feature_name']}[/red]: {violation['description']}")
    if report.get("unreadable_records"):
        console.print(f"[yellow]{report['unreadable_records']} capture records could not be read[/yellow]")
    console.print(f"reports: {report['report_prefix']}")


@app.command()
def demo(
    keep: Annotated[bool, typer.Option(help="leave the local cloud running afterwards")] = False,
    count: Annotated[int, typer.Option(help="generated test cases per backend")] = 20,
    state_dir: StateDir = None,
) -> None:
    """The whole pipeline end to end: up, upload the demo test split, test cases, summary."""
    existing = control.find(state_dir)
    if existing is not None:
        existing.stop()
    started = time.monotonic()
    cloud = control.start(state_dir)
    console.rule(f"local cloud at {cloud.ctx.endpoint_url} (ready in {time.monotonic() - started:.2f} s)")
    try:
        stacks = {}
        for backend in control.STACKS:
            t0 = time.monotonic()
            stacks[backend] = cloud.deploy(backend)
            console.print(
                f"deployed [bold]{stacks[backend].name}[/bold] (backend={backend}) in {time.monotonic() - t0:.1f} s"
            )
        litert = stacks["litert"].outputs
        with tempfile.TemporaryDirectory() as tmp:
            from sfn_workbench.training.datasets import demo_split  # noqa: PLC0415

            files = demo_split(Path(tmp))
            console.rule(f"1. upload {len(files)} demo images: the S3 trigger starts one execution each")
            upload_files(cloud, litert["BucketName"], files, "incoming/", root=Path(tmp))
            for stack in stacks.values():
                upload_files(cloud, stack.outputs["BucketName"], files, "test/", root=Path(tmp))
        arns = wait_for_triggered(cloud, litert["StateMachineArn"], len(files), timeout_s=120)
        triggered = wait_with_progress(cloud, arns, timeout_s=600)
        print_tally(tally(triggered))
        missing = len(files) - len(triggered)
        if missing:
            raise _fail(f"{missing} uploaded image(s) have no execution")
        results = {"triggered (litert)": triggered}
        for backend, stack in stacks.items():
            console.rule(f"2. {count} generated test cases on the {backend} backend")
            cases = generate_test_cases(cloud, stack.outputs["BucketName"], count, seed=0, backend=backend)
            results[f"test cases ({backend})"] = summaries = start_and_wait(
                cloud, stack.outputs["StateMachineArn"], cases
            )
            print_executions(summaries[:10])
            print_tally(tally(summaries))
        console.rule("3. one batch execution over the test split (Distributed Map)")
        t0 = time.monotonic()
        described = run_batch(
            cloud.client("stepfunctions"), litert["BatchStateMachineArn"], litert["BucketName"], "test/", None
        )
        if described["status"] != "SUCCEEDED":
            raise _fail(f"batch {failure(described)}")
        batch_summary = json.loads(described["output"])
        print_batch_summary(batch_summary)
        console.print(f"{batch_summary['items']} images in {time.monotonic() - t0:.1f} s")
        console.rule("summary")
        print_demo_summary(results)
        inferences = {
            "litert": answered(triggered) + answered(results["test cases (litert)"]) + answered_rows(batch_summary),
            "sagemaker": answered(results["test cases (sagemaker)"]),
        }
        report_captures(cloud, {b: s.outputs["BucketName"] for b, s in stacks.items()}, inferences)
    finally:
        if keep:
            console.print("\nthe local cloud keeps running:\n" + "\n".join(env_lines(cloud)))
        else:
            cloud.stop()


def print_demo_summary(results: dict[str, list[ExecutionSummary]]) -> None:
    table = Table(title="demo")
    for column in ("run", "executions", "succeeded", "low confidence", "other errors", "slowest step"):
        table.add_column(column)
    for name, summaries in results.items():
        t = tally(summaries)
        slow = t["slowest_state"]
        table.add_row(
            name,
            str(t["total"]),
            str(t["outcomes"].get("confident", 0)),
            str(t["outcomes"].get("low_confidence", 0)),
            f"{t['outcomes'].get('error', 0)} {t['errors'] or ''}".strip(),
            f"{slow} ({t['mean_state_seconds'][slow] * 1000:.0f} ms)" if slow else "",
        )
    console.print(table)


def report_captures(cloud: control.LocalCloud, buckets: dict[str, str], inferences: dict[str, int]) -> None:
    """How many capture records landed against how many inferences, copied where the notebook can read them."""
    s3 = cloud.client("s3")
    destination = cloud.ctx.state_dir / "demo-captures"
    shutil.rmtree(destination, ignore_errors=True)
    reports = []
    with console.status("waiting for buffered capture records to reach S3") as status:
        for backend, bucket in buckets.items():
            expected = inferences[backend]

            def progress(records: int, backend: str = backend, expected: int = expected) -> None:
                status.update(f"capture records ({backend}): {records} of {expected}")

            records = wait_for_records(s3, bucket, expected, on_progress=progress)
            files = copy_captures(s3, bucket, destination)
            reports.append(CaptureReport(backend, bucket, expected, records, files))
    table = Table(title="data capture")
    for column in ("backend", "inferences", "capture records", "missing", "in S3"):
        table.add_column(column, justify="right" if column in {"inferences", "capture records", "missing"} else "left")
    for r in reports:
        missing = f"[red]{r.missing}[/red]" if r.missing else "0"
        table.add_row(r.backend, str(r.inferences), str(r.records), missing, f"s3://{r.bucket}/{CAPTURE_PREFIX}")
    console.print(table)
    lost = sum(r.missing for r in reports)
    if lost:
        console.print(f"[red]{lost} inference(s) have no capture record after {CAPTURE_WAIT_S:.0f} s[/red]")
    console.print(f"the capture files are copied to {destination} (they outlive the local cloud); open the notebook:")
    console.print(notebook_command(destination), soft_wrap=True)


if __name__ == "__main__":
    app()


@app.command()
def tutorials(
    keep: Annotated[bool, typer.Option(help="leave the local cloud running afterwards")] = False,
    state_dir: StateDir = None,
) -> None:
    """The FordA and scikit-learn tutorials' own requests, answered by the local cloud (issue 13)."""
    from sfn_workbench import tutorials as seeds  # noqa: PLC0415

    cloud = control.find(state_dir)
    started = cloud is None
    if cloud is None:
        cloud = control.start(state_dir)
    try:
        if control.STACKS["litert"] not in cloud.deployed_stacks():
            cloud.deploy("litert")
        stack = cloud.stack(control.STACKS["litert"])
        lam = cloud.client("lambda")

        def invoke(function: str, event: Any) -> Any:
            response = lam.invoke(FunctionName=function, Payload=json.dumps(event))
            payload = json.loads(response["Payload"].read())
            if "FunctionError" in response:
                raise _fail(f"{function}: {payload.get('errorType')}: {payload.get('errorMessage')}")
            return payload

        transport = seeds.Transport(stack["outputs"], invoke, api_base_url(cloud, control.STACKS["litert"]) or "")
        console.rule(f"the tutorials' requests, through {transport.how}")
        exchanges = seeds.run(transport)
        table = Table()
        for column in ("system", "request", "answer", "expected", ""):
            table.add_column(column)
        for x in exchanges:
            mark = "[green]ok[/green]" if x.ok else "[red]differs[/red]"
            table.add_row(x.system, x.request, json.dumps(x.answer), json.dumps(x.expected), mark)
        console.print(table)
        if not all(x.ok for x in exchanges):
            raise _fail("an answer differs from the tutorial's")
    finally:
        if keep or not started:
            console.print("\nthe local cloud keeps running:\n" + "\n".join(env_lines(cloud)))
        else:
            cloud.stop()
