"""The bad-input matrix of the webhook routes (issue 3), through the whole app on uvicorn.

Every refused delivery gets a 4xx with a JSON reason, never a 500, and leaves nothing stored.
Signatures are sent as raw header bytes where the point is what the server makes of them.

Starting the app costs far more than a request, so the module shares two servers: ``server``
only ever sees deliveries that must be refused (a case checks that the delivery count did not
change), ``recording_server`` the ones that are accepted and stored. Each accepted case sends
a commit (``fresh_sha``) or delivery id no other case sends, so none is answered as a
duplicate of another (``accepted`` checks ``duplicate`` is false).
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import itertools
import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from controller.settings import Settings
from tests.acceptance.helpers import config_status, copy_example
from tests.support.server import RunningServer, running_server
from tests.support.waiting import eventually
from tests.support.webhooks import (
    ARGOCD_TOKEN,
    FIXTURES,
    GITEA_SECRET,
    HEADER_FILES,
    VERBATIM,
    fixture_request,
    gitea_signature,
    signed,
)

pytestmark = pytest.mark.anyio

Header = tuple[bytes, bytes]

GITEA = "/api/v1/webhooks/gitea"
ARGOCD = "/api/v1/webhooks/argocd"
MAX_BODY = 1 << 20
ARGOCD_TOKEN_PREVIOUS = "argocd-webhook-token-0999"
TOKEN_FILE_REF = "{file: /run/secrets/meshgate/argocd-webhook-token}"
TOKEN_ENV_REFS = (
    "{env: ARGOCD_WEBHOOK_TOKEN}\n    webhook_token_previous: {env: ARGOCD_WEBHOOK_TOKEN_PREVIOUS}"
)

# auth.py's reasons, spelled out: the 401 bodies are part of the HTTP contract.
MISSING_SIGNATURE = "missing X-Gitea-Signature header"
UNSIGNED = "the delivery is unsigned (empty X-Gitea-Signature header)"
MALFORMED_SIGNATURE = (
    "malformed signature header (expected X-Gitea-Signature: <64 hex characters> "
    "or X-Hub-Signature-256: sha256=<64 hex characters>)"
)
SIGNATURE_MISMATCH = "signature does not match any configured webhook secret"
MISSING_AUTHORIZATION = "missing Authorization header"
MALFORMED_AUTHORIZATION = "malformed Authorization header"
UNSUPPORTED_SCHEME = "unsupported Authorization scheme (expected Bearer or Basic)"
MALFORMED_BASIC = "malformed Basic credentials"
BEARER_MISMATCH = "bearer token does not match"
BASIC_MISMATCH = "basic credentials do not match"
NO_EVENT_HEADER = (
    "no event header (X-Gitea-Event-Type, X-Gitea-Event, X-Gogs-Event or X-GitHub-Event)"
)
GITEA_MEDIA = "use application/json, application/x-www-form-urlencoded"
TOO_LARGE = f"body larger than {MAX_BODY} bytes"

PUSH_HEADERS, PUSH_BODY = fixture_request(FIXTURES / "webhook-push-branch.headers.json")
PUSH_SIGNATURE = PUSH_HEADERS["X-Gitea-Signature"].encode()
PUSH_SHA1 = PUSH_HEADERS["X-Hub-Signature"].removeprefix("sha1=").encode()
SHA = "3b1f0e2c9d8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c"
ARGOCD_FIELDS: dict[str, Any] = {
    "app_name": "user-service-pr-123",
    "revision": SHA,
    "repository": "https://gitea.shop.internal/shop/user-service.git",
    "status": "Synced",
    "health": "Healthy",
}
ARGOCD_BODY = json.dumps(ARGOCD_FIELDS).encode()
BEARER = {"Authorization": f"Bearer {ARGOCD_TOKEN}", "Content-Type": "application/json"}
_DELETE = object()


def _shown(value: object) -> str:
    """A test id for a field value (stable across processes, so pytest-xdist workers agree)."""
    return "(deleted)" if value is _DELETE else json.dumps(value)


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """Module-scoped (the root one is per test) so the module's servers can be shared."""
    return "asyncio"


@contextlib.asynccontextmanager
async def webhook_server(
    directory: Path, *, gitea_secret: str = GITEA_SECRET
) -> AsyncIterator[RunningServer]:
    """The example config (in ``directory``, data beside it) with its secrets from the
    environment, two Argo CD webhook tokens (rotation), served until the config is applied."""
    config = copy_example(directory / "config")
    argocd = config / "integrations" / "argocd-staging.yaml"
    original = argocd.read_text()
    argocd.write_text(original.replace(TOKEN_FILE_REF, TOKEN_ENV_REFS))
    assert argocd.read_text() != original, "the example Argo CD integration changed shape"
    environ = {
        "GITEA_WEBHOOK_SECRET": gitea_secret,
        "ARGOCD_WEBHOOK_TOKEN": ARGOCD_TOKEN,
        "ARGOCD_WEBHOOK_TOKEN_PREVIOUS": ARGOCD_TOKEN_PREVIOUS,
    }
    # As tests/conftest.py's settings_for(..., poll=3600) builds them.
    settings = Settings(
        config_repo=str(config),
        poll_interval=timedelta(seconds=3600),
        data_dir=directory / "data",
        runner_concurrency=0,
    )
    async with running_server(settings, environ=environ) as running:
        await eventually(lambda: config_status(running), until=lambda s: s["applied"] is not None)
        yield running


@pytest.fixture(scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningServer]:
    """Shared by the cases that must be refused: it should never store a delivery."""
    async with webhook_server(tmp_path_factory.mktemp("refusing")) as running:
        yield running


@pytest.fixture(scope="module")
async def recording_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[RunningServer]:
    """Shared by the cases that are accepted; each sends a delivery no other case sends."""
    async with webhook_server(tmp_path_factory.mktemp("recording")) as running:
        yield running


# Storage lists at most this many deliveries at once; the module stores far fewer.
LISTED = 1000


async def delivery_count(server: RunningServer) -> int:
    """How many deliveries ``server`` has stored so far (in this module, as it is shared)."""
    deliveries = await server.controller.storage.recent_deliveries(limit=LISTED)
    assert len(deliveries) < LISTED, "too many deliveries to count them by listing"
    return len(deliveries)


async def assert_refused(
    server: RunningServer,
    response: httpx.Response,
    status: int,
    kind: str,
    message: str,
    *,
    stored_before: int,
) -> None:
    """``response`` refuses with ``status``, ``kind`` and ``message`` and nothing was stored
    (``server`` holds ``stored_before`` deliveries, as before the request)."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["type"] == kind
    assert error["message"] == message
    assert await delivery_count(server) == stored_before


_FRESH = itertools.count(1)


def fresh_sha() -> str:
    """A full commit sha that no other delivery sent by this module carries."""
    return hashlib.sha1(f"meshgate-bad-input-{next(_FRESH)}".encode()).hexdigest()


def fresh_delivery_id() -> str:
    return str(uuid.uuid4())


PUSH_AFTER: str = json.loads(PUSH_BODY)["after"]


def fresh_push_body() -> bytes:
    """The push fixture's bytes with another commit (every occurrence of its sha)."""
    body = PUSH_BODY.replace(PUSH_AFTER.encode(), fresh_sha().encode())
    assert body != PUSH_BODY
    return body


def fresh_argocd_body(**fields: Any) -> bytes:
    """``ARGOCD_BODY`` (changed by ``fields``) with a commit no other delivery carries."""
    return json.dumps({**ARGOCD_FIELDS, "revision": fresh_sha(), **fields}).encode()


def accepted(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    assert body["duplicate"] is False
    return body


def raw(headers: dict[str, str], *extra: Header) -> list[Header]:
    return [(k.encode(), v.encode()) for k, v in headers.items()] + list(extra)


def without_signatures(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if "signature" not in k.lower()}


def mutated(data: dict[str, Any], path: str, value: Any) -> bytes:
    """``data`` with the value at dotted ``path`` replaced (or deleted), as Gitea would
    serialise it."""
    changed = copy.deepcopy(data)
    *parents, last = path.split(".")
    inner = changed
    for part in parents:
        inner = inner[part]
    if value is _DELETE:
        del inner[last]
    else:
        inner[last] = value
    return json.dumps(changed, indent=2).encode()


def basic(credentials: bytes) -> bytes:
    return b"Basic " + base64.b64encode(credentials)


# --- 1. Malformed signature headers on a real body -----------------------------------------

G = b"X-Gitea-Signature"
H = b"X-Hub-Signature-256"
SIGNATURE_CASES: list[tuple[str, list[Header], str]] = [
    ("gitea-missing", [], MISSING_SIGNATURE),
    ("gitea-empty", [(G, b"")], UNSIGNED),
    ("gitea-sha256-prefix", [(G, b"sha256=" + PUSH_SIGNATURE)], MALFORMED_SIGNATURE),
    ("gitea-63-hex", [(G, PUSH_SIGNATURE[:-1])], MALFORMED_SIGNATURE),
    ("gitea-65-hex", [(G, PUSH_SIGNATURE + b"0")], MALFORMED_SIGNATURE),
    ("gitea-non-hex", [(G, PUSH_SIGNATURE[:-1] + b"g")], MALFORMED_SIGNATURE),
    (
        "gitea-space-inside",
        [(G, PUSH_SIGNATURE[:32] + b" " + PUSH_SIGNATURE[32:])],
        MALFORMED_SIGNATURE,
    ),
    ("gitea-non-ascii", [(G, b"\xff\xfe" + PUSH_SIGNATURE[2:])], MALFORMED_SIGNATURE),
    ("gitea-utf8", [(G, "é".encode() + PUSH_SIGNATURE[2:])], MALFORMED_SIGNATURE),
    ("gitea-twice-differing", [(G, PUSH_SIGNATURE), (G, b"0" * 64)], MALFORMED_SIGNATURE),
    ("gitea-wrong-secret", [(G, gitea_signature(PUSH_BODY, "other").encode())], SIGNATURE_MISMATCH),
    ("hub-prefix-only", [(H, b"sha256=")], UNSIGNED),
    ("hub-missing-prefix", [(H, PUSH_SIGNATURE)], MALFORMED_SIGNATURE),
    ("hub-sha1-prefix", [(H, b"sha1=" + PUSH_SHA1)], MALFORMED_SIGNATURE),
    ("hub-sha1-prefix-sha256-hex", [(H, b"sha1=" + PUSH_SIGNATURE)], MALFORMED_SIGNATURE),
    ("hub-uppercase-prefix", [(H, b"SHA256=" + PUSH_SIGNATURE)], MALFORMED_SIGNATURE),
    ("hub-bad-hex", [(H, b"sha256=" + b"z" * 64)], MALFORMED_SIGNATURE),
    ("hub-63-hex", [(H, b"sha256=" + PUSH_SIGNATURE[:-1])], MALFORMED_SIGNATURE),
    ("hub-65-hex", [(H, b"sha256=" + PUSH_SIGNATURE + b"0")], MALFORMED_SIGNATURE),
    ("hub-non-ascii", [(H, b"sha256=\xff" + PUSH_SIGNATURE[1:])], MALFORMED_SIGNATURE),
    ("both-malformed", [(G, b"nope"), (H, b"sha1=" + PUSH_SHA1)], MALFORMED_SIGNATURE),
    # Only the signatures meshgate does not read: SHA-1, and the Gogs copy.
    ("only-sha1-hub", [(b"X-Hub-Signature", b"sha1=" + PUSH_SHA1)], MISSING_SIGNATURE),
    ("only-gogs", [(b"X-Gogs-Signature", PUSH_SIGNATURE)], MISSING_SIGNATURE),
]


@pytest.mark.parametrize(
    ("signatures", "reason"),
    [pytest.param(sigs, reason, id=name) for name, sigs, reason in SIGNATURE_CASES],
)
async def test_webhook_gitea_malformed_signature_is_401_with_a_reason(
    server: RunningServer, signatures: list[Header], reason: str
) -> None:
    headers = raw(without_signatures(PUSH_HEADERS), *signatures)
    before = await delivery_count(server)
    response = await server.client.post(GITEA, content=PUSH_BODY, headers=headers)
    await assert_refused(server, response, 401, "Unauthenticated", reason, stored_before=before)


@pytest.mark.parametrize(
    ("header", "prefix"), [pytest.param(G, b"", id="gitea"), pytest.param(H, b"sha256=", id="hub")]
)
async def test_webhook_gitea_uppercase_hex_signature_is_accepted(
    recording_server: RunningServer, header: bytes, prefix: bytes
) -> None:
    # Gitea sends lowercase hex; hex is case-insensitive and auth.py compares the decoded
    # digest, so uppercase verifies too (the prefix "sha256=" is a literal, see above).
    server = recording_server
    body = fresh_push_body()
    delivery = fresh_delivery_id()
    ids = {k: delivery for k in PUSH_HEADERS if k.lower().endswith("-delivery")}
    signature = prefix + gitea_signature(body).upper().encode()
    assert signature.removeprefix(prefix) != gitea_signature(body).encode()
    headers = raw(without_signatures({**PUSH_HEADERS, **ids}), (header, signature))
    before = await delivery_count(server)
    response = await server.client.post(GITEA, content=body, headers=headers)
    assert accepted(response)["trigger"] is True
    assert await delivery_count(server) == before + 1


# --- 2. Every fixture body, changed, with its original signature ---------------------------


def _changed(body: bytes, change: str) -> bytes:
    if change == "reserialized":
        return json.dumps(json.loads(body)).encode()
    if change == "space-to-tab":  # one byte; the JSON means the same
        index = body.index(b"  ")
        return body[:index] + b"\t" + body[index + 1 :]
    assert change == "truncated"  # one byte less; no longer JSON, still 401 (auth first)
    return body[:-1]


@pytest.mark.parametrize("change", ["reserialized", "space-to-tab", "truncated"])
@pytest.mark.parametrize("headers_file", HEADER_FILES, ids=lambda p: p.name.split(".")[0])
async def test_webhook_gitea_changed_fixture_body_is_401(
    server: RunningServer, headers_file: Path, change: str
) -> None:
    headers, body = fixture_request(headers_file)
    changed = _changed(body, change)
    assert changed != body
    before = await delivery_count(server)
    response = await server.client.post(GITEA, content=changed, headers=headers)
    await assert_refused(
        server, response, 401, "Unauthenticated", SIGNATURE_MISMATCH, stored_before=before
    )


# --- 3. Size, JSON and media type on both routes --------------------------------------------


def _route_headers(route: str, body: bytes, content_type: str | None) -> dict[str, str]:
    headers = signed(body) if route == GITEA else dict(BEARER)
    del headers["Content-Type"]
    if content_type is not None:
        headers["Content-Type"] = content_type
    return headers


ROUTES = [pytest.param(GITEA, id="gitea"), pytest.param(ARGOCD, id="argocd")]


@pytest.mark.parametrize("route", ROUTES)
async def test_webhook_oversized_body_with_content_length_is_413(
    server: RunningServer, route: str
) -> None:
    huge = b"{" + b" " * MAX_BODY + b"}"
    headers = _route_headers(route, huge, "application/json")
    before = await delivery_count(server)
    response = await server.client.post(route, content=huge, headers=headers)
    await assert_refused(server, response, 413, "HTTPError", TOO_LARGE, stored_before=before)


@pytest.mark.parametrize("route", ROUTES)
async def test_webhook_oversized_streamed_body_is_413(server: RunningServer, route: str) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(17):
            yield b" " * 65536

    headers = _route_headers(route, b"", "application/json")
    before = await delivery_count(server)
    response = await server.client.post(route, content=chunks(), headers=headers)
    assert "content-length" not in {k.lower() for k in response.request.headers}
    await assert_refused(server, response, 413, "HTTPError", TOO_LARGE, stored_before=before)


@pytest.mark.parametrize("extra", [0, 1], ids=["at-limit", "one-over"])
@pytest.mark.parametrize("route", ROUTES)
async def test_webhook_body_size_limit_is_exact(
    recording_server: RunningServer, route: str, extra: int
) -> None:
    server = recording_server
    body = fresh_push_body() if route == GITEA else fresh_argocd_body()
    padded = body + b" " * (MAX_BODY - len(body) + extra)
    headers = _route_headers(route, padded, "application/json")
    before = await delivery_count(server)
    response = await server.client.post(route, content=padded, headers=headers)
    if extra:
        await assert_refused(server, response, 413, "HTTPError", TOO_LARGE, stored_before=before)
    else:
        assert accepted(response)["trigger"] is True
        assert await delivery_count(server) == before + 1


UNDECODABLE = [
    pytest.param(b"", "body is empty", id="empty"),
    pytest.param(b"  \n", "body is empty", id="blank"),
    pytest.param(
        b"{not json",
        "body is not valid JSON: Expecting property name enclosed in double quotes "
        "(line 1, column 2)",
        id="broken",
    ),
    pytest.param(
        b'{"ref": "main"',
        "body is not valid JSON: Expecting ',' delimiter (line 1, column 15)",
        id="truncated",
    ),
    pytest.param(b'{"ref": "\xff"}', "body is not valid UTF-8 (byte 9)", id="not-utf8"),
    pytest.param(b"[]", "body must be a JSON object, got array", id="array"),
    pytest.param(b'"push"', "body must be a JSON object, got string", id="string"),
    pytest.param(b"null", "body must be a JSON object, got null", id="null"),
    pytest.param(
        b"[" * 50_000 + b"]" * 50_000, "body is not usable JSON: nested too deeply", id="deep"
    ),
    pytest.param(
        b'{"number": ' + b"1" * 5000 + b"}",
        "body is not usable JSON: an integer has more than 4300 digits",
        id="huge-integer",
    ),
]


@pytest.mark.parametrize(("body", "message"), UNDECODABLE)
@pytest.mark.parametrize("route", ROUTES)
async def test_webhook_undecodable_body_is_400(
    server: RunningServer, route: str, body: bytes, message: str
) -> None:
    headers = _route_headers(route, body, "application/json")
    before = await delivery_count(server)
    response = await server.client.post(route, content=body, headers=headers)
    await assert_refused(server, response, 400, "InvalidPayload", message, stored_before=before)


WRONG_MEDIA = [
    ("gitea-text", GITEA, "text/plain", "text/plain"),
    ("gitea-xml", GITEA, "application/xml", "application/xml"),
    ("gitea-multipart", GITEA, "multipart/form-data; boundary=x", "multipart/form-data"),
    ("gitea-json-lookalike", GITEA, "application/jsonx", "application/jsonx"),
    ("gitea-none", GITEA, None, "none"),
    ("argocd-text", ARGOCD, "text/plain", "text/plain"),
    (
        "argocd-form",
        ARGOCD,
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded",
    ),
    ("argocd-xml-charset", ARGOCD, "application/xml; charset=utf-8", "application/xml"),
]


@pytest.mark.parametrize(
    ("route", "content_type", "shown"),
    [pytest.param(*case, id=name) for name, *case in WRONG_MEDIA],
)
async def test_webhook_wrong_content_type_is_415(
    server: RunningServer, route: str, content_type: str | None, shown: str
) -> None:
    body = PUSH_BODY if route == GITEA else ARGOCD_BODY
    accepted_media = GITEA_MEDIA if route == GITEA else "use application/json"
    message = f"unsupported content type {shown!r}; {accepted_media}"
    headers = _route_headers(route, body, content_type)
    before = await delivery_count(server)
    response = await server.client.post(route, content=body, headers=headers)
    await assert_refused(server, response, 415, "HTTPError", message, stored_before=before)


@pytest.mark.parametrize(
    "content_type",
    ["application/json; charset=utf-8", "Application/JSON", "application/json;charset=UTF-8"],
)
@pytest.mark.parametrize("route", ROUTES)
async def test_webhook_json_content_type_with_parameters_is_accepted(
    recording_server: RunningServer, route: str, content_type: str
) -> None:
    body = fresh_push_body() if route == GITEA else fresh_argocd_body()
    headers = _route_headers(route, body, content_type)
    response = await recording_server.client.post(route, content=body, headers=headers)
    assert accepted(response)["trigger"] is True


async def test_webhook_argocd_without_content_type_is_accepted(
    recording_server: RunningServer,
) -> None:
    # Argo CD's webhook service sends no Content-Type unless one is configured.
    body = fresh_argocd_body()
    headers = _route_headers(ARGOCD, body, None)
    response = await recording_server.client.post(ARGOCD, content=body, headers=headers)
    assert accepted(response)["trigger"] is True


# --- 4. Wrong field types, correctly signed --------------------------------------------------


def _fixture_data(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_bytes())
    return data


PUSH = _fixture_data("webhook-push-branch.json")
PULL = _fixture_data("webhook-pull_request-opened.json")
DELETE = _fixture_data("webhook-delete-branch.json")
CREATE = {**DELETE, "sha": PUSH["after"]}
SHA_MESSAGE = "expected a full commit sha (40 or 64 hex digits), got"


def for_fresh_commit(data: dict[str, Any]) -> dict[str, Any]:
    """The push or pull request fixture ``data`` with another commit (every occurrence)."""
    commit = PUSH["after"] if data is PUSH else data["pull_request"]["head"]["sha"]
    text = json.dumps(data)
    assert commit in text
    changed: dict[str, Any] = json.loads(text.replace(commit, fresh_sha()))
    return changed


GITEA_WRONG_FIELDS: list[tuple[str, dict[str, Any], str, Any, str]] = [
    ("push", PUSH, "ref", 42, "ref: expected a string, got number"),
    ("push", PUSH, "ref", None, "ref: is required (null)"),
    ("push", PUSH, "ref", _DELETE, "ref: is required (missing)"),
    ("push", PUSH, "ref", "", "ref: must not be empty"),
    ("push", PUSH, "ref", ["refs/heads/main"], "ref: expected a string, got array"),
    ("push", PUSH, "ref", "refs/heads/\ud800", "ref: contains a lone surrogate (\\ud800)"),
    ("push", PUSH, "after", [PUSH["after"]], "after: expected a string, got array"),
    ("push", PUSH, "after", 0, "after: expected a string, got number"),
    ("push", PUSH, "after", "", "after: must not be empty"),
    ("push", PUSH, "after", "HEAD", f"after: {SHA_MESSAGE} 'HEAD'"),
    ("push", PUSH, "before", {}, "before: expected a string, got object"),
    ("push", PUSH, "head_commit", "abc", "head_commit: expected an object, got string"),
    ("push", PUSH, "head_commit.id", 1, "head_commit.id: expected a string, got number"),
    ("push", PUSH, "head_commit.message", [], "head_commit.message: expected a string, got array"),
    ("push", PUSH, "repository", "alice/demo", "repository: expected an object, got string"),
    ("push", PUSH, "repository", _DELETE, "repository: is required (missing)"),
    ("push", PUSH, "repository.full_name", None, "repository.full_name: is required (null)"),
    (
        "push",
        PUSH,
        "repository.full_name",
        7,
        "repository.full_name: expected a string, got number",
    ),
    ("push", PUSH, "repository.full_name", "", "repository.full_name: must not be empty"),
    (
        "push",
        PUSH,
        "repository.full_name",
        "alice/..",
        "repository.full_name: expected \"owner/repo\", got 'alice/..'",
    ),
    (
        "push",
        PUSH,
        "repository.clone_url",
        False,
        "repository.clone_url: expected a string, got boolean",
    ),
    ("push", PUSH, "sender", "alice", "sender: expected an object, got string"),
    ("push", PUSH, "sender.login", 9, "sender.login: expected a string, got number"),
    ("push", PUSH, "sender.login", "\udc80", "sender.login: contains a lone surrogate (\\udc80)"),
    ("push", PUSH, "sender.login", "al\x00ice", "sender.login: contains a NUL character (\\u0000)"),
    ("pull_request", PULL, "action", 1, "action: expected a string, got number"),
    ("pull_request", PULL, "action", "", "action: must not be empty"),
    ("pull_request", PULL, "number", "12", "number: expected an integer, got string"),
    ("pull_request", PULL, "number", 1.5, "number: expected an integer, got number"),
    ("pull_request", PULL, "number", True, "number: expected an integer, got boolean"),
    ("pull_request", PULL, "number", -1, "number: expected a positive integer, got -1"),
    ("pull_request", PULL, "number", 0, "number: expected a positive integer, got 0"),
    ("pull_request", PULL, "pull_request", [], "pull_request: expected an object, got array"),
    ("pull_request", PULL, "pull_request", None, "pull_request: is required (null)"),
    (
        "pull_request",
        PULL,
        "pull_request.base",
        "main",
        "pull_request.base: expected an object, got string",
    ),
    (
        "pull_request",
        PULL,
        "pull_request.base.ref",
        None,
        "pull_request.base.ref: is required (null)",
    ),
    (
        "pull_request",
        PULL,
        "pull_request.head",
        _DELETE,
        "pull_request.head: is required (missing)",
    ),
    (
        "pull_request",
        PULL,
        "pull_request.head.ref",
        5,
        "pull_request.head.ref: expected a string, got number",
    ),
    (
        "pull_request",
        PULL,
        "pull_request.head.sha",
        [],
        "pull_request.head.sha: expected a string, got array",
    ),
    (
        "pull_request",
        PULL,
        "pull_request.head.sha",
        "abc",
        f"pull_request.head.sha: {SHA_MESSAGE} 'abc'",
    ),
    (
        "pull_request",
        PULL,
        "pull_request.merged",
        "yes",
        "pull_request.merged: expected a boolean, got string",
    ),
    (
        "pull_request",
        PULL,
        "repository.full_name",
        None,
        "repository.full_name: is required (null)",
    ),
    ("delete", DELETE, "ref", 3, "ref: expected a string, got number"),
    ("delete", DELETE, "ref_type", None, "ref_type: is required (null)"),
    ("delete", DELETE, "ref_type", [], "ref_type: expected a string, got array"),
    ("create", CREATE, "sha", 5, "sha: expected a string, got number"),
    ("create", CREATE, "sha", "main", f"sha: {SHA_MESSAGE} 'main'"),
]


@pytest.mark.parametrize(
    ("event", "data", "path", "value", "message"),
    [
        pytest.param(*case, id=f"{case[0]}-{case[2]}-{_shown(case[3])}")
        for case in GITEA_WRONG_FIELDS
    ],
)
async def test_webhook_gitea_wrong_field_type_is_400_naming_the_field(
    server: RunningServer, event: str, data: dict[str, Any], path: str, value: Any, message: str
) -> None:
    body = mutated(data, path, value)
    before = await delivery_count(server)
    response = await server.client.post(GITEA, content=body, headers=signed(body, event))
    await assert_refused(server, response, 400, "InvalidPayload", message, stored_before=before)


@pytest.mark.parametrize(
    ("event", "data", "path", "value"),
    [
        pytest.param("push", PUSH, "commits", {"id": "x"}, id="push-commits-object"),
        pytest.param("push", PUSH, "total_commits", "two", id="push-total_commits-string"),
        pytest.param("push", PUSH, "compare_url", 1, id="push-compare_url-number"),
        pytest.param("pull_request", PULL, "pull_request.number", "12", id="pr-inner-number"),
        pytest.param("pull_request", PULL, "pull_request.title", [], id="pr-title-array"),
    ],
)
async def test_webhook_gitea_fields_the_normalizer_does_not_read_are_not_checked(
    recording_server: RunningServer, event: str, data: dict[str, Any], path: str, value: Any
) -> None:
    # Old and partial payloads must still parse (shared/fixtures/gitea/README.md), so only
    # the fields an Event is built from are type-checked: `commits` and the PR object's own
    # `number` are not among them (the top-level `number` is).
    body = mutated(for_fresh_commit(data), path, value)
    response = await recording_server.client.post(GITEA, content=body, headers=signed(body, event))
    assert accepted(response)["trigger"] is True


ARGOCD_WRONG_FIELDS: list[tuple[str, Any, str]] = [
    ("app_name", 42, "app_name: expected a string, got number"),
    ("app_name", "", "app_name: must not be empty"),
    ("app_name", None, "app_name: is required (null)"),
    ("app_name", _DELETE, "app_name: is required (missing)"),
    ("app_name", "\ud800", "app_name: contains a lone surrogate (\\ud800)"),
    ("app_name", "user\x00service", "app_name: contains a NUL character (\\u0000)"),
    ("revision", 7, "revision: expected a string, got number"),
    ("revision", [SHA], "revision: expected a string, got array"),
    ("revision", _DELETE, "revision: is required (or a non-empty 'revisions' list)"),
    ("revisions", SHA, "revisions: expected an array of strings, got string"),
    ("revisions", [SHA, 1], "revisions[1]: expected a string, got number"),
    ("revisions", ["\udcff"], "revisions[0]: contains a lone surrogate (\\udcff)"),
    ("status", 1, "status: expected a string, got number"),
    ("health", {"status": "Healthy"}, "health: expected a string, got object"),
    ("repository", [], "repository: expected a string, got array"),
    ("namespace", True, "namespace: expected a string, got boolean"),
    ("branch", 3, "branch: expected a string, got number"),
    ("pr_number", -1, "pr_number: expected a positive integer, got -1"),
    ("pr_number", 0, "pr_number: expected a positive integer, got 0"),
    ("pr_number", "abc", "pr_number: expected an integer or a numeric string, got string 'abc'"),
    ("pr_number", "-1", "pr_number: expected an integer or a numeric string, got string '-1'"),
    ("pr_number", True, "pr_number: expected an integer or a numeric string, got boolean True"),
    ("pr_number", 1.5, "pr_number: expected an integer or a numeric string, got number 1.5"),
    ("pr_number", [1], "pr_number: expected an integer or a numeric string, got array [1]"),
]


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [pytest.param(*case, id=f"{case[0]}-{_shown(case[1])}") for case in ARGOCD_WRONG_FIELDS],
)
async def test_webhook_argocd_wrong_field_type_is_400_naming_the_field(
    server: RunningServer, path: str, value: Any, message: str
) -> None:
    body = mutated(ARGOCD_FIELDS, path, value)
    before = await delivery_count(server)
    response = await server.client.post(ARGOCD, content=body, headers=BEARER)
    await assert_refused(server, response, 400, "InvalidPayload", message, stored_before=before)


# --- 5. Unknown and missing events -----------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "body"),
    [
        pytest.param("issues", PUSH_BODY, id="issues"),
        pytest.param("release", PUSH_BODY, id="release"),
        pytest.param("pull_request_approved", mutated(PULL, "action", "reviewed"), id="review"),
    ],
)
async def test_webhook_gitea_unknown_event_is_recorded_as_ignored(
    recording_server: RunningServer, event: str, body: bytes
) -> None:
    # Ignored events are deduplicated by delivery id only: a fresh one keeps the body as is.
    server = recording_server
    headers = {**signed(body, event), "X-Gitea-Delivery": fresh_delivery_id()}
    before = await delivery_count(server)
    response = await server.client.post(GITEA, content=body, headers=headers)
    answer = accepted(response)
    assert answer["event"] == "unknown"
    assert answer["trigger"] is False
    assert answer["ignored_reason"] == f"event {event!r} does not start runs"
    assert await delivery_count(server) == before + 1
    [stored] = await server.controller.storage.recent_deliveries(limit=1)
    assert stored.id == answer["delivery"]
    assert stored.event.ignored_reason == answer["ignored_reason"]
    assert stored.event.repository == "alice/demo"
    assert stored.raw_body == body


@pytest.mark.parametrize(
    ("events", "message"),
    [
        pytest.param([b""], NO_EVENT_HEADER, id="empty"),
        pytest.param([], NO_EVENT_HEADER, id="absent"),
        pytest.param(
            [b"push", b"issues"], "conflicting values for header x-gitea-event", id="conflicting"
        ),
    ],
)
async def test_webhook_gitea_missing_event_header_is_400(
    server: RunningServer, events: list[bytes], message: str
) -> None:
    # A correctly signed body without a usable event name cannot be normalized: Gitea always
    # sends one, so its absence means the sender is not Gitea (or a proxy dropped it).
    headers = {k: v for k, v in signed(PUSH_BODY).items() if k != "X-Gitea-Event"}
    event_headers = [(b"X-Gitea-Event", value) for value in events]
    before = await delivery_count(server)
    response = await server.client.post(
        GITEA, content=PUSH_BODY, headers=raw(headers, *event_headers)
    )
    await assert_refused(server, response, 400, "InvalidPayload", message, stored_before=before)


# --- 6. The legacy docs example --------------------------------------------------------------

LEGACY_BODY = (VERBATIM / "docs-webhook-push-example.json").read_bytes()
LEGACY_SECRET = json.loads(LEGACY_BODY)["secret"]


def legacy_headers() -> dict[str, str]:
    lines = (VERBATIM / "docs-webhook-push-example.headers.txt").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


async def test_webhook_gitea_legacy_docs_payload_is_not_authenticated_by_its_secret_field(
    tmp_path: Path,
) -> None:
    # The docs example carries the deprecated in-body "secret" and no signature header. Even
    # with that very value configured as the webhook secret, only an HMAC authenticates.
    headers = legacy_headers()
    assert not any("signature" in name.lower() for name in headers)
    async with webhook_server(tmp_path, gitea_secret=LEGACY_SECRET) as server:
        verbatim = await server.client.post(GITEA, content=LEGACY_BODY, headers=headers)
        message = f"unsupported content type 'none'; {GITEA_MEDIA}"
        await assert_refused(server, verbatim, 415, "HTTPError", message, stored_before=0)
        as_json = {**headers, "Content-Type": "application/json"}
        unsigned = await server.client.post(GITEA, content=LEGACY_BODY, headers=as_json)
        await assert_refused(
            server, unsigned, 401, "Unauthenticated", MISSING_SIGNATURE, stored_before=0
        )


async def test_webhook_gitea_legacy_docs_payload_signed_is_accepted(
    recording_server: RunningServer,
) -> None:
    # The only case that sends this body, so it goes as documented (its own delivery id).
    server = recording_server
    headers = {
        **legacy_headers(),
        "Content-Type": "application/json",
        "X-Gitea-Signature": gitea_signature(LEGACY_BODY),
    }
    answer = accepted(await server.client.post(GITEA, content=LEGACY_BODY, headers=headers))
    assert answer["event"] == "push"
    assert answer["trigger"] is True
    stored = await server.controller.storage.get_delivery(answer["delivery"])
    assert stored.delivery_id == "f6266f16-1bf3-46a5-9ea4-602e06ead473"
    assert stored.event.repository == "gitea/webhooks"
    assert stored.event.branch == "develop"
    assert stored.event.revision == "bffeb74224043ba2feb48d137756c8a9331c449a"


# --- 7. Argo CD authentication and bodies ----------------------------------------------------

TOKEN = ARGOCD_TOKEN.encode()
ARGOCD_REFUSED: list[tuple[str, bytes | None, str]] = [
    ("missing", None, MISSING_AUTHORIZATION),
    # "Bearer " with an empty token reaches the app as "Bearer": HTTP strips the trailing
    # space (and httpx refuses to send it).
    ("bearer-alone", b"Bearer", MALFORMED_AUTHORIZATION),
    ("bearer-two-words", b"Bearer " + TOKEN + b" extra", MALFORMED_AUTHORIZATION),
    ("bearer-non-ascii", b"Bearer \xff\xfe" + TOKEN, MALFORMED_AUTHORIZATION),
    ("bearer-utf8", "Bearer tökén".encode(), MALFORMED_AUTHORIZATION),
    ("token-scheme", b"Token " + TOKEN, UNSUPPORTED_SCHEME),
    ("bearer-wrong", b"Bearer nope", BEARER_MISMATCH),
    ("bearer-prefix", b"Bearer " + TOKEN[:-1], BEARER_MISMATCH),
    ("bearer-longer", b"Bearer " + TOKEN + b"x", BEARER_MISMATCH),
    ("bearer-gitea-secret", b"Bearer " + GITEA_SECRET.encode(), BEARER_MISMATCH),
    ("basic-wrong-password", basic(b"meshgate:wrong"), BASIC_MISMATCH),
    ("basic-empty", basic(b":"), BASIC_MISMATCH),
    ("basic-not-base64", b"Basic !!!", MALFORMED_BASIC),
    ("basic-no-colon", basic(TOKEN), MALFORMED_BASIC),
    ("basic-not-utf8", basic(b"\xff:" + TOKEN), MALFORMED_BASIC),
    ("basic-non-ascii", b"Basic \xff", MALFORMED_AUTHORIZATION),
]


@pytest.mark.parametrize(
    ("authorization", "reason"),
    [pytest.param(auth, reason, id=name) for name, auth, reason in ARGOCD_REFUSED],
)
async def test_webhook_argocd_bad_authorization_is_401_with_a_reason(
    server: RunningServer, authorization: bytes | None, reason: str
) -> None:
    headers: list[Header] = [(b"Content-Type", b"application/json")]
    if authorization is not None:
        headers.append((b"Authorization", authorization))
    before = await delivery_count(server)
    response = await server.client.post(ARGOCD, content=ARGOCD_BODY, headers=headers)
    await assert_refused(server, response, 401, "Unauthenticated", reason, stored_before=before)
    assert ARGOCD_TOKEN not in response.text
    assert ARGOCD_TOKEN_PREVIOUS not in response.text


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(b"Bearer " + TOKEN, id="bearer"),
        pytest.param(b"bearer " + TOKEN, id="bearer-lowercase-scheme"),
        pytest.param(b"Bearer " + ARGOCD_TOKEN_PREVIOUS.encode(), id="bearer-previous"),
        pytest.param(basic(b"meshgate:" + TOKEN), id="basic-password"),
        pytest.param(basic(b"anyone:" + TOKEN), id="basic-any-user"),
        pytest.param(basic(TOKEN + b":"), id="basic-user-without-password"),
        pytest.param(basic(b"meshgate:" + ARGOCD_TOKEN_PREVIOUS.encode()), id="basic-previous"),
    ],
)
async def test_webhook_argocd_accepted_authorization(
    recording_server: RunningServer, authorization: bytes
) -> None:
    headers = [(b"Content-Type", b"application/json"), (b"Authorization", authorization)]
    body = fresh_argocd_body()
    answer = accepted(await recording_server.client.post(ARGOCD, content=body, headers=headers))
    assert answer["integration"] == "shop/argocd-staging"
    assert answer["trigger"] is True


async def test_webhook_argocd_both_tokens_are_accepted_during_rotation(
    recording_server: RunningServer,
) -> None:
    server = recording_server
    new = {**BEARER, "Authorization": f"Bearer {ARGOCD_TOKEN}"}
    old = {**BEARER, "Authorization": f"Bearer {ARGOCD_TOKEN_PREVIOUS}"}
    one, other = fresh_argocd_body(), fresh_argocd_body()
    before = await delivery_count(server)
    first = accepted(await server.client.post(ARGOCD, content=one, headers=new))
    second = accepted(await server.client.post(ARGOCD, content=other, headers=old))
    assert first["delivery"] != second["delivery"]
    assert first["integration"] == second["integration"] == "shop/argocd-staging"
    assert await delivery_count(server) == before + 2


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"status": "OutOfSync"}, "app is OutOfSync/Healthy, not Synced/Healthy"),
        ({"health": "Degraded"}, "app is Synced/Degraded, not Synced/Healthy"),
        ({"health": "Progressing"}, "app is Synced/Progressing, not Synced/Healthy"),
        ({"status": None, "health": ""}, "app is (no status)/(no health), not Synced/Healthy"),
    ],
    ids=["out-of-sync", "degraded", "progressing", "no-state"],
)
async def test_webhook_argocd_unhealthy_or_unsynced_is_recorded_not_triggering(
    recording_server: RunningServer, changes: dict[str, Any], reason: str
) -> None:
    server = recording_server
    body = fresh_argocd_body(**changes)
    answer = accepted(await server.client.post(ARGOCD, content=body, headers=BEARER))
    assert answer["event"] == "sync"
    assert answer["trigger"] is False
    assert answer["ignored_reason"] == reason
    stored = await server.controller.storage.get_delivery(answer["delivery"])
    assert stored.event.ignored_reason == reason


async def test_webhook_argocd_tolerates_unknown_fields(recording_server: RunningServer) -> None:
    server = recording_server
    extra = {"sync_phase": "Succeeded", "operation": {"initiatedBy": {"automated": True}}, "x": []}
    sha = fresh_sha()
    body = json.dumps({**ARGOCD_FIELDS, "revision": sha, **extra}).encode()
    answer = accepted(await server.client.post(ARGOCD, content=body, headers=BEARER))
    assert answer["trigger"] is True
    stored = await server.controller.storage.get_delivery(answer["delivery"])
    assert stored.event.revision == sha
    assert stored.raw_body == body


async def test_webhook_argocd_multi_source_revisions_without_revision(
    recording_server: RunningServer,
) -> None:
    server = recording_server
    fields = {k: v for k, v in ARGOCD_FIELDS.items() if k != "revision"}
    sha = fresh_sha()
    body = json.dumps({**fields, "revisions": ["", sha, "1.2.3"]}).encode()
    answer = accepted(await server.client.post(ARGOCD, content=body, headers=BEARER))
    assert answer["trigger"] is True
    stored = await server.controller.storage.get_delivery(answer["delivery"])
    assert stored.event.revision == sha
    assert stored.event.revisions == ("", sha, "1.2.3")
