"""Rendering the dashboard's pages (the only module that imports Jinja2).

Autoescaping is on for every template, and no template turns it off: what a page shows comes
from webhooks, from the services under test and from config authors. Values that must never
be shown (secrets) are masked before they are stored, so a page cannot leak what storage
does not hold. Templates live in ``controller/web/templates`` and the stylesheet and the few
lines of script in ``controller/web/static``; both ship inside the package.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

Banner = Callable[[], str | None]


class Pages:
    def __init__(self, *, banner: Banner = lambda: None) -> None:
        """``banner`` says what every page must show at its top (the latest config revision
        is invalid), or ``None``."""
        self._banner = banner
        self._env = jinja2.Environment(
            loader=jinja2.PackageLoader("controller.web", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.filters.update(
            when=_when, ms=_milliseconds, short=_short, pretty=_pretty, ago=_ago
        )

    def render(
        self,
        request: Request,
        template: str,
        *,
        status_code: int = 200,
        signed_in: bool = True,
        **context: Any,
    ) -> HTMLResponse:
        """``signed_in=False`` (the sign-in page) leaves out the banner, which names config
        revisions."""
        banner = self._banner() if signed_in else None
        page = self._env.get_template(template).render(
            request=request, banner=banner, now=datetime.now(UTC), **context
        )
        return HTMLResponse(page, status_code=status_code)

    def fragment(self, template: str, **context: Any) -> str:
        """A piece of a page (the live part of the run page), rendered alone."""
        return self._env.get_template(template).render(now=datetime.now(UTC), **context)


def _when(value: object) -> str:
    if value is None or value == "":
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(moment, datetime):
        return str(value)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _milliseconds(value: object) -> str:
    if not isinstance(value, int | float):
        return "—"
    if value < 1000:
        return f"{value:.0f} ms"
    return f"{value / 1000:.1f} s"


def _short(value: object) -> str:
    text = "" if value is None else str(value)
    return text[:8] if len(text) == 40 else text


def _pretty(value: object) -> str:
    """A body for people: JSON indented, anything else as it came."""
    if not isinstance(value, str):
        return json.dumps(value, indent=2, ensure_ascii=False)
    try:
        return json.dumps(json.loads(value), indent=2, ensure_ascii=False)
    except ValueError:
        return value


def _ago(value: object, now: datetime) -> str:
    """``value`` relative to ``now``: "in 42m", "3h ago"."""
    if value is None or value == "":
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(moment, datetime):
        return str(value)
    seconds = int((moment - now).total_seconds())
    span = abs(seconds)
    text = (
        f"{span}s"
        if span < 120
        else f"{span // 60}m"
        if span < 7200
        else f"{span // 3600}h"
        if span < 172800
        else f"{span // 86400}d"
    )
    return f"in {text}" if seconds > 0 else f"{text} ago"
