from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from controller.clients.services import Exchange, OutgoingRequest, TransportFailure
from controller.flows.redaction import Redactor
from controller.flows.retry import RetryPolicy
from controller.models.http import HttpResponse, retry_after_seconds


def answered(status: int, **headers: str) -> Exchange:
    response = HttpResponse(
        status=status, headers=tuple(headers.items()), body=b"", url="http://a", elapsed_ms=1
    )
    return Exchange(OutgoingRequest("GET", "http://a"), response)


def test_retry_waits_grow_to_the_cap_and_honour_retry_after_within_it() -> None:
    policy = RetryPolicy.of({"attempts": 5, "delay": "100ms", "multiplier": 3, "max_delay": "1s"})
    assert [round(policy.wait_after(n, answered(503)), 3) for n in (1, 2, 3)] == [0.1, 0.3, 0.9]
    assert policy.wait_after(4, answered(503)) == 1.0
    assert policy.wait_after(1, answered(503, **{"Retry-After": "0.5"})) == 0.1
    assert policy.wait_after(1, answered(503, **{"Retry-After": "30"})) == 1.0
    ignoring = RetryPolicy.of({"delay": "100ms", "respect_retry_after": False})
    assert ignoring.wait_after(1, answered(503, **{"Retry-After": "30"})) == 0.1


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after_seconds("7") == 7.0
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)
    assert 50 < (retry_after_seconds(later) or 0) <= 60
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_retry_wants_only_what_is_safe_to_resend() -> None:
    policy = RetryPolicy.of({"attempts": 3, "on": ["connect", "timeout", 503]})
    never_left = TransportFailure("connect", "refused", sent=False, name="ConnectError")
    read_timeout = TransportFailure("timeout", "slow", sent=True, name="ReadTimeout")
    assert policy.wants("POST", never_left)
    assert not policy.wants("POST", read_timeout)
    assert not policy.wants("POST", answered(503))
    assert policy.wants("GET", read_timeout)
    assert policy.wants("GET", answered(503))
    assert not policy.wants("GET", answered(500))
    keyed = RetryPolicy.of({"attempts": 3, "on": [503], "idempotent": True})
    assert keyed.wants("POST", answered(503))
    assert not keyed.wants("POST", never_left)


def test_redactor_masks_values_in_every_encoding_and_deny_listed_fields() -> None:
    redactor = Redactor(["p@ss word"])
    redactor.add_basic_credentials("Basic " + base64.b64encode(b"alice:hunter22").decode())
    text = "p@ss word p%40ss%20word p%40ss+word cEBzcyB3b3Jk YWxpY2U6aHVudGVyMjI="
    assert redactor.text(text) == "*** *** *** *** ***"
    assert redactor.headers([("Cookie", "a=b"), ("Accept", "json"), ("X-Note", "p@ss word")]) == (
        ("Cookie", "***"),
        ("Accept", "json"),
        ("X-Note", "***"),
    )
    assert redactor.body('{"user": "a", "password": "x", "nested": [{"access_token": "t"}]}') == (
        '{"user": "a", "password": "***", "nested": [{"access_token": "***"}]}'
    )
    assert redactor.url("http://a.test/x?token=abc&page=2") == "http://a.test/x?token=***&page=2"
    assert redactor.body("grant_type=password&password=hunter2&client_secret=s") == (
        "grant_type=password&password=***&client_secret=***"
    )
    assert redactor.url("http://a.test/users/p@ss word", tainted=True) == "http://a.test/***"
