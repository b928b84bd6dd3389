"""Services that misbehave, through the engine over real loopback HTTP: a huge body, a body
that never ends, a redirect to another host. Each fails its step with a clear reason, and a
healthy flow beside them passes."""

from __future__ import annotations

import pytest

from tests.support.misbehaving import misbehaving_app
from tests.support.server import serving
from tests.unit.flows.engine import run_yaml, steps_of, suite_yaml

pytestmark = pytest.mark.anyio


async def test_hostile_answers_fail_their_steps_with_the_reason() -> None:
    text = suite_yaml(
        """
concurrency: 4
report: {max_body_bytes: 64}
flows:
  - name: huge
    steps:
      - name: ten megabytes
        request: {service: bad, path: /big, query: {mib: 10}}
        expect: [{status: 200}, {json: $.id, exists: true}]
  - name: endless
    timeout: 300ms
    steps:
      - name: never ends
        request: {service: bad, path: /endless}
  - name: elsewhere
    steps:
      - name: redirected away
        request:
          service: bad
          path: /redirect
          query: {to: "http://169.254.169.254/latest"}
          follow_redirects: true
  - name: healthy
    steps:
      - name: echo
        request: {service: bad, path: /echo}
        expect: [{status: 200}]
"""
    )
    async with serving(misbehaving_app()) as base_url:
        result = await run_yaml(text, None, routes={"bad": base_url})
    huge = result.flows[0].steps[0]
    assert (huge.status, huge.failure_type) == ("failed", "AssertionFailed")
    assert (
        "the body of 10485760 bytes was cut at 1048576 bytes, so it cannot be read as JSON"
        in huge.message
    )
    assert huge.response is not None
    assert (huge.response.body_size, huge.response.truncated, len(huge.response.body)) == (
        10485760,
        True,
        64,
    )
    assert steps_of(result, 1)["never ends"][:2] == ("error", "FlowTimeout")
    assert steps_of(result, 2)["redirected away"] == (
        "error",
        "RedirectToOtherHost",
        f"{base_url} redirected to http://169.254.169.254, another host: not followed",
    )
    assert result.flows[3].status == "passed"
