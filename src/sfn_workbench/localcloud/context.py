"""What every plugin of the local cloud's server process needs to know."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ACCOUNT_ID = "123456789012"
LOG_GROUPS_FILE = "log-groups.json"
REGION = "us-east-1"


@dataclass(frozen=True)
class LocalCloudContext:
    endpoint_url: str  # http://127.0.0.1:<port>, the moto server itself
    state_dir: Path  # .sfn-inference/: logs, build artifacts, endpoint model dirs
    max_workers_per_function: int = 4
    region: str = REGION
    account_id: str = ACCOUNT_ID

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    def log_groups(self) -> dict[str, str]:
        """Each function's ``LoggingConfig.LogGroup``: moto accepts the setting but does not keep it,
        so the deployer records it here and the Lambda plugin reads it."""
        path = self.state_dir / LOG_GROUPS_FILE
        groups: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
        return groups

    def record_log_group(self, function_name: str, log_group: str) -> None:
        path = self.state_dir / LOG_GROUPS_FILE
        groups = {**self.log_groups(), function_name: log_group}
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(groups, indent=2))
        partial.replace(path)

    def session(self) -> Any:
        """A boto3 session with moto's dummy credentials (point clients at ``endpoint_url``)."""
        import boto3  # noqa: PLC0415

        env = self.aws_env()
        return boto3.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=self.region,
        )

    def client(self, service: str) -> Any:
        return self.session().client(service, endpoint_url=self.endpoint_url)

    def aws_env(self) -> dict[str, str]:
        """Environment that points boto3 and the AWS CLI in a child process at this cloud."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }
