"""HTTP to the services under test: the flow engine's one use of ``httpx``.

A ``ServiceClient`` serves one run: one connection pool with limits, so a run's flows share
connections and one run's slow service cannot take another run's. What it guarantees:

- Nothing from meshgate's own environment steers a request (no proxy variables, no
  ``.netrc`` credentials, no certificate variables) and no cookie jar carries state between
  requests; a flow that needs a session captures the cookie and sends it. Requests go
  straight to an ``httpx`` transport (its public ``handle_async_request``), not through an
  ``httpx.AsyncClient``: redirects, timeouts and headers are handled here, and the client's
  cookie, auth and URL-merging machinery would be per-request work for nothing.
- Redirects are followed only when asked, at most ``MAX_REDIRECTS`` times, and only within
  the origin (scheme, host, port) of the request: a redirect elsewhere is a
  ``TransportFailure`` naming the target, so headers meant for one service never reach
  another host.
- The body is streamed: the first ``keep_bytes`` are kept for checks and reports, the rest
  only counted, up to ``drain_bytes``; then the connection is dropped. The whole exchange
  (every redirect included) ends by ``deadline``, so a response that never ends is a timeout.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace
from typing import Literal
from urllib.parse import urljoin, urlsplit

import httpx

from controller.errors import TemporaryError
from controller.models.http import HttpResponse

MAX_REDIRECTS = 10
DEFAULT_KEEP_BYTES = 1 << 20
DEFAULT_DRAIN_BYTES = 64 << 20

FailureKind = Literal["connect", "timeout", "protocol", "redirect"]


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds per phase, as ``httpx.Timeout``."""

    connect: float
    read: float
    write: float
    pool: float

    def capped(self, seconds: float) -> Timeouts:
        cap = max(seconds, 0.001)
        if cap >= max(self.connect, self.read, self.write, self.pool):
            return self
        return Timeouts(
            *(min(value, cap) for value in (self.connect, self.read, self.write, self.pool))
        )


@dataclass(frozen=True, slots=True)
class OutgoingRequest:
    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    content: bytes | None = None


@dataclass(frozen=True, slots=True)
class Exchange:
    """What was sent last (after redirects) and what came back."""

    request: OutgoingRequest
    response: HttpResponse
    redirects: tuple[str, ...] = ()


class TransportFailure(TemporaryError):
    """No usable response. ``sent`` is whether the request may have reached the service
    (a connection that never opened cannot have; a timeout while reading may have)."""

    def __init__(self, kind: FailureKind, message: str, *, sent: bool, name: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.sent = sent
        self.name = name
        """The error's type for reports: ``ConnectError``, ``ReadTimeout``..."""


DEFAULT_HEADERS = (
    ("accept", ("Accept", "*/*")),
    ("accept-encoding", ("Accept-Encoding", "gzip, deflate")),
    ("user-agent", ("User-Agent", "meshgate")),
)


class ServiceClient:
    def __init__(
        self,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 20,
        keep_bytes: int = DEFAULT_KEEP_BYTES,
        drain_bytes: int = DEFAULT_DRAIN_BYTES,
    ) -> None:
        self._keep_bytes = keep_bytes
        self._drain_bytes = max(drain_bytes, keep_bytes)
        self._transport = transport or httpx.AsyncHTTPTransport(
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            trust_env=False,
        )

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def __aenter__(self) -> ServiceClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def send(
        self,
        request: OutgoingRequest,
        *,
        timeouts: Timeouts,
        deadline: float,
        follow_redirects: bool = False,
    ) -> Exchange:
        """Send ``request`` and read its response by ``deadline`` (``time.monotonic()``);
        raises ``TransportFailure``."""
        started = time.monotonic()
        left = deadline - started
        if left <= 0:
            raise TransportFailure(
                "timeout", "no time left to send the request", sent=False, name="Timeout"
            )
        redirects: list[str] = []
        try:
            async with asyncio.timeout(left):
                while True:
                    response = await self._one(
                        request, timeouts.capped(deadline - time.monotonic())
                    )
                    target = _redirect_target(request, response) if follow_redirects else None
                    if target is None:
                        if redirects:
                            elapsed = (time.monotonic() - started) * 1000
                            response = replace(response, elapsed_ms=elapsed)
                        return Exchange(request, response, tuple(redirects))
                    if len(redirects) >= MAX_REDIRECTS:
                        raise TransportFailure(
                            "redirect",
                            f"more than {MAX_REDIRECTS} redirects",
                            sent=True,
                            name="TooManyRedirects",
                        )
                    redirects.append(target)
                    request = _follow(request, response.status, target)
        except TimeoutError:
            raise TransportFailure(
                "timeout",
                f"no complete response within {left:.3g}s (the step's time left)",
                sent=True,
                name="ReadTimeout",
            ) from None

    async def _one(self, request: OutgoingRequest, timeouts: Timeouts) -> HttpResponse:
        started = time.monotonic()
        try:
            built = httpx.Request(
                request.method,
                request.url,
                headers=_with_defaults(request.headers),
                content=request.content,
                extensions={"timeout": _httpx_timeout(timeouts)},
            )
            response = await self._transport.handle_async_request(built)
            response.request = built
            try:
                kept, size, complete = await self._read(response)
            finally:
                await response.aclose()
        except httpx.HTTPError as exc:
            raise _translated(exc, request.url) from exc
        return HttpResponse(
            status=response.status_code,
            headers=tuple(
                (k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw
            ),
            body=kept,
            url=str(built.url),
            elapsed_ms=(time.monotonic() - started) * 1000,
            body_complete=complete and size == len(kept),
            body_size=size if complete else None,
        )

    async def _read(self, response: httpx.Response) -> tuple[bytes, int, bool]:
        """(the kept bytes, the bytes read in all, whether the body ended before the drain
        limit)."""
        declared = response.headers.get("content-length", "")
        plain = "content-encoding" not in response.headers
        if plain and declared.isdigit() and int(declared) <= self._keep_bytes:
            body = await response.aread()  # small and announced: one read, as a GET does
            return body, len(body), True
        kept = bytearray()
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if len(kept) < self._keep_bytes:
                kept += chunk[: self._keep_bytes - len(kept)]
            if size > self._drain_bytes:
                return bytes(kept), size, False
        return bytes(kept), size, True


def _with_defaults(headers: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    given = {name.lower() for name, _ in headers}
    return [pair for key, pair in DEFAULT_HEADERS if key not in given] + list(headers)


def _httpx_timeout(timeouts: Timeouts) -> dict[str, float]:
    """The transport's ``timeout`` extension (what ``httpx.Timeout.as_dict`` gives)."""
    return {
        "connect": timeouts.connect,
        "read": timeouts.read,
        "write": timeouts.write,
        "pool": timeouts.pool,
    }


def _translated(exc: httpx.HTTPError, url: str) -> TransportFailure:
    name = type(exc).__name__
    where = _origin(url)
    if isinstance(exc, httpx.ConnectTimeout | httpx.ConnectError | httpx.PoolTimeout):
        reason = str(exc) or name
        return TransportFailure(
            "connect", f"cannot connect to {where}: {reason}", sent=False, name=name
        )
    if isinstance(exc, httpx.TimeoutException):
        return TransportFailure(
            "timeout", f"{where} did not answer in time ({name})", sent=True, name=name
        )
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return TransportFailure("connect", f"cannot send to {url!r}: {exc}", sent=False, name=name)
    return TransportFailure(
        "protocol", f"{where} broke the exchange: {exc or name}", sent=True, name=name
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def same_origin(a: str, b: str) -> bool:
    """Same scheme, host (any case) and port (the scheme's default when absent)."""
    return _origin_key(a) == _origin_key(b)


def _origin_key(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    try:
        port = parts.port
    except ValueError:
        port = None
    return parts.scheme, (parts.hostname or "").lower(), port or default


def _redirect_target(request: OutgoingRequest, response: HttpResponse) -> str | None:
    if response.status not in (301, 302, 303, 307, 308):
        return None
    location = response.header("location")
    if not location:
        return None
    target = urljoin(request.url, location)
    if not same_origin(request.url, target):
        raise TransportFailure(
            "redirect",
            f"{_origin(request.url)} redirected to {_origin(target)}, another host: not followed",
            sent=True,
            name="RedirectToOtherHost",
        )
    return target


def _follow(request: OutgoingRequest, status: int, target: str) -> OutgoingRequest:
    """The next request of a redirect: 307/308 keep the method and body, 303 (and 301/302
    after anything but GET/HEAD, as browsers do) become a GET without a body."""
    if status in (307, 308) or (request.method in ("GET", "HEAD") and status != 303):
        return replace(request, url=target)
    headers = tuple(
        (k, v) for k, v in request.headers if k.lower() not in ("content-type", "content-length")
    )
    return OutgoingRequest("GET", target, headers, None)
