"""Which of the local cloud's speed levers are on: the ``SFN_LOCALCLOUD_SPEEDUPS`` variable.

Every lever keeps moto's behaviour and only cuts its cost, so turning one off changes
timings and nothing else: ``make bench`` does, to measure what the levers save against
the server without them, in the same run. The server process reads the variable once, at
start: unset or ``all`` turns every lever on, ``none`` serves moto as it ships, and
otherwise it is a comma-separated list of the names below.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

VARIABLE = "SFN_LOCALCLOUD_SPEEDUPS"
#: Each lever, and what it saves.
LEVERS: Mapping[str, str] = {
    "clients": "one boto3 client per region and service for the ASL interpreter's tasks, not one per task",
    "definitions": "one ANTLR parse per state machine definition, not one per execution",
    "modules": "moto's list of its modules computed once, not on every HTTP request",
    "jsonpath": "one parse per JSONPath expression, not one per evaluation",
    "keepalive": "HTTP/1.1 persistent connections, not a connection and a thread per request",
    "dispatch": "a response class's methods listed once, not with inspect on every request",
    "lambda": "a lambda:invoke task calls moto's Lambda backend in the process, not itself over HTTP",
    "copies": "state data copied by a walk over JSON's types, not copy.deepcopy with its memo",
    "lists": "a Distributed Map's ItemReader lists from moto's S3 backend in the process, not itself over HTTP",
}
#: The levers of the server as issue 15 measured it ("today's"): the first three.
ISSUE_15_BASELINE = "clients,definitions,modules"


class LeverError(ValueError):
    """``SFN_LOCALCLOUD_SPEEDUPS`` names a lever that does not exist."""


def enabled(environ: Mapping[str, str] | None = None) -> frozenset[str]:
    value = (os.environ if environ is None else environ).get(VARIABLE, "all").strip()
    if value in ("", "all"):
        return frozenset(LEVERS)
    if value == "none":
        return frozenset()
    names = frozenset(name.strip() for name in value.split(",") if name.strip())
    unknown = sorted(names - set(LEVERS))
    if unknown:
        raise LeverError(f"{VARIABLE}={value!r}: unknown lever(s) {unknown}; known: all, none, {', '.join(LEVERS)}")
    return names
