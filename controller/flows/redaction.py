"""Masking secrets out of everything a run records (flows.md §2.12), before it is stored.

Three layers, because each alone leaks:

1. *Values*: every resolved secret and every ``secret: true`` capture is replaced wherever it
   appears, also URL-encoded, base64-encoded, and as the base64 of ``user:secret`` pairs
   seen in a Basic ``Authorization`` header.
2. *Taint*: a header, URL or body whose template read a secret is masked whole, whatever
   filters changed the value (the request side knows this; see ``flows.requests``).
3. *Deny-lists*: credential-looking headers (``Authorization``, ``Cookie``, ``Set-Cookie``,
   ``X-Api-Key``...) and JSON keys (``password``, ``token``, ``access_token``...) are
   masked even when meshgate never knew the value.

Masking is best effort beyond these rules; reports stay access-controlled.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "***"
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "x-auth-token"}
)
SECRET_KEYS = frozenset(
    {
        "password",
        "passwd",
        "secret",
        "token",
        "client_secret",
        "access_token",
        "refresh_token",
        "id_token",
        "api_key",
        "apikey",
        "private_key",
    }
)
_FORM_SECRET = re.compile(r"(?i)((?:^|&)(?:" + "|".join(sorted(SECRET_KEYS)) + r")=)[^&]*")
_QUERY_SECRET = re.compile(r"(?i)([?&](?:" + "|".join(sorted(SECRET_KEYS)) + r")=)[^&#]*")


class Redactor:
    """Knows the secret values of one run; ``add`` more as secret captures arrive."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._forms: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        for value in values:
            self.add(value)

    def add(self, value: Any) -> None:
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        if not text:
            return
        forms = {text, quote(text, safe=""), quote_plus(text), _b64(text)}
        self._forms |= {form for form in forms if form}
        self._pattern = None

    @property
    def knows_secrets(self) -> bool:
        """Whether any value is registered (without one, only deny-lists apply)."""
        return bool(self._forms)

    def add_basic_credentials(self, header_value: str) -> None:
        """A Basic credential seen on the way out: its base64 form is masked too."""
        scheme, _, token = header_value.partition(" ")
        if scheme.lower() == "basic" and token:
            self._forms.add(token.strip())
            self._pattern = None

    def text(self, value: str) -> str:
        """``value`` with every known secret form replaced by ``***``."""
        if not self._forms or not value:
            return value
        if self._pattern is None:
            ordered = sorted(self._forms, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(form) for form in ordered))
        return self._pattern.sub(MASK, value)

    def url(self, value: str, *, tainted: bool = False) -> str:
        if tainted:
            scheme, sep, rest = value.partition("://")
            host = rest.split("/", 1)[0]
            return f"{scheme}{sep}{host}/{MASK}"
        return self.text(_QUERY_SECRET.sub(lambda m: m.group(1) + MASK, value))

    def headers(
        self, pairs: Sequence[tuple[str, str]], *, tainted: frozenset[str] = frozenset()
    ) -> tuple[tuple[str, str], ...]:
        masked = []
        for name, value in pairs:
            key = name.lower()
            if key in SECRET_HEADERS or key in tainted:
                masked.append((name, MASK))
            else:
                masked.append((name, self.text(value)))
        return tuple(masked)

    def body(self, text: str, *, tainted: bool = False) -> str:
        """A body excerpt: whole when tainted, else secret JSON keys and values masked."""
        if tainted:
            return MASK if text else ""
        lowered = text.lower()
        if not any(f'"{key}"' in lowered for key in SECRET_KEYS):
            if "=" in text and "\n" not in text:  # a form body: name=value&...
                text = _FORM_SECRET.sub(lambda m: m.group(1) + MASK, text)
            return self.text(text)
        try:
            document = json.loads(text)
        except (ValueError, RecursionError):
            return self.text(text)
        if not isinstance(document, dict | list):
            return self.text(text)
        return self.text(json.dumps(self.json(document), ensure_ascii=False))

    def json(self, value: Any) -> Any:
        """A JSON value with deny-listed keys masked and known secrets replaced."""
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, str):
            return self.text(value) if self._forms else value
        if isinstance(value, Mapping):
            return {
                key: MASK if str(key).lower() in SECRET_KEYS else self.json(item)
                for key, item in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.json(item) for item in value]
        if isinstance(value, str):
            return self.text(value)
        return value


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
