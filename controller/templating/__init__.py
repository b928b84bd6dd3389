"""The ``${...}`` templating language (flows.md §2.11): parse once at load, render many times.

Pure core: standard library only.
"""

from __future__ import annotations

from controller.templating.errors import TemplateError, TemplateSyntaxError
from controller.templating.grammar import (
    FILTERS,
    FUNCTIONS,
    Template,
    contains_template,
    parse,
)
from controller.templating.render import (
    MAX_OUTPUT_CHARS,
    MISSING,
    lookup,
    render,
    render_tracked,
    render_value,
    render_value_tracked,
)

__all__ = [
    "FILTERS",
    "FUNCTIONS",
    "MAX_OUTPUT_CHARS",
    "MISSING",
    "Template",
    "TemplateError",
    "TemplateSyntaxError",
    "contains_template",
    "lookup",
    "parse",
    "render",
    "render_tracked",
    "render_value",
    "render_value_tracked",
]
