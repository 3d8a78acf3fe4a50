"""Plugin: EventBridge schedules fire on the local cloud (moto stores ``ScheduleExpression`` but never runs it).

A ``rate(N unit)`` rule fires every period after it was created, as on AWS, and hands its
Lambda targets EventBridge's "Scheduled Event". ``cron(...)`` expressions are not run
locally (docs/monitoring.md says so); each such rule is logged once.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from moto.events.models import events_backends

from sfn_workbench.localcloud import eventbridge_plugin, patches
from sfn_workbench.localcloud.context import LocalCloudContext

#: Nothing of moto's is patched: the plugin reads the rules and invokes through the Lambda plugin.
PATCH_TARGETS: tuple[patches.Target, ...] = ()
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
log = logging.getLogger(__name__)


def period_of(expression: str) -> float | None:
    """Seconds between runs of a ``rate(...)`` expression; None for anything else (cron)."""
    match = _RATE.match(expression.strip())
    return int(match[1]) * _SECONDS[match[2].rstrip("s")] if match else None


def scheduled_event(account: str, region: str, rule_arn: str, when: float) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


class Scheduler:
    """Fires due rules; ``tick`` is the whole logic, so a test drives it with its own clock."""

    def __init__(self, ctx: LocalCloudContext, invoke: Callable[[str, str], None]) -> None:
        self.ctx = ctx
        self.invoke = invoke
        self._due: dict[str, float] = {}
        self._warned: set[str] = set()

    def tick(self, now: float) -> int:
        fired = 0
        for rule in self._rules():
            period = period_of(rule.scheduled_expression or "")
            if period is None:
                if rule.arn not in self._warned:
                    log.warning("%s: %s is not run on the local cloud", rule.name, rule.scheduled_expression)
                    self._warned.add(rule.arn)
                continue
            due = self._due.setdefault(rule.arn, now + period)
            if now < due or rule.state != "ENABLED":
                continue
            self._due[rule.arn] = due + period * max(1, int((now - due) // period) + 1)
            event = json.dumps(scheduled_event(self.ctx.account_id, self.ctx.region, rule.arn, now))
            for target in rule.targets:
                if target["Arn"].split(":")[2] == "lambda":
                    self.invoke(target["Arn"], target.get("Input", event))
                    fired += 1
        return fired

    def _rules(self) -> list[Any]:
        backend = events_backends[self.ctx.account_id][self.ctx.region]
        return [r for bus in backend.event_buses.values() for r in bus.rules.values() if r.scheduled_expression]


def invoke_async(ctx: LocalCloudContext) -> Callable[[str, str], None]:
    """EventBridge invokes its Lambda targets asynchronously."""
    return lambda arn, payload: eventbridge_plugin.invoke_async(ctx.account_id, ctx.region, arn, payload)


_installed: list[Scheduler] = []


def install(ctx: LocalCloudContext) -> Scheduler:
    """Start the scheduler thread once per process; a second install re-targets it at ``ctx``."""
    if _installed:
        _installed[0].ctx, _installed[0].invoke = ctx, invoke_async(ctx)
        return _installed[0]
    scheduler = Scheduler(ctx, invoke_async(ctx))
    _installed.append(scheduler)

    def loop() -> None:
        while True:
            time.sleep(1.0)
            try:
                scheduler.tick(time.time())
            except Exception:  # a rule being edited mid-read: try again next second
                log.exception("scheduler tick failed")

    threading.Thread(target=loop, name="scheduler", daemon=True).start()
    return scheduler
