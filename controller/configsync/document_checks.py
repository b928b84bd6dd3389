"""Checks that need one document only: templates parse, names unique inside a flow,
credentials are not written into headers, JSONPaths and regexes of checks compile.

These depend on nothing but the document, so ``ConfigValidator`` memoizes them per document
object; the loader hands back the same objects for unchanged files, which is what makes a
one-file change cheap to re-validate.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from controller.checks import JsonPathError, compile_path
from controller.checks.observed import SELECTORS_WITHOUT_ARGUMENT
from controller.models.documents import ConfigDocument, PathParts
from controller.models.problems import Problem
from controller.templating import TemplateSyntaxError, contains_template, parse

CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key", "cookie"})

# Which template roots each kind may read outside flows (flows also read their own vars and
# captures by bare name, so their roots are only known at run time).
_ALLOWED_ROOTS: Mapping[str, frozenset[str]] = {
    "TriggerRule": frozenset({"event"}),
    "EnvironmentTemplate": frozenset({"context", "event", "workspace"}),
    "Integration": frozenset(),
}


def check_document(doc: ConfigDocument) -> list[Problem]:
    problems = list(_check_templates(doc))
    for parts, flow in iter_flow_specs(doc):
        problems.extend(_check_flow(doc, parts, flow))
        problems.extend(_check_selectors(doc, parts, flow))
    if doc.kind == "Suite":
        for index, gate in enumerate(doc.spec.get("readiness", ())):
            problems.extend(
                _check_checks(doc, ("readiness", index, "expect"), gate.get("expect", ()))
            )
        problems.extend(_check_suite_entries(doc))
        defaults = doc.spec.get("defaults", {})
        problems.extend(_check_headers(doc, ("defaults", "headers"), defaults.get("headers", {})))
    return problems


def iter_flow_specs(doc: ConfigDocument) -> Iterator[tuple[PathParts, Mapping[str, Any]]]:
    """Every flow body in a document with its path below ``spec``: a Flow's spec, or the
    inline flows of a Suite."""
    if doc.kind == "Flow":
        yield (), doc.spec
    elif doc.kind == "Suite":
        for index, entry in enumerate(doc.spec.get("flows", ())):
            if "steps" in entry:
                yield ("flows", index), entry


def _check_templates(doc: ConfigDocument) -> Iterator[Problem]:
    allowed = _ALLOWED_ROOTS.get(doc.kind)
    for parts, text in _template_strings(doc.spec, ()):
        try:
            template = parse(text)
        except TemplateSyntaxError as exc:
            yield doc.problem(
                parts,
                f"invalid template {text!r}: {exc.message} (at character {exc.offset + 1})",
                "template.syntax",
            )
            continue
        if allowed is None:
            continue
        unknown = sorted(template.roots - allowed)
        if unknown:
            known = ", ".join(sorted(allowed)) or "none"
            yield doc.problem(
                parts,
                f"template {text!r} reads {', '.join(unknown)}, which a {doc.kind} cannot "
                f"use (available: {known})",
                "template.root",
            )


def _template_strings(node: Any, parts: PathParts) -> Iterator[tuple[PathParts, str]]:
    if isinstance(node, str):
        if contains_template(node):
            yield parts, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _template_strings(value, (*parts, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _template_strings(value, (*parts, index))


def _check_flow(
    doc: ConfigDocument, parts: PathParts, flow: Mapping[str, Any]
) -> Iterator[Problem]:
    seen: dict[str, PathParts] = {}
    for section in ("steps", "finally"):
        for index, step in enumerate(flow.get(section, ())):
            step_parts = (*parts, section, index)
            name = step.get("name", "")
            if name in seen:
                yield doc.problem(
                    (*step_parts, "name"),
                    f"duplicate step name {name!r} in this flow (step names identify test "
                    "cases in reports and must be unique)",
                    "flow.duplicate-step",
                )
            seen.setdefault(name, step_parts)
            request = step.get("request", {})
            yield from _check_headers(
                doc, (*step_parts, "request", "headers"), request.get("headers", {})
            )
    ids: set[str] = set()
    for index, row in enumerate(flow.get("parameters", ())):
        row_id = row.get("id", "")
        if row_id in ids:
            yield doc.problem(
                (*parts, "parameters", index, "id"),
                f"duplicate parameter row id {row_id!r}",
                "flow.duplicate-parameter",
            )
        ids.add(row_id)


def _check_selectors(
    doc: ConfigDocument, parts: PathParts, flow: Mapping[str, Any]
) -> Iterator[Problem]:
    yield from _check_checks(doc, (*parts, "when"), flow.get("when", ()))
    for section in ("steps", "finally"):
        for index, step in enumerate(flow.get(section, ())):
            step_parts = (*parts, section, index)
            yield from _check_checks(doc, (*step_parts, "when"), step.get("when", ()))
            yield from _check_checks(doc, (*step_parts, "expect"), step.get("expect", ()))
            poll = step.get("poll", {})
            for key in ("until", "abort_if"):
                yield from _check_checks(doc, (*step_parts, "poll", key), poll.get(key, ()))
            for name, capture in step.get("capture", {}).items():
                yield from _check_arguments(doc, (*step_parts, "capture", name), capture)


def _check_checks(doc: ConfigDocument, parts: PathParts, checks: Any) -> Iterator[Problem]:
    for index, check in enumerate(checks if isinstance(checks, list) else ()):
        if isinstance(check, Mapping):
            yield from _check_arguments(doc, (*parts, index), check)


def _check_arguments(
    doc: ConfigDocument, parts: PathParts, node: Mapping[str, Any]
) -> Iterator[Problem]:
    """The ``json`` paths and the regexes (``regex``, ``matches``, ``not_matches``, also
    inside ``each`` and ``length``) of one check or capture; templated ones are checked
    when they are rendered."""
    for key, value in node.items():
        if isinstance(value, Mapping) and key in ("each", "length", *SELECTORS_WITHOUT_ARGUMENT):
            yield from _check_arguments(doc, (*parts, key), value)
            continue
        if not isinstance(value, str) or contains_template(value):
            continue
        if key == "json":
            try:
                compile_path(value)
            except JsonPathError as exc:
                yield doc.problem((*parts, key), str(exc), "check.jsonpath")
        elif key in ("regex", "matches", "not_matches"):
            try:
                re.compile(value)
            except re.error as exc:
                yield doc.problem((*parts, key), f"invalid regex {value!r}: {exc}", "check.regex")


def _check_headers(
    doc: ConfigDocument, parts: PathParts, headers: Mapping[str, Any]
) -> Iterator[Problem]:
    for name, value in headers.items():
        literal = isinstance(value, str) and value.strip() and not contains_template(value)
        if literal and name.lower() in CREDENTIAL_HEADERS:
            yield doc.problem(
                (*parts, name),
                f"header {name!r} has a literal value: credentials must come from a secret "
                "reference, e.g. 'Bearer ${secrets.api_key}' with the suite's "
                "secrets: {api_key: {env: API_KEY}}",
                "secret.plaintext",
            )


def _check_suite_entries(doc: ConfigDocument) -> Iterator[Problem]:
    names: dict[str, int] = {}
    for index, entry in enumerate(doc.spec.get("flows", ())):
        name = entry.get("name") or entry.get("flow")
        if not isinstance(name, str):
            continue
        if name in names:
            yield doc.problem(
                ("flows", index),
                f"flow {name!r} is listed twice in this suite (first as entry {names[name]})",
                "suite.duplicate-flow",
            )
        names.setdefault(name, index)
