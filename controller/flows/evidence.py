"""The evidence of one step as it is stored: what was sent and what came back, redacted
and cut to the suite's ``report.max_body_bytes``, and check results with secrets masked."""

from __future__ import annotations

from collections.abc import Mapping

from controller.checks import CheckResult
from controller.clients.services import Exchange
from controller.flows.redaction import Redactor
from controller.flows.requests import Prepared
from controller.flows.results import RequestRecord, ResponseRecord


def request_record(
    prepared: Prepared | None, exchange: Exchange | None, redactor: Redactor, max_body_bytes: int
) -> RequestRecord | None:
    """The last request sent (after redirects), or the prepared one when none left. A
    Basic credential seen here is registered with the redactor before anything is masked."""
    if prepared is None:
        return None
    sent = exchange.request if exchange is not None else prepared.outgoing
    for name, value in sent.headers:
        if name.lower() == "authorization":
            redactor.add_basic_credentials(value)
    content = sent.content or b""
    return RequestRecord(
        method=sent.method,
        url=redactor.url(sent.url, tainted=prepared.secret_url),
        headers=redactor.headers(sent.headers, tainted=prepared.secret_headers),
        body=redactor.body(excerpt(content, max_body_bytes), tainted=prepared.secret_body),
        body_size=len(content),
    )


def response_record(
    exchange: Exchange | None, redactor: Redactor, max_body_bytes: int
) -> ResponseRecord | None:
    if exchange is None:
        return None
    response = exchange.response
    return ResponseRecord(
        status=response.status,
        url=redactor.url(response.url),
        headers=redactor.headers(response.headers),
        body=redactor.body(excerpt(response.body, max_body_bytes)),
        body_size=response.body_size,
        truncated=not response.body_complete or len(response.body) > max_body_bytes,
        elapsed_ms=response.elapsed_ms,
    )


def masked_check(result: CheckResult, redactor: Redactor) -> CheckResult:
    plain = not isinstance(result.expected, Mapping | list) and not isinstance(
        result.actual, Mapping | list
    )
    if plain and not redactor.knows_secrets:
        return result  # nothing in it could be a secret the redactor would mask
    return CheckResult(
        selector=result.selector,
        operator=result.operator,
        expected=redactor.json(result.expected),
        actual=redactor.json(result.actual),
        passed=result.passed,
        message=redactor.text(result.message),
    )


def excerpt(content: bytes, limit: int) -> str:
    return content[:limit].decode("utf-8", "replace")
