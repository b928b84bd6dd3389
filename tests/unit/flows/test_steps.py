"""Steps: retry, poll, when, capture, expect, and what each failure looks like."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.unit.flows.engine import run_yaml, steps_of, suite_yaml

pytestmark = pytest.mark.anyio


def _block(text: str) -> str:
    return "\n".join("        " + line if line else line for line in text.strip("\n").splitlines())


def one_flow(steps: str, *, cleanup: str = "") -> str:
    """A suite with one inline flow ``f`` of ``steps`` (and ``cleanup`` as its finally)."""
    final = f"    finally:\n{_block(cleanup)}\n" if cleanup else ""
    return suite_yaml(f"flows:\n  - name: f\n    steps:\n{_block(steps)}\n{final}")


async def test_retry_resends_a_get_on_listed_statuses_and_counts_every_attempt() -> None:
    answers = iter([503, 502, 200])
    text = one_flow(
        """
- name: info
  request: {service: api, path: /info}
  retry: {attempts: 3, on: [502, 503], delay: 1ms}
  expect: [{status: 200}]
"""
    )
    result = await run_yaml(text, lambda request: httpx.Response(next(answers)))
    step = result.flows[0].steps[0]
    assert step.status == "passed"
    assert [(a.status, a.outcome) for a in step.attempts] == [
        (503, "retried"),
        (502, "retried"),
        (200, "answered"),
    ]


async def test_a_post_is_not_resent_after_it_reached_the_service_unless_idempotent() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(503)

    text = one_flow(
        """
- name: plain
  request: {service: api, method: POST, path: /plain, json: {a: 1}}
  retry: {attempts: 3, on: [connect, 503], delay: 1ms}
- name: keyed
  request: {service: api, method: POST, path: /keyed, json: {a: 1}}
  retry: {attempts: 3, on: [connect, 503], delay: 1ms, idempotent: true}
""",
    )
    result = await run_yaml(text, handler)
    assert (seen.count("/plain"), seen.count("/keyed")) == (1, 3)
    assert [len(s.attempts) for s in result.flows[0].steps] == [1, 3]


async def test_a_post_is_resent_when_the_connection_never_opened() -> None:
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] < 3:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(201, json={"id": "u1"})

    text = one_flow(
        """
- name: create
  request: {service: api, method: POST, path: /users, json: {name: a}}
  retry: {attempts: 3, on: [connect], delay: 1ms}
  expect: [{status: 201}]
"""
    )
    result = await run_yaml(text, handler)
    step = result.flows[0].steps[0]
    assert (step.status, len(step.attempts)) == ("passed", 3)
    assert step.attempts[0].error.startswith("ConnectError: cannot connect to http://api.test")


async def test_connection_refused_is_an_error_naming_the_service() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    text = one_flow(
        "- name: info\n  request: {service: api, path: /info}\n"
        "- name: later\n  request: {service: api, path: /x}\n"
    )
    result = await run_yaml(text, handler)
    assert steps_of(result) == {
        "info": (
            "error",
            "ConnectError",
            "cannot connect to http://api.test: [Errno 111] Connection refused",
        ),
        "later": ("skipped", "", "not run: step 'info' did not pass"),
    }
    assert result.status == "error"


async def test_poll_counts_transport_errors_as_not_yet_and_stops_when_until_holds() -> None:
    answers = iter(["refused", "PENDING", "PENDING", "CONFIRMED"])

    def handler(request: httpx.Request) -> httpx.Response:
        answer = next(answers)
        if answer == "refused":
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"status": answer, "n": 1})

    text = one_flow(
        """
- name: wait
  request: {service: api, path: /orders/1}
  poll:
    until: [{json: $.status, in: [CONFIRMED, REJECTED]}]
    interval: 1ms
    timeout: 10s
  expect: [{json: $.status, eq: CONFIRMED}]
  capture: {n: {json: $.n}}
"""
    )
    result = await run_yaml(text, handler)
    step = result.flows[0].steps[0]
    assert step.status == "passed"
    assert [a.outcome for a in step.attempts] == [
        "not yet",
        "not yet",
        "not yet",
        "until satisfied",
    ]
    assert step.captured == ("n",)


async def test_poll_gives_up_at_max_attempts_with_the_last_response_and_failing_check() -> None:
    text = one_flow(
        """
- name: wait
  request: {service: api, path: /orders/1}
  poll: {interval: 1ms, timeout: 10s, max_attempts: 3}
  expect: [{json: $.status, eq: CONFIRMED}]
"""
    )
    result = await run_yaml(text, lambda request: httpx.Response(200, json={"status": "PENDING"}))
    step = result.flows[0].steps[0]
    assert (step.status, step.failure_type) == ("failed", "PollTimeout")
    assert step.message.startswith("poll gave up after 3 attempt(s) in ")
    assert step.message.endswith(
        'last status 200; still failing: json $.status: expected eq "CONFIRMED", got "PENDING"'
    )
    assert step.response is not None
    assert json.loads(step.response.body) == {"status": "PENDING"}
    assert [c.passed for c in step.checks] == [False]


async def test_poll_abort_if_fails_the_step_at_once() -> None:
    answers = iter([200, 403, 200])
    text = one_flow(
        """
- name: wait
  request: {service: api, path: /orders/1}
  poll:
    abort_if: [{status: {in: [401, 403]}}]
    interval: 1ms
    timeout: 10s
  expect: [{status: 201}]
"""
    )
    result = await run_yaml(text, lambda request: httpx.Response(next(answers)))
    step = result.flows[0].steps[0]
    assert (step.status, step.failure_type) == ("failed", "AssertionFailed")
    assert step.message == "poll stopped: abort_if matched after 2 attempt(s)"
    assert [a.outcome for a in step.attempts] == ["not yet", "aborted"]


async def test_captures_reach_later_steps_only_when_their_step_passes() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/orders":
            return httpx.Response(500, json={"id": "o1"})
        return httpx.Response(200, json={"path": request.url.path})

    text = one_flow(
        """
- name: create
  request: {service: api, method: POST, path: /orders, json: {}}
  capture: {order_id: {json: $.id}}
  expect: [{status: 201}]
""",
        cleanup="""
- name: cleanup
  when: [{var: order_id, exists: true}]
  request: {service: api, method: DELETE, path: /orders/x}
""",
    )
    result = await run_yaml(text, handler)
    assert steps_of(result)["create"][:2] == ("failed", "AssertionFailed")
    assert steps_of(result)["cleanup"] == (
        "skipped",
        "",
        "when is false: var order_id: expected exists true, got nothing",
    )


async def test_expect_may_use_the_step_s_own_captures() -> None:
    text = one_flow(
        """
- name: read
  request: {service: api, path: /users/u1}
  capture: {user_id: {json: $.id}}
  expect: [{json: $.self, eq: "/users/${user_id}"}]
"""
    )
    result = await run_yaml(
        text, lambda request: httpx.Response(200, json={"id": "u1", "self": "/users/u1"})
    )
    assert result.status == "passed"


async def test_a_capture_that_finds_nothing_fails_the_step_with_capture_error() -> None:
    text = one_flow(
        "- name: read\n  request: {service: api, path: /x}\n  capture: {id: {json: $.id}}\n"
    )
    result = await run_yaml(text, lambda request: httpx.Response(200, json={}))
    assert steps_of(result)["read"] == (
        "failed",
        "CaptureError",
        "capture 'id' (json $.id) found nothing",
    )


async def test_an_undefined_variable_is_a_template_error_and_nothing_is_sent() -> None:
    sent: list[str] = []
    text = one_flow("- name: read\n  request: {service: api, path: '/users/${user_id}'}\n")

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(str(request.url))
        return httpx.Response(200)

    result = await run_yaml(text, handler)
    status, failure, message = steps_of(result)["read"]
    assert (status, failure, sent) == ("error", "TemplateError", [])
    assert message.startswith("undefined variable 'user_id'")


async def test_a_service_outside_the_routing_policy_is_a_routing_error() -> None:
    text = one_flow("- name: read\n  request: {service: billing, path: /x}\n")
    result = await run_yaml(text, lambda request: httpx.Response(200))
    assert steps_of(result)["read"] == (
        "error",
        "RoutingError",
        "service 'billing' is not in the run's routing policy (routed: api, other)",
    )


async def test_soft_checks_are_warnings_and_do_not_fail_the_flow() -> None:
    text = one_flow(
        "- name: cleanup\n  request: {service: api, method: DELETE, path: /x}\n"
        "  expect: [{status: 2xx}]\n  soft: true\n"
    )
    result = await run_yaml(text, lambda request: httpx.Response(500))
    step = result.flows[0].steps[0]
    assert (step.status, result.status) == ("passed", "passed")
    assert [w.message for w in step.warnings] == ["status: expected class 2xx, got 500"]


async def test_every_check_is_reported_even_after_the_first_failure() -> None:
    text = one_flow(
        """
- name: read
  request: {service: api, path: /x}
  expect:
    - status: 201
    - json: $.a
      eq: 2
    - header: content-type
      contains: json
"""
    )
    result = await run_yaml(text, lambda request: httpx.Response(200, json={"a": 1}))
    step = result.flows[0].steps[0]
    assert [(c.selector, c.passed) for c in step.checks] == [
        ("status", False),
        ("json $.a", False),
        ("header content-type", True),
    ]
    assert step.message == "status: expected eq 201, got 200"
