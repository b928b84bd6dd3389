"""Schema validation of loaded documents: envelope, kind schemas and readable problems."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from controller.errors import PermanentError
from controller.loader import LoaderLimits, SchemaSet, load_text, schema_directory
from tests.unit.loader import samples

REPO = Path(__file__).resolve().parents[3]


def _problems(text: str) -> list[tuple[int, int, str, str, str]]:
    return [(p.line, p.column, p.code, p.pointer, p.message) for p in load_text(text).problems]


def _replace(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize("text", samples.ALL)
def test_load_text_accepts_valid_document_of_every_kind(text: str) -> None:
    loaded = load_text(text, "doc.yaml")
    assert loaded.problems == ()
    (document,) = loaded.documents
    assert document.origin.path == "doc.yaml"
    assert document.origin.index == 0
    assert document.workspace == "shop"


def test_load_text_builds_config_document_with_defaults() -> None:
    text = _replace(samples.SUITE, "  workspace: shop\n  labels: {team: payments}\n", "")
    (document,) = load_text(text).documents
    assert (document.kind, document.name, document.workspace) == (
        "Suite",
        "checkout-smoke",
        "default",
    )
    assert document.labels == {}
    assert document.spec["concurrency"] == 4
    assert document.problem(("timeout",), "x", "test.code").line == 15


def test_load_text_reports_unknown_key_with_suggestion_at_the_key() -> None:
    text = _replace(samples.TRIGGER_RULE, "  enabled: true", "  enabeld: true")
    assert _problems(text) == [
        (
            16,
            3,
            "schema.unknown-key",
            "/spec/enabeld",
            "unknown key 'enabeld'; did you mean 'enabled'?",
        )
    ]


def test_load_text_reports_unknown_key_without_close_match() -> None:
    text = _replace(samples.TRIGGER_RULE, "  enabled: true", "  colour: blue")
    assert _problems(text)[0][4] == "unknown key 'colour'"


def test_load_text_reports_missing_required_key_at_parent_key() -> None:
    text = _replace(samples.TRIGGER_RULE, "  suite: checkout-smoke\n", "")
    assert _problems(text) == [(6, 1, "schema.required", "/spec", "missing required key 'suite'")]


def test_load_text_reports_type_error_at_value() -> None:
    text = _replace(samples.SUITE, "concurrency: 4", "concurrency: four")
    assert _problems(text) == [
        (16, 16, "schema.type", "/spec/concurrency", "expected integer, got string")
    ]


def test_load_text_reports_enum_with_allowed_values() -> None:
    text = _replace(samples.TRIGGER_RULE, "event_types: [sync]", "event_types: [sync, merge]")
    assert _problems(text) == [
        (
            10,
            23,
            "schema.enum",
            "/spec/event_types/1",
            "'merge' is not allowed; expected one of 'sync', 'push', 'pull_request'",
        )
    ]


def test_load_text_suggests_case_fix_for_enum() -> None:
    text = _replace(samples.FLOW, "method: POST", "method: post")
    assert _problems(text)[0][4].endswith("did you mean 'POST'?")


def test_load_text_uses_error_message_of_schema() -> None:
    text = _replace(samples.SUITE, "timeout: 15m", "timeout: 900")
    assert _problems(text) == [
        (
            17,
            12,
            "schema.type",
            "/spec/timeout",
            "a duration needs a unit, e.g. 250ms, 30s, 5m, 1h or 1m30s (bare numbers are rejected)",
        )
    ]


def test_load_text_uses_error_message_of_one_of() -> None:
    text = _replace(samples.INTEGRATION, "{env: ARGOCD_TOKEN}", "hunter2")
    ((line, column, code, pointer, message),) = _problems(text)
    assert (line, column, pointer) == (12, 12, "/spec/secrets/token")
    assert message.startswith("a secret must be a reference")
    assert code == "schema.invalid"


def test_load_text_names_accepted_types_of_any_of_without_error_message(tmp_path: Path) -> None:
    shutil.copytree(REPO / "schemas", tmp_path / "schemas")
    defs_path = tmp_path / "schemas" / "defs.json"
    defs = json.loads(defs_path.read_text())
    del defs["$defs"]["httpTimeout"]["errorMessage"]
    defs_path.write_text(json.dumps(defs))
    text = _replace(samples.SUITE, "timeout: 10s", "timeout: 10")
    ((problem),) = load_text(text, schemas=SchemaSet(tmp_path / "schemas")).problems
    assert (problem.line, problem.column, problem.code) == (13, 14, "schema.type")
    assert problem.message == "expected string or mapping, got integer"


def test_load_text_uses_error_message_of_any_of() -> None:
    text = _replace(samples.FLOW, "- status: 201", "- status: true")
    ((line, column, _, pointer, message),) = _problems(text)
    assert (line, column, pointer) == (17, 19, "/spec/steps/0/expect/0/status")
    assert message.startswith("status takes a code (201)")


def test_load_text_reports_invalid_mapping_key_at_the_key() -> None:
    text = _replace(samples.SUITE, "X-Test-Run:", "X Test Run:")
    ((line, column, _, pointer, message),) = _problems(text)
    assert (line, column, pointer) == (15, 7, "/spec/defaults/headers/X Test Run")
    assert message.startswith("invalid key 'X Test Run': a header name is an HTTP token")


def test_load_text_reports_bounds_readably() -> None:
    text = _replace(samples.FLOW, "attempts: 3", "attempts: 0")
    assert _problems(text)[0][4] == "must be at least 1 (got 0)"


def test_load_text_reports_every_error_sorted_and_deduplicated() -> None:
    text = samples.TRIGGER_RULE.replace("name: user-service-pr", "name: User_Service")
    text = text.replace("  enabled: true", "  enabled: maybe\n  extra: 1")
    problems = load_text(text).problems
    assert [(p.line, p.code) for p in problems] == [
        (4, "schema.pattern"),
        (16, "schema.type"),
        (17, "schema.unknown-key"),
    ]
    assert len({(p.line, p.column, p.message) for p in problems}) == len(problems)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "kind: Suite",
            "kind: suite",
            (2, 7, "envelope.kind", "/kind", "unknown kind 'suite'; valid kinds are "),
        ),
        (
            "kind: Suite\n",
            "",
            (1, 1, "envelope.kind", "", "missing required key 'kind'"),
        ),
        (
            "apiVersion: meshgate.dev/v1alpha1",
            "apiVersion: meshgate.dev/v1",
            (
                1,
                13,
                "envelope.api-version",
                "/apiVersion",
                "unsupported apiVersion 'meshgate.dev/v1'",
            ),
        ),
        (
            "apiVersion: meshgate.dev/v1alpha1\n",
            "",
            (1, 1, "envelope.api-version", "", "missing required key 'apiVersion'"),
        ),
    ],
)
def test_load_text_checks_envelope_first(
    old: str, new: str, expected: tuple[int, int, str, str, str]
) -> None:
    ((line, column, code, pointer, message),) = _problems(_replace(samples.SUITE, old, new))
    assert (line, column, code, pointer) == expected[:4]
    assert message.startswith(expected[4])


def test_load_text_lists_kinds_and_suggests_closest() -> None:
    text = _replace(samples.TRIGGER_RULE, "kind: TriggerRule", "kind: Trigger")
    message = _problems(text)[0][4]
    assert "Integration, TriggerRule, Suite, Flow, EnvironmentTemplate" in message
    assert message.endswith("did you mean 'TriggerRule'?")


def test_load_text_rejects_document_that_is_not_a_mapping() -> None:
    assert _problems("- just\n- a list\n") == [
        (
            1,
            1,
            "schema.type",
            "",
            "a document must be a mapping with apiVersion, kind, metadata and spec; got list",
        )
    ]


def test_load_text_numbers_problems_by_document() -> None:
    text = samples.SUITE + "---\n" + _replace(samples.FLOW, "timeout: 3m", "timeout: 3")
    loaded = load_text(text, "two.yaml")
    assert [d.kind for d in loaded.documents] == ["Suite"]
    ((problem),) = loaded.problems
    assert (problem.path, problem.document, problem.line) == ("two.yaml", 1, 25)


def test_load_text_applies_limits() -> None:
    loaded = load_text(samples.SUITE, limits=LoaderLimits(max_depth=3))
    assert [p.code for p in loaded.problems] == ["yaml.depth"]


def test_schema_directory_is_the_source_tree_schemas() -> None:
    directory = schema_directory()
    assert Path(str(directory)) == REPO / "schemas"
    assert (directory / "suite.json").is_file()


def test_schema_set_rejects_an_invalid_schema(tmp_path: Path) -> None:
    shutil.copytree(REPO / "schemas", tmp_path / "schemas")
    suite = tmp_path / "schemas" / "suite.json"
    broken = json.loads(suite.read_text())
    broken["properties"]["spec"]["type"] = "dictionary"
    suite.write_text(json.dumps(broken))
    with pytest.raises(PermanentError, match=r"schema suite\.json is invalid"):
        SchemaSet(tmp_path / "schemas")


def test_schema_set_requires_every_kind_schema(tmp_path: Path) -> None:
    shutil.copytree(REPO / "schemas", tmp_path / "schemas")
    (tmp_path / "schemas" / "flow.json").unlink()
    with pytest.raises(PermanentError, match=r"flow\.json is missing"):
        SchemaSet(tmp_path / "schemas")
