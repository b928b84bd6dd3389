"""Credentials inside URLs (``https://bot:TOKEN@gitea/...``): used, never shown.

Settings, the Git mirror and storage all handle URLs that may carry credentials, and all of
them turn those URLs (or text that may quote them: git's stderr, driver errors) into
something safe to log, store or return. This is the one implementation they share.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit, urlunsplit

_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/\s@'\"]+@", re.IGNORECASE)


def redact_url(url: str) -> str:
    """``url`` without its user info, so it can be logged and shown."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _USERINFO.sub(r"\1", url)
    _, at, host = parts.netloc.rpartition("@")
    if not at:
        return url
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def credentials_in(url: str) -> list[str]:
    """The strings of ``url`` that must never be shown, in every spelling, longest first.

    A user name alone is secret over HTTP(S) (a token used as the user name); over SSH it is
    not (``git@host``).
    """
    try:
        parts = urlsplit(url)
        password, username = parts.password, parts.username
    except ValueError:
        return []
    userinfo, at, _ = parts.netloc.rpartition("@")
    if not at:
        return []
    found = {userinfo, unquote(userinfo)}
    if password:
        found |= {password, unquote(password)}
    elif username and parts.scheme.lower() in ("http", "https"):
        found |= {username, unquote(username)}
    return sorted((s for s in found if s), key=len, reverse=True)


def scrub_credentials(text: str, url: str = "") -> str:
    """``text`` with the credentials of ``url``, and any other ``scheme://user@`` user info,
    replaced by ``***``."""
    for secret in credentials_in(url):
        text = text.replace(secret, "***")
    return _USERINFO.sub(r"\1***@", text)
