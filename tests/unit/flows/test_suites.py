"""Flows and suites: requires, when, rows, timeouts, finally, fail_fast, serial, concurrency,
cancellation, readiness, and secrets kept out of the evidence."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from controller.flows import Listeners
from tests.unit.flows.engine import HEADER, run_yaml, steps_of, suite_yaml

pytestmark = pytest.mark.anyio


def ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"ok": True})


def flow_doc(name: str, body: str, labels: str = "suite: s") -> str:
    indented = "\n".join("  " + line if line else line for line in body.strip("\n").splitlines())
    head = f"{HEADER}kind: Flow\nmetadata:\n  name: {name}\n  labels: {{{labels}}}\n"
    return f"{head}spec:\n{indented}\n"


def labelled_suite(extra: str = "") -> str:
    return suite_yaml(f"{extra}\nflows:\n  - selector: {{match_labels: {{suite: s}}}}\n")


async def test_requires_skips_a_flow_whose_service_is_not_routed() -> None:
    text = "---\n".join(
        [
            labelled_suite(),
            flow_doc(
                "billing",
                "requires: [billing]\nsteps:\n"
                "  - name: pay\n    request: {service: billing, path: /pay}",
            ),
            flow_doc(
                "api",
                "requires: [api]\nsteps:\n  - name: read\n    request: {service: api, path: /x}",
            ),
        ]
    )
    result = await run_yaml(text, ok)
    assert [(f.label, f.status, f.message) for f in result.flows] == [
        (
            "billing",
            "skipped",
            "flow not run: requires billing, which the routing policy does not route",
        ),
        ("api", "passed", ""),
    ]
    assert result.status == "passed"


async def test_parameter_rows_run_the_flow_once_each_with_their_vars() -> None:
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.content.decode())
        return httpx.Response(422)

    text = suite_yaml(
        """
vars: {field: name}
flows:
  - name: invalid
    vars: {payload: {name: default}}
    parameters:
      - id: empty-name
        vars: {payload: {name: ""}}
      - id: no-name
        vars: {payload: {}}
    steps:
      - name: rejected
        request: {service: api, method: POST, path: /users, json: "${payload}"}
        expect: [{status: 422}]
"""
    )
    result = await run_yaml(text, handler)
    assert [f.label for f in result.flows] == ["invalid[empty-name]", "invalid[no-name]"]
    assert sorted(sent) == ['{"name":""}', "{}"]


async def test_a_flow_when_false_is_skipped_with_the_reason() -> None:
    text = suite_yaml(
        """
vars: {enabled: false}
flows:
  - name: optional
    when: [{var: enabled, eq: true}]
    steps: [{name: read, request: {service: api, path: /x}}]
"""
    )
    result = await run_yaml(text, ok)
    assert (
        result.flows[0].message
        == "flow not run: when is false: var enabled: expected eq true, got false"
    )
    assert steps_of(result)["read"][0] == "skipped"


async def test_a_flow_timeout_ends_the_running_step_and_finally_still_runs() -> None:
    seen: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        if request.url.path == "/slow":
            await asyncio.sleep(30)
        return httpx.Response(204)

    text = suite_yaml(
        """
flows:
  - name: f
    timeout: 200ms
    steps:
      - name: slow
        request: {service: api, path: /slow}
      - name: after
        request: {service: api, path: /after}
    finally:
      - name: cleanup
        request: {service: api, method: DELETE, path: /thing}
        expect: [{status: 204}]
"""
    )
    result = await run_yaml(text, handler)
    steps = steps_of(result)
    assert steps["slow"][:2] == ("error", "FlowTimeout")
    assert steps["slow"][2].startswith("the flow's timeout (200ms) ran out during this step")
    assert steps["after"] == ("skipped", "", "not run: step 'slow' did not pass")
    assert steps["cleanup"] == ("passed", "", "")
    assert seen == ["GET /slow", "DELETE /thing"]


async def test_fail_fast_starts_no_flow_after_a_failure() -> None:
    text = suite_yaml(
        """
fail_fast: true
concurrency: 1
flows:
  - name: first
    steps: [{name: a, request: {service: api, path: /a}, expect: [{status: 201}]}]
  - name: second
    steps: [{name: b, request: {service: api, path: /b}}]
"""
    )
    result = await run_yaml(text, ok)
    assert [(f.label, f.status) for f in result.flows] == [
        ("first", "failed"),
        ("second", "skipped"),
    ]
    assert result.flows[1].message == "not run: fail_fast after first failed"
    assert result.status == "failed"


async def test_concurrency_bounds_flows_and_serial_flows_run_alone() -> None:
    in_flight: list[str] = []
    overlaps: list[tuple[str, ...]] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        in_flight.append(request.url.path)
        overlaps.append(tuple(sorted(in_flight)))
        await asyncio.sleep(0.02)
        in_flight.remove(request.url.path)
        return httpx.Response(200)

    flows = "\n".join(
        f"  - name: f{i}\n    {'serial: true' if i == 2 else 'description: plain'}\n"
        f"    steps: [{{name: s, request: {{service: api, path: /f{i}}}}}]"
        for i in range(6)
    )
    result = await run_yaml(suite_yaml(f"concurrency: 2\nflows:\n{flows}\n"), handler)
    assert result.status == "passed"
    assert max(len(group) for group in overlaps) == 2
    assert all(group == ("/f2",) for group in overlaps if "/f2" in group)


async def test_a_cancelled_run_stops_its_step_and_runs_finally() -> None:
    entered = asyncio.Event()
    seen: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        if request.url.path == "/slow":
            entered.set()
            await asyncio.sleep(30)
        return httpx.Response(204)

    text = suite_yaml(
        """
flows:
  - name: f
    steps: [{name: slow, request: {service: api, path: /slow}}]
    finally: [{name: cleanup, request: {service: api, method: DELETE, path: /thing}}]
"""
    )
    finished: list[str] = []
    listeners = Listeners(
        on_step=lambda plan, result: finished.append(f"{result.name}:{result.status}")
    )
    task = asyncio.create_task(run_yaml(text, handler, listeners=listeners))
    async with asyncio.timeout(10):
        await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == ["GET /slow", "DELETE /thing"]
    assert finished == ["slow:error", "cleanup:passed"]


async def test_a_readiness_gate_that_never_passes_ends_the_run_with_error() -> None:
    text = suite_yaml(
        """
readiness:
  - {service: api, path: /healthz, interval: 5ms, timeout: 100ms}
flows:
  - name: f
    steps: [{name: s, request: {service: api, path: /x}}]
"""
    )
    result = await run_yaml(text, lambda request: httpx.Response(503))
    assert result.status == "error"
    assert result.message.startswith(
        "not run: readiness gate 'api /healthz' did not pass: poll gave up after"
    )
    assert result.flows[0].status == "skipped"


async def test_secrets_and_secret_captures_never_reach_the_evidence() -> None:
    secret = "s3cr3t-api-key-value"
    token = "tok-9f8e7d6c5b4a"

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/login":
            return httpx.Response(
                200, json={"access_token": token, "echo": request.headers["x-api-key"]}
            )
        return httpx.Response(
            400, json={"seen": request.headers.get("authorization"), "q": str(request.url)}
        )

    text = suite_yaml(
        """
secrets: {api_key: {env: API_KEY}}
defaults:
  headers: {X-Api-Key: "${secrets.api_key}"}
flows:
  - name: f
    steps:
      - name: login
        request:
          service: api
          method: POST
          path: /login
          json: {key: "${secrets.api_key | b64encode}"}
        capture: {token: {json: $.access_token, secret: true}}
      - name: use
        request:
          service: api
          path: /orders
          query: {t: "${token}"}
          headers: {Authorization: "Bearer ${token}", X-Trace: "${token | upper}"}
        expect: [{status: 200}, {json: $.seen, eq: "${token}"}]
"""
    )
    result = await run_yaml(text, handler, secrets={"api_key": secret})
    evidence = json.dumps(result.to_dict())
    for value in (secret, token, token.upper()):
        assert value not in evidence
    use = result.flows[0].steps[1]
    assert use.request is not None
    assert dict(use.request.headers)["Authorization"] == "***"
    assert dict(use.request.headers)["X-Trace"] == "***"
    assert use.request.url == "http://api.test/***"
    login = result.flows[0].steps[0]
    assert login.request is not None
    assert login.request.body == "***"
