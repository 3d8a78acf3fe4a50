"""What starts a monitoring run: the EventBridge schedule's event, or a request naming the window."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sfn_inference.core.errors import InvalidEventError
from sfn_inference.core.messages import parse_model
from sfn_inference.monitoring.run import Window


class MonitorRequest(BaseModel):
    """``{"window_minutes"?, "end"?}``; a scheduled event's ``time`` is the window's end."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    window_minutes: int | None = Field(default=None, ge=1, le=7 * 24 * 60)
    end: datetime | None = None
    time: datetime | None = None  # EventBridge's "Scheduled Event"


def window_of(event: Any, default_minutes: int, now: datetime | None = None) -> Window:
    if event is None:
        event = {}
    if not isinstance(event, dict):
        raise InvalidEventError(f"expected a JSON object or a scheduled event, got {type(event).__name__}")
    request = parse_model(MonitorRequest, event)
    end = request.end or request.time or now or datetime.now(UTC)
    if end.tzinfo is None:
        raise InvalidEventError("end must carry a time zone, e.g. 2026-11-30T12:00:00Z")
    return Window.ending(end.astimezone(UTC), request.window_minutes or default_minutes)
