"""Webhook authentication: pure functions over request bytes, headers and ``Secret``s.

Two schemes, both supporting several configured secrets at once (rotation):

* **Gitea signature** (``shared/reference/gitea.md`` 1.2-1.3): HMAC-SHA256 of the signed bytes
  keyed with the secret's raw UTF-8 bytes, sent as ``X-Gitea-Signature: <64 hex>`` and/or
  ``X-Hub-Signature-256: sha256=<64 hex>``. A delivery verifies when any well-formed one of
  the two headers matches any configured secret. The signed bytes are the raw request body
  for ``application/json`` deliveries; for ``application/x-www-form-urlencoded`` deliveries
  they are the URL-decoded ``payload`` field (Gitea signs the JSON, not the form): pass the
  body through ``gitea_signed_bytes(body, headers)`` (or ``form_payload(body)``) first.
  Never parse and re-serialise the JSON before verifying.
* **Bearer / Basic** (Argo CD notifications, ``shared/reference/argocd.md`` 1.2, 1.9):
  ``Authorization: Bearer <token>`` (scheme case-insensitive), or ``Basic`` where the
  password, or the user name if the password is empty, is the token.

Header mappings may be any ``Mapping[str, str]`` (a plain dict in any casing, Starlette's
``Headers``); names are matched case-insensitively here. A name given twice in different
casings with different values is treated as malformed. Values are used as given: surrounding
whitespace makes a header malformed (servers strip it before the application sees it).

Nothing here raises on bad input: a malformed or missing header is "not authenticated".
Comparisons are constant-time on bytes (``hmac.compare_digest``); bearer tokens are compared
as keyed digests so neither the length nor the content of a token leaks through timing.
Empty secrets and tokens never authenticate anything. Failure reasons (``describe_*``) are
fixed strings that never contain a provided or expected secret value.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets as _random
from collections.abc import Mapping, Sequence
from urllib.parse import unquote_to_bytes

from controller.settings import Secret

__all__ = [
    "describe_bearer_failure",
    "describe_gitea_failure",
    "form_payload",
    "gitea_signed_bytes",
    "matching_secret_index",
    "matching_token_index",
    "verify_bearer",
    "verify_gitea_signature",
]

GITEA_SIGNATURE = "X-Gitea-Signature"
HUB_SIGNATURE_256 = "X-Hub-Signature-256"
AUTHORIZATION = "Authorization"

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_CREDENTIALS = re.compile(r"([A-Za-z][A-Za-z0-9._~+-]*) ([\x21-\x7e]+)")
_FORM = "application/x-www-form-urlencoded"

# Per-process key for comparing tokens as digests (hides their length from timing).
_COMPARE_KEY = _random.token_bytes(32)

# Failure reasons (fixed strings: nothing from the request or the configuration).
NO_WEBHOOK_SECRET = "no webhook secret is configured"
MISSING_SIGNATURE = "missing X-Gitea-Signature header"
UNSIGNED = "the delivery is unsigned (empty X-Gitea-Signature header)"
MALFORMED_SIGNATURE = (
    "malformed signature header (expected X-Gitea-Signature: <64 hex characters> "
    "or X-Hub-Signature-256: sha256=<64 hex characters>)"
)
SIGNATURE_MISMATCH = "signature does not match any configured webhook secret"
NO_TOKEN = "no token is configured"
MISSING_AUTHORIZATION = "missing Authorization header"
MALFORMED_AUTHORIZATION = "malformed Authorization header"
UNSUPPORTED_SCHEME = "unsupported Authorization scheme (expected Bearer or Basic)"
MALFORMED_BASIC = "malformed Basic credentials"
BEARER_MISMATCH = "bearer token does not match"
BASIC_MISMATCH = "basic credentials do not match"


class _Malformed:
    """Marker: the header is present but unusable (e.g. given twice with different values)."""


_MALFORMED = _Malformed()


def _header(headers: Mapping[str, str], name: str) -> str | _Malformed | None:
    """The value of ``name`` (case-insensitive); ``None`` if absent."""
    wanted = name.lower()
    found: str | None = None
    for key, value in headers.items():
        if not isinstance(key, str) or key.lower() != wanted:
            continue
        if not isinstance(value, str) or (found is not None and found != value):
            return _MALFORMED
        found = value
    return found


def _secret_bytes(secret: Secret) -> bytes | None:
    """The secret as raw bytes (``surrogateescape`` gives back undecodable environment bytes);
    ``None`` for an empty or unencodable secret, which must never authenticate."""
    try:
        raw = secret.reveal().encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return None
    return raw or None


# --- Gitea signatures ---------------------------------------------------------------------


def form_payload(body: bytes) -> bytes | None:
    """The exact bytes of the single ``payload`` field of a url-encoded form body, or ``None``
    if the body has no such field, has it more than once, or is not ASCII."""
    if not body.isascii():
        return None
    found: bytes | None = None
    for field in body.split(b"&"):
        name, _, value = field.partition(b"=")
        if unquote_to_bytes(name.replace(b"+", b" ")) != b"payload":
            continue
        if found is not None:
            return None
        found = unquote_to_bytes(value.replace(b"+", b" "))
    return found


def gitea_signed_bytes(body: bytes, headers: Mapping[str, str]) -> bytes | None:
    """The bytes Gitea signed: ``body`` itself, or its ``payload`` field when the delivery's
    ``Content-Type`` is ``application/x-www-form-urlencoded``. ``None`` for a form body
    without a usable ``payload`` field (the delivery cannot verify)."""
    content_type = _header(headers, "Content-Type")
    if isinstance(content_type, str):
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type == _FORM:
            return form_payload(body)
    return body


def _provided_digests(headers: Mapping[str, str]) -> tuple[list[bytes], str | None]:
    """Well-formed signatures sent (raw 32-byte digests), and why there are none if so."""
    digests: list[bytes] = []
    present = empty = False
    for name, prefix in ((GITEA_SIGNATURE, ""), (HUB_SIGNATURE_256, "sha256=")):
        value = _header(headers, name)
        if value is None:
            continue
        present = True
        if isinstance(value, _Malformed):
            continue
        if value == prefix:
            empty = True
            continue
        if not value.startswith(prefix):
            continue
        hexdigest = value[len(prefix) :]
        if _HEX64.fullmatch(hexdigest):
            digests.append(bytes.fromhex(hexdigest))
    if digests:
        return digests, None
    if not present:
        return digests, MISSING_SIGNATURE
    return digests, UNSIGNED if empty else MALFORMED_SIGNATURE


def _check_gitea(
    body: bytes | None, headers: Mapping[str, str], secrets: Sequence[Secret]
) -> tuple[int | None, str | None]:
    keys = [_secret_bytes(s) for s in secrets]
    if not any(keys):
        return None, NO_WEBHOOK_SECRET
    provided, problem = _provided_digests(headers)
    if problem is not None:
        return None, problem
    if not isinstance(body, bytes):
        return None, SIGNATURE_MISMATCH
    match: int | None = None
    for index, key in enumerate(keys):
        if key is None:
            continue
        expected = hmac.new(key, body, hashlib.sha256).digest()
        for digest in provided:
            if hmac.compare_digest(expected, digest) and match is None:
                match = index
    if match is None:
        return None, SIGNATURE_MISMATCH
    return match, None


def matching_secret_index(
    body: bytes | None, headers: Mapping[str, str], secrets: Sequence[Secret]
) -> int | None:
    """Index in ``secrets`` of the first secret whose signature the delivery carries.

    ``body`` is the signed bytes (see ``gitea_signed_bytes``); ``None`` never verifies.
    """
    return _check_gitea(body, headers, secrets)[0]


def verify_gitea_signature(
    body: bytes | None, headers: Mapping[str, str], secrets: Sequence[Secret]
) -> bool:
    """Whether the delivery is signed with any of ``secrets`` (see the module docstring)."""
    return matching_secret_index(body, headers, secrets) is not None


def describe_gitea_failure(
    body: bytes | None, headers: Mapping[str, str], secrets: Sequence[Secret]
) -> str | None:
    """Why the delivery does not verify (for a 401 body or a log line); ``None`` if it does."""
    return _check_gitea(body, headers, secrets)[1]


# --- Bearer / Basic -----------------------------------------------------------------------


def _presented_token(headers: Mapping[str, str]) -> tuple[bytes | None, str]:
    """The token the request presents, or ``None`` and why not. The second item is the
    mismatch reason to use if the token does not match."""
    value = _header(headers, AUTHORIZATION)
    if value is None:
        return None, MISSING_AUTHORIZATION
    if isinstance(value, _Malformed) or not value.isascii():
        return None, MALFORMED_AUTHORIZATION
    parsed = _CREDENTIALS.fullmatch(value)
    if parsed is None:
        return None, MALFORMED_AUTHORIZATION
    scheme, credentials = parsed.group(1).lower(), parsed.group(2)
    if scheme == "bearer":
        return credentials.encode("ascii"), BEARER_MISMATCH
    if scheme != "basic":
        return None, UNSUPPORTED_SCHEME
    try:
        decoded = base64.b64decode(credentials, validate=True)
    except (binascii.Error, ValueError):
        return None, MALFORMED_BASIC
    try:
        decoded.decode("utf-8")
    except UnicodeDecodeError:
        return None, MALFORMED_BASIC
    username, colon, password = decoded.partition(b":")
    if not colon:
        return None, MALFORMED_BASIC
    token = password or username
    if not token:
        return None, BASIC_MISMATCH
    return token, BASIC_MISMATCH


def _check_bearer(
    headers: Mapping[str, str], tokens: Sequence[Secret]
) -> tuple[int | None, str | None]:
    expected = [_secret_bytes(t) for t in tokens]
    if not any(expected):
        return None, NO_TOKEN
    presented, reason = _presented_token(headers)
    if presented is None:
        return None, reason
    given = hmac.new(_COMPARE_KEY, presented, hashlib.sha256).digest()
    match: int | None = None
    for index, token in enumerate(expected):
        if token is None:
            continue
        wanted = hmac.new(_COMPARE_KEY, token, hashlib.sha256).digest()
        if hmac.compare_digest(given, wanted) and match is None:
            match = index
    if match is None:
        return None, reason
    return match, None


def matching_token_index(headers: Mapping[str, str], tokens: Sequence[Secret]) -> int | None:
    """Index in ``tokens`` of the token the request's ``Authorization`` header presents."""
    return _check_bearer(headers, tokens)[0]


def verify_bearer(headers: Mapping[str, str], tokens: Sequence[Secret]) -> bool:
    """Whether the ``Authorization`` header (Bearer or Basic) presents one of ``tokens``."""
    return matching_token_index(headers, tokens) is not None


def describe_bearer_failure(headers: Mapping[str, str], tokens: Sequence[Secret]) -> str | None:
    """Why the request is not authenticated (for a 401); ``None`` if it is."""
    return _check_bearer(headers, tokens)[1]
