"""JUnit XML of a suite run, rendered from its result (flows.md §3).

The mapping is chosen for the three consumers that matter: GitLab keys test cases on
``classname`` + ``name`` (and drops duplicates), Jenkins splits ``classname`` at its last dot
into package and class, Gitea Actions renders what GitLab does. So: one flat ``<testsuite>``
per flow run (no nesting), ``classname="<suite>.<flow>[<row>]"`` with dots inside ids made
``_`` (package = suite, class = flow), the step name as ``name`` (no index, so inserting a
step keeps history), ``(finally) `` before cleanup steps. Wrong answers are ``<failure>``,
everything that kept a verdict from being reached is ``<error>``, steps not run are
``<skipped>``. ``timestamp`` is UTC without a zone suffix (the Ant schema's form). Text
that XML 1.0 cannot hold is removed; every text here comes from redacted results.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

from controller.flows.results import FAILURES, FlowResult, StepResult, SuiteResult

MESSAGE_CHARS = 200
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True, slots=True)
class RunInfo:
    """What the report says about the run beyond the suite result."""

    run_id: str
    environment: str = ""
    application: str = ""
    revision: str = ""
    config_revision: str = ""


def render_junit(result: SuiteResult, info: RunInfo, *, granularity: str = "step") -> bytes:
    """The JUnit XML document (UTF-8, with declaration)."""
    counts = _Counts()
    suites = []
    if result.readiness:
        suites.append(_readiness_suite(result, counts))
    if granularity == "flow":
        suites.append(_flows_as_cases(result, counts))
    else:
        suites.extend(_flow_suite(result, flow, info, counts) for flow in result.flows)
    root = ET.Element(
        "testsuites",
        _attrs(
            name=f"{result.suite}@{info.environment or 'local'} run {info.run_id}",
            **counts.attributes(),
            time=_seconds(result.duration_ms),
            timestamp=_timestamp(result.started_at),
        ),
    )
    root.extend(suites)
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document


class _Counts:
    def __init__(self) -> None:
        self.tests = self.failures = self.errors = self.skipped = 0

    def add_to(self, total: _Counts) -> None:
        total.tests += self.tests
        total.failures += self.failures
        total.errors += self.errors
        total.skipped += self.skipped

    def attributes(self) -> dict[str, object]:
        return {
            "tests": self.tests,
            "failures": self.failures,
            "errors": self.errors,
            "skipped": self.skipped,
        }

    def add(self, status: str, failure_type: str) -> None:
        self.tests += 1
        if status == "skipped":
            self.skipped += 1
        elif status == "failed" and failure_type in FAILURES:
            self.failures += 1
        elif status in ("failed", "error"):
            self.errors += 1


def _testsuite(name: str, counts: _Counts, duration_ms: float, started_at: str) -> ET.Element:
    return ET.Element(
        "testsuite",
        _attrs(
            name=name,
            **counts.attributes(),
            time=_seconds(duration_ms),
            timestamp=_timestamp(started_at),
        ),
    )


def _outcome_tag(step: StepResult) -> str:
    """``failure`` for a wrong answer, ``error`` when no verdict was reached."""
    return "failure" if step.status == "failed" and step.failure_type in FAILURES else "error"


def _flow_suite(result: SuiteResult, flow: FlowResult, info: RunInfo, total: _Counts) -> ET.Element:
    counts = _Counts()
    classname = f"{_id(result.suite)}.{_id(flow.flow)}" + (f"[{_id(flow.row)}]" if flow.row else "")
    cases = [_case(classname, step, flow.file, counts) for step in flow.steps]
    counts.add_to(total)
    element = _testsuite(
        f"{result.suite}/{flow.label}",
        counts,
        flow.duration_ms,
        flow.started_at or result.started_at,
    )
    properties = ET.SubElement(element, "properties")
    for name, value in _properties(result, flow, info):
        ET.SubElement(properties, "property", _attrs(name=name, value=value))
    element.extend(cases)
    return element


def _properties(result: SuiteResult, flow: FlowResult, info: RunInfo) -> list[tuple[str, str]]:
    pairs = [("suite", result.suite), ("flow", flow.flow), ("file", flow.file)]
    if flow.row:
        pairs.append(("row", flow.row))
    if info.application:
        pairs.append(("argocd.application", info.application))
    if info.revision:
        pairs.append(("argocd.revision" if info.application else "revision", info.revision))
    if info.config_revision:
        pairs.append(("tests.revision", info.config_revision))
    pairs += [(f"route.{service}", target) for service, target in result.routes]
    return pairs


def _case(classname: str, step: StepResult, file: str, counts: _Counts) -> ET.Element:
    name = step.name if step.phase == "steps" else f"(finally) {step.name}"
    case = ET.Element(
        "testcase",
        _attrs(classname=classname, name=name, file=file, time=_seconds(step.duration_ms)),
    )
    counts.add(step.status, step.failure_type)
    if step.status == "skipped":
        ET.SubElement(case, "skipped", _attrs(message=_short(step.message)))
    elif step.status in ("failed", "error"):
        child = ET.SubElement(
            case,
            _outcome_tag(step),
            _attrs(type=step.failure_type or "Error", message=_short(step.message)),
        )
        child.text = _clean(_details(step, file))
    out = _system_out(step)
    if out:
        ET.SubElement(case, "system-out").text = _clean(out)
    return case


def _flows_as_cases(result: SuiteResult, total: _Counts) -> ET.Element:
    """``granularity: flow``: one test case per flow run, the steps listed inside."""
    counts = _Counts()
    cases = []
    for flow in result.flows:
        worst = _worst(flow.steps)
        case = ET.Element(
            "testcase",
            _attrs(
                classname=_id(result.suite),
                name=flow.label,
                file=flow.file,
                time=_seconds(flow.duration_ms),
            ),
        )
        log = "\n".join(
            f"step {s.name}: {s.status}" + (f" ({s.message})" if s.message else "")
            for s in flow.steps
        )
        if flow.status == "skipped":
            counts.add("skipped", "")
            ET.SubElement(case, "skipped", _attrs(message=_short(flow.message)))
        elif worst is not None:
            counts.add(worst.status, worst.failure_type)
            child = ET.SubElement(
                case,
                _outcome_tag(worst),
                _attrs(
                    type=worst.failure_type or "Error",
                    message=_short(f"{worst.name}: {worst.message}"),
                ),
            )
            child.text = _clean(log + "\n\n" + _details(worst, flow.file))
        else:
            counts.add("passed", "")
            ET.SubElement(case, "system-out").text = _clean(log)
        cases.append(case)
    counts.add_to(total)
    element = _testsuite(result.suite, counts, result.duration_ms, result.started_at)
    element.extend(cases)
    return element


def _readiness_suite(result: SuiteResult, total: _Counts) -> ET.Element:
    counts = _Counts()
    classname = f"{_id(result.suite)}.(readiness)"
    cases = [_case(classname, gate, "", counts) for gate in result.readiness]
    counts.add_to(total)
    longest = max((gate.duration_ms for gate in result.readiness), default=0.0)
    element = _testsuite(f"{result.suite}/(readiness)", counts, longest, result.started_at)
    element.extend(cases)
    return element


def _worst(steps: Sequence[StepResult]) -> StepResult | None:
    return next((s for s in steps if s.status == "failed"), None) or next(
        (s for s in steps if s.status == "error"), None
    )


def _details(step: StepResult, file: str) -> str:
    where = f" ({file}:{step.line})" if step.line else ""
    lines = [f"step: {step.name}{where}"]
    if step.request is not None:
        lines.append(f"{step.request.method} {step.request.url}")
        lines += [f"{name}: {value}" for name, value in step.request.headers]
        if step.request.body:
            lines.append(step.request.body)
    if step.response is not None:
        lines.append(f"-> {step.response.status} in {step.response.elapsed_ms:.0f}ms")
        if step.response.body:
            lines.append(step.response.body + (" [truncated]" if step.response.truncated else ""))
    failed = [c for c in step.checks if not c.passed]
    if failed:
        lines.append("failed checks:")
        lines += [f"  - {c.message}" for c in failed]
    elif step.message:
        lines.append(step.message)
    return "\n".join(lines)


def _system_out(step: StepResult) -> str:
    lines = []
    if len(step.attempts) > 1:
        lines.append("attempts:")
        for attempt in step.attempts:
            status = attempt.status if attempt.status is not None else attempt.error
            lines.append(
                f"#{attempt.number} t+{attempt.at_ms / 1000:.1f}s {status} ({attempt.outcome})"
            )
    if step.warnings:
        lines.append("soft checks failed (warnings):")
        lines += [f"  - {w.message}" for w in step.warnings]
    return "\n".join(lines)


def _attrs(**values: object) -> dict[str, str]:
    return {key: _clean(str(value)) for key, value in values.items()}


def _id(text: str) -> str:
    return text.replace(".", "_")


def _short(text: str) -> str:
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…"


def _clean(text: str) -> str:
    return _INVALID_XML.sub("", text)


def _seconds(ms: float) -> str:
    return f"{ms / 1000:.3f}"


def _timestamp(iso: str) -> str:
    """``2026-12-01T10:15:02`` from ``2026-12-01T10:15:02.123456Z`` (UTC, no zone)."""
    return iso[:19] if iso else ""
