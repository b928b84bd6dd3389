"""The service client against a real loopback server that misbehaves on request."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from controller.clients.services import (
    OutgoingRequest,
    ServiceClient,
    Timeouts,
    TransportFailure,
)
from tests.support.misbehaving import MIB, misbehaving_app
from tests.support.server import serving

pytestmark = pytest.mark.anyio

QUICK = Timeouts(connect=2, read=5, write=5, pool=2)


@pytest.fixture
async def service() -> AsyncIterator[str]:
    async with serving(misbehaving_app()) as base_url:
        yield base_url


def get(url: str, **extra: object) -> OutgoingRequest:
    return OutgoingRequest("GET", url, **extra)  # type: ignore[arg-type]


async def test_send_returns_status_headers_body_and_timing(service: str) -> None:
    async with ServiceClient() as client:
        exchange = await client.send(
            OutgoingRequest("POST", f"{service}/echo?a=1", (("X-Trace", "t1"),), b'{"k": 1}'),
            timeouts=QUICK,
            deadline=time.monotonic() + 10,
        )
    response = exchange.response
    sent = json.loads(response.body)
    assert (response.status, sent["method"], sent["query"], sent["body"]) == (
        200,
        "POST",
        "a=1",
        '{"k": 1}',
    )
    assert ["x-trace", "t1"] in sent["headers"]
    assert response.header("content-type") == "application/json"
    assert response.body_complete
    assert response.elapsed_ms > 0


async def test_no_cookie_jar_carries_state_between_requests(service: str) -> None:
    async with ServiceClient() as client:
        first = await client.send(
            get(f"{service}/echo"), timeouts=QUICK, deadline=time.monotonic() + 10
        )
        second = await client.send(
            get(f"{service}/echo"), timeouts=QUICK, deadline=time.monotonic() + 10
        )
    assert first.response.cookie("SESSION") == "s1"
    assert "cookie" not in dict(json.loads(second.response.body)["headers"])


async def test_default_headers_are_sent_unless_the_request_sets_its_own(service: str) -> None:
    async with ServiceClient() as client:
        exchange = await client.send(
            get(f"{service}/echo", headers=(("Accept", "application/json"),)),
            timeouts=QUICK,
            deadline=time.monotonic() + 10,
        )
    sent = json.loads(exchange.response.body)["headers"]
    assert [name for name, _ in sent].count("accept") == 1
    assert (dict(sent)["accept"], dict(sent)["user-agent"]) == ("application/json", "meshgate")
    assert dict(sent)["host"] == service.removeprefix("http://")


async def test_a_compressed_body_is_decoded(service: str) -> None:
    async with ServiceClient() as client:
        exchange = await client.send(
            get(f"{service}/gzip"), timeouts=QUICK, deadline=time.monotonic() + 10
        )
    assert json.loads(exchange.response.body) == {"compressed": True}
    assert exchange.response.body_complete


async def test_a_large_body_is_kept_up_to_the_cap_and_counted(service: str) -> None:
    async with ServiceClient(keep_bytes=4096, drain_bytes=32 * MIB) as client:
        exchange = await client.send(
            get(f"{service}/big?mib=10"), timeouts=QUICK, deadline=time.monotonic() + 20
        )
    response = exchange.response
    assert len(response.body) == 4096
    assert not response.body_complete
    assert response.body_size == 10 * MIB


async def test_a_body_past_the_drain_limit_is_cut_off(service: str) -> None:
    async with ServiceClient(keep_bytes=1024, drain_bytes=MIB) as client:
        exchange = await client.send(
            get(f"{service}/big?mib=10"), timeouts=QUICK, deadline=time.monotonic() + 20
        )
    assert (len(exchange.response.body), exchange.response.body_complete) == (1024, False)
    assert exchange.response.body_size is None


async def test_a_response_that_never_ends_hits_the_deadline(service: str) -> None:
    started = time.monotonic()
    async with ServiceClient() as client:
        with pytest.raises(TransportFailure) as caught:
            await client.send(get(f"{service}/endless"), timeouts=QUICK, deadline=started + 0.5)
    assert (caught.value.kind, caught.value.sent, caught.value.name) == (
        "timeout",
        True,
        "ReadTimeout",
    )
    assert time.monotonic() - started < 5


async def test_a_slow_answer_is_a_read_timeout(service: str) -> None:
    async with ServiceClient() as client:
        with pytest.raises(TransportFailure) as caught:
            await client.send(
                get(f"{service}/slow?seconds=3"),
                timeouts=Timeouts(connect=2, read=0.2, write=2, pool=2),
                deadline=time.monotonic() + 10,
            )
    assert (caught.value.kind, caught.value.sent) == ("timeout", True)
    assert "did not answer in time (ReadTimeout)" in str(caught.value)


async def test_connection_refused_never_left() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with ServiceClient() as client:
        with pytest.raises(TransportFailure) as refused:
            await client.send(
                get(f"http://127.0.0.1:{port}/"), timeouts=QUICK, deadline=time.monotonic() + 5
            )
    assert (refused.value.kind, refused.value.sent, refused.value.name) == (
        "connect",
        False,
        "ConnectError",
    )
    assert f"cannot connect to http://127.0.0.1:{port}" in str(refused.value)


async def test_a_name_that_does_not_resolve_is_a_connect_failure() -> None:
    """At the transport seam: a real lookup would leave loopback."""

    def unresolvable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno -2] Name or service not known", request=request)

    async with ServiceClient(transport=httpx.MockTransport(unresolvable)) as client:
        with pytest.raises(TransportFailure) as caught:
            await client.send(
                get("http://order-service.review-pr-7.svc:8080/"),
                timeouts=QUICK,
                deadline=time.monotonic() + 5,
            )
    assert (caught.value.kind, caught.value.sent) == ("connect", False)
    assert str(caught.value) == (
        "cannot connect to http://order-service.review-pr-7.svc:8080: "
        "[Errno -2] Name or service not known"
    )


async def test_redirects_are_followed_within_the_origin_only(service: str) -> None:
    async with ServiceClient() as client:
        followed = await client.send(
            OutgoingRequest(
                "POST",
                f"{service}/redirect?to=/echo&status=303",
                (("Content-Type", "text/plain"),),
                b"x",
            ),
            timeouts=QUICK,
            deadline=time.monotonic() + 10,
            follow_redirects=True,
        )
        not_followed = await client.send(
            get(f"{service}/redirect?to=/echo"), timeouts=QUICK, deadline=time.monotonic() + 10
        )
        with pytest.raises(TransportFailure) as elsewhere:
            await client.send(
                get(f"{service}/redirect?to=http://other.test/steal"),
                timeouts=QUICK,
                deadline=time.monotonic() + 10,
                follow_redirects=True,
            )
    assert json.loads(followed.response.body)["method"] == "GET"
    assert followed.redirects == (f"{service}/echo",)
    assert followed.request.method == "GET"
    assert not_followed.response.status == 302
    assert elsewhere.value.kind == "redirect"
    assert f"{service} redirected to http://other.test, another host: not followed" in str(
        elsewhere.value
    )


async def test_a_307_keeps_method_and_body(service: str) -> None:
    async with ServiceClient() as client:
        exchange = await client.send(
            OutgoingRequest("POST", f"{service}/redirect?to=/echo&status=307", (), b"payload"),
            timeouts=QUICK,
            deadline=time.monotonic() + 10,
            follow_redirects=True,
        )
    sent = json.loads(exchange.response.body)
    assert (sent["method"], sent["body"]) == ("POST", "payload")
