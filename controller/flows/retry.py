"""``retry``: re-send after transport trouble or a listed status, never after failed checks.

``attempts`` counts every send, the first included (flows.md §1.3: off-by-one counts are the
classic trap). A POST or PATCH is re-sent only when it provably never left (the connection
did not open), unless the step says it is ``idempotent``; then the listed statuses and
timeouts apply to it as to a GET. Waits grow by ``multiplier`` up to ``max_delay``, with
±20 % ``jitter`` when asked, and honour ``Retry-After`` (capped at ``max_delay``). No wait
runs past the step's deadline: the last outcome is reported instead.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from controller.clients.services import Exchange, ServiceClient, TransportFailure
from controller.flows.requests import Prepared
from controller.models.durations import parse_duration
from controller.models.http import retry_after_seconds

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
DEFAULT_ON = ("connect", 502, 503, 504)
UNSENT_ONLY_ON = ("connect",)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 1
    on: tuple[str | int, ...] = DEFAULT_ON
    delay: float = 0.2
    multiplier: float = 2.0
    max_delay: float = 5.0
    jitter: bool = False
    respect_retry_after: bool = True
    idempotent: bool = False

    @classmethod
    def of(cls, spec: Mapping[str, Any] | None) -> RetryPolicy:
        if not spec:
            return cls()
        return cls(
            attempts=int(spec.get("attempts", 1)),
            on=tuple(spec["on"]) if "on" in spec else DEFAULT_ON,
            delay=_seconds(spec.get("delay"), 0.2),
            multiplier=float(spec.get("multiplier", 2.0)),
            max_delay=_seconds(spec.get("max_delay"), 5.0),
            jitter=bool(spec.get("jitter", False)),
            respect_retry_after=bool(spec.get("respect_retry_after", True)),
            idempotent=bool(spec.get("idempotent", False)),
        )

    def wants(self, method: str, outcome: Exchange | TransportFailure) -> bool:
        """Whether ``outcome`` of a ``method`` request deserves another attempt."""
        safe = self.idempotent or method in IDEMPOTENT_METHODS
        if isinstance(outcome, TransportFailure):
            if outcome.kind == "connect" and not outcome.sent:
                return "connect" in self.on
            return safe and outcome.kind == "timeout" and "timeout" in self.on
        return safe and outcome.response.status in self.on

    def wait_after(self, attempt: int, outcome: Exchange | TransportFailure) -> float:
        """Seconds to wait after attempt number ``attempt`` (1-based)."""
        wait = min(self.delay * self.multiplier ** (attempt - 1), self.max_delay)
        if self.jitter:
            wait *= random.uniform(0.8, 1.2)
        if self.respect_retry_after and isinstance(outcome, Exchange):
            hinted = retry_after_seconds(outcome.response.header("retry-after"))
            if hinted is not None:
                wait = min(max(wait, hinted), self.max_delay)
        return max(wait, 0.0)


@dataclass(frozen=True, slots=True)
class Sent:
    """The last outcome and every attempt's outcome with its start (monotonic seconds)."""

    outcome: Exchange | TransportFailure
    attempts: tuple[tuple[float, Exchange | TransportFailure], ...]


async def send_with_retry(
    client: ServiceClient, prepared: Prepared, policy: RetryPolicy, *, deadline: float
) -> Sent:
    history: list[tuple[float, Exchange | TransportFailure]] = []
    attempt = 0
    while True:
        attempt += 1
        started = time.monotonic()
        outcome: Exchange | TransportFailure
        try:
            outcome = await client.send(
                prepared.outgoing,
                timeouts=prepared.timeouts.capped(deadline - started),
                deadline=deadline,
                follow_redirects=prepared.follow_redirects,
            )
        except TransportFailure as failure:
            outcome = failure
        history.append((started, outcome))
        if attempt >= policy.attempts or not policy.wants(prepared.outgoing.method, outcome):
            return Sent(outcome, tuple(history))
        wait = policy.wait_after(attempt, outcome)
        if time.monotonic() + wait >= deadline:
            return Sent(outcome, tuple(history))
        await asyncio.sleep(wait)


def _seconds(value: Any, default: float) -> float:
    return default if value is None else parse_duration(str(value)).total_seconds()
