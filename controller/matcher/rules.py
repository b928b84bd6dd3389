"""Trigger rules compiled once per config revision, and evaluated against events.

A ``CompiledRule`` holds what matching needs from a ``TriggerRule`` document (defaults
applied, globs compiled, the context template parsed), so per-event work is comparisons only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from controller.matcher.patterns import compile_glob, is_glob
from controller.models.documents import ConfigDocument
from controller.models.events import Event
from controller.models.matching import Check
from controller.models.runs import CONTEXT_RULE, is_valid_context
from controller.models.trigger_rules import branch_filter_of, enabled_of, status_context_of
from controller.templating import Template, TemplateError, parse, render

NO_BRANCH = "(no branch)"


@lru_cache(maxsize=1024)
def value_matcher(pattern: str) -> Callable[[str], bool]:
    """Equality for a plain pattern, ``fnmatchcase`` for a glob (shared by equal patterns)."""
    if is_glob(pattern):
        return compile_glob(pattern)
    return pattern.__eq__


def context_scope(event: Event) -> dict[str, Any]:
    """What a rule's context template reads. Fields the event does not have (``pr_number``
    of a push) are left out rather than rendered as ``null``: ``pr-${event.pr_number}`` must
    fail with a reason, not name an environment ``pr-null``."""
    return {"event": {k: v for k, v in event.to_dict().items() if v is not None}}


class ContextError(Exception):
    """The rule's context template cannot be rendered for this event."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CompiledRule:
    name: str
    suite: str
    repository: str
    branch_filter: str
    event_types: tuple[str, ...]
    enabled: bool
    status_context: str
    template: str | None
    context_text: str | None
    context_template: Template | None
    _branch_matches: Callable[[str], bool]

    @classmethod
    def from_document(cls, doc: ConfigDocument, *, default_template: str | None) -> CompiledRule:
        spec = doc.spec
        environment: dict[str, Any] = dict(spec.get("environment") or {})
        context_text = environment.get("context")
        branch_filter = branch_filter_of(spec)
        return cls(
            name=doc.name,
            suite=spec["suite"],
            repository=spec["repository"],
            branch_filter=branch_filter,
            event_types=tuple(spec["event_types"]),
            enabled=enabled_of(spec),
            status_context=status_context_of(spec),
            template=environment.get("template", default_template),
            context_text=context_text,
            context_template=None if context_text is None else parse(context_text),
            _branch_matches=value_matcher(branch_filter),
        )

    def checks(self, event: Event, *, repository_matches: bool) -> tuple[Check, ...]:
        """Every predicate against ``event``; ``repository_matches`` comes from the index."""
        return (
            Check("enabled", self.enabled, "true", "true" if self.enabled else "false"),
            Check(
                "event_type",
                event.type in self.event_types,
                ", ".join(self.event_types),
                event.type,
            ),
            Check("repository", repository_matches, self.repository, event.repository),
            Check(
                "branch_filter",
                self._branch_matches(event.branch),
                self.branch_filter,
                event.branch or NO_BRANCH,
            ),
        )

    def branch_matches(self, branch: str) -> bool:
        return self._branch_matches(branch)

    def render_context(self, scope: Mapping[str, Any]) -> str | None:
        """The environment context in ``scope`` (``context_scope(event)``), or ``None`` when
        the rule has none. Raises ``ContextError``."""
        if self.context_template is None:
            return None
        try:
            value = render(self.context_template, scope)
        except TemplateError as exc:
            raise ContextError(f"context {self.context_text!r}: {exc}") from exc
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ContextError(f"context {self.context_text!r} must render to text")
        text = str(value)
        if not is_valid_context(text):
            raise ContextError(
                f"context {self.context_text!r} rendered to an unusable name: it must be "
                f"{CONTEXT_RULE}"
            )
        return text
