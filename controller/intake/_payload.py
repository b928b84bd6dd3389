"""Decoding a webhook body and reading typed fields out of it, with precise errors.

Every failure is an ``InvalidPayload`` naming the field by its dotted path
(``pull_request.head.sha``), so a bad delivery is answered 400 with a useful message and never
surfaces as a ``KeyError`` or ``TypeError``.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from controller.errors import BadRequest

_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_SHOWN_MAX = 60


class InvalidPayload(BadRequest):
    """A webhook body cannot be understood; ``field`` is the dotted path at fault (``""``:
    the body as a whole), ``reason`` what is wrong with it."""

    def __init__(self, reason: str, *, field: str = "") -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.reason = reason
        self.field = field


def shown(value: object) -> str:
    """A value for an error message: repr, cut short."""
    text = repr(value)
    return text if len(text) <= _SHOWN_MAX else text[: _SHOWN_MAX - 3] + "..."


def json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__  # pragma: no cover - json.loads yields nothing else


def decode_json_object(body: bytes | str) -> JsonObject:
    """The body as a JSON object (UTF-8, strict); anything else raises ``InvalidPayload``."""
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidPayload(f"body is not valid UTF-8 (byte {exc.start})") from exc
    else:
        text = body
    if not text.strip():
        raise InvalidPayload("body is empty")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidPayload(
            f"body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from exc
    except RecursionError as exc:
        raise InvalidPayload("body is not usable JSON: nested too deeply") from exc
    except ValueError as exc:  # an integer longer than Python converts (sys.int_info)
        raise InvalidPayload(
            "body is not usable JSON: an integer has more than "
            f"{sys.get_int_max_str_digits()} digits"
        ) from exc
    if not isinstance(data, dict):
        raise InvalidPayload(f"body must be a JSON object, got {json_type(data)}")
    return JsonObject(data, "")


# Pull request numbers are stored as 64-bit integers.
MAX_PR_NUMBER = 2**63 - 1


def _checked_text(value: str, field: str) -> str:
    """``value`` if it can be stored as text: JSON escapes can produce a lone surrogate
    (``"\\ud800"``), which UTF-8 cannot encode, or NUL, which PostgreSQL text cannot hold."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        escape = f"\\u{ord(value[exc.start]):04x}"
        raise InvalidPayload(f"contains a lone surrogate ({escape})", field=field) from exc
    if "\x00" in value:
        raise InvalidPayload("contains a NUL character (\\u0000)", field=field)
    return value


def form_payload(body: bytes) -> str:
    """The ``payload`` field of an ``application/x-www-form-urlencoded`` body."""
    try:
        text = body.decode("ascii")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True, errors="strict")
    except ValueError as exc:  # UnicodeDecodeError is a ValueError
        raise InvalidPayload(f"form-encoded body cannot be decoded: {exc}") from exc
    values = [value for key, value in pairs if key == "payload"]
    if len(values) != 1:
        raise InvalidPayload(
            f"form-encoded body must have exactly one 'payload' field, found {len(values)}"
        )
    return values[0]


@dataclass(frozen=True, slots=True)
class JsonObject:
    """A JSON object at dotted path ``path`` (``""``: the body), with typed accessors.

    ``required_*`` raise when the key is missing or null; ``optional_*`` return the empty
    value for a missing or null key. Both raise when the value has the wrong type, and the
    string accessors when a string holds what no database stores (a lone surrogate, NUL).
    """

    data: Mapping[str, Any]
    path: str

    def where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def _get(self, key: str, required: bool) -> Any:
        value = self.data.get(key)
        if value is None and required:
            got = "null" if key in self.data else "missing"
            raise InvalidPayload(f"is required ({got})", field=self.where(key))
        return value

    def _wrong(self, key: str, expected: str, value: object) -> InvalidPayload:
        return InvalidPayload(f"expected {expected}, got {json_type(value)}", field=self.where(key))

    def required_str(self, key: str, *, non_empty: bool = False) -> str:
        value = self._get(key, True)
        if not isinstance(value, str):
            raise self._wrong(key, "a string", value)
        if non_empty and not value:
            raise InvalidPayload("must not be empty", field=self.where(key))
        return _checked_text(value, self.where(key))

    def optional_str(self, key: str) -> str:
        value = self._get(key, False)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self._wrong(key, "a string", value)
        return _checked_text(value, self.where(key))

    def required_int(self, key: str) -> int:
        value = self._get(key, True)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self._wrong(key, "an integer", value)
        return value

    def optional_bool(self, key: str) -> bool:
        value = self._get(key, False)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise self._wrong(key, "a boolean", value)
        return value

    def required_object(self, key: str) -> JsonObject:
        value = self._get(key, True)
        if not isinstance(value, dict):
            raise self._wrong(key, "an object", value)
        return JsonObject(value, self.where(key))

    def optional_object(self, key: str) -> JsonObject | None:
        value = self._get(key, False)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self._wrong(key, "an object", value)
        return JsonObject(value, self.where(key))

    def optional_str_list(self, key: str) -> tuple[str, ...]:
        value = self._get(key, False)
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self._wrong(key, "an array of strings", value)
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise InvalidPayload(
                    f"expected a string, got {json_type(item)}", field=f"{self.where(key)}[{index}]"
                )
            _checked_text(item, f"{self.where(key)}[{index}]")
        return tuple(value)

    def raw(self, key: str) -> Any:
        return self.data.get(key)


def is_zero_sha(value: str) -> bool:
    """All zeros, whatever the length (40 for SHA-1 repositories, 64 for SHA-256)."""
    return bool(value) and value.strip("0") == ""


def commit_sha(value: str, field: str) -> str:
    """``value`` as a full commit sha (lower-cased); anything else raises ``InvalidPayload``.

    The sha ends up in a Gitea status URL, so nothing but 40 or 64 hex digits gets through.
    """
    lowered = value.lower()
    if not _SHA.fullmatch(lowered):
        raise InvalidPayload(
            f"expected a full commit sha (40 or 64 hex digits), got {shown(value)}", field=field
        )
    return lowered
