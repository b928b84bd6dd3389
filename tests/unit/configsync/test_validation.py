"""Semantic validation on real files: the example repo plus one change per case."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from controller.configsync.validation import ConfigValidator
from controller.loader import ConfigLoader
from controller.models.problems import Problem

EXAMPLE = Path(__file__).resolve().parents[3] / "example-config-repo"
HEADER = "apiVersion: meshgate.dev/v1alpha1\n"


def validate(tmp_path: Path, extra: dict[str, str] | None = None) -> list[Problem]:
    root = tmp_path / "config"
    shutil.copytree(EXAMPLE, root)
    for name, text in (extra or {}).items():
        (root / name).write_text(text)
    tree = ConfigLoader().load_tree(root)
    assert tree.problems == (), tree.problems
    return list(ConfigValidator().validate(tree.documents))


def rule(name: str, **spec: str) -> str:
    fields = {
        "integration": "gitea",
        "repository": "shop/order-service",
        "branch_filter": "main",
        "event_types": "[push]",
        "suite": "checkout-smoke",
        "status_context": f"meshgate/{name}",
        **spec,
    }
    body = "".join(f"  {key}: {value}\n" for key, value in fields.items() if value != "")
    return f"{HEADER}kind: TriggerRule\nmetadata: {{name: {name}, workspace: shop}}\nspec:\n{body}"


def test_validate_example_repo_is_valid(tmp_path: Path) -> None:
    assert validate(tmp_path) == []


def test_validate_duplicate_name_points_at_the_second_and_names_the_first(tmp_path: Path) -> None:
    problems = validate(tmp_path, {"rules/zz-dup.yaml": rule("user-service-push")})
    assert [(p.path, p.line, p.column, p.code) for p in problems] == [
        ("rules/zz-dup.yaml", 3, 18, "name.duplicate")
    ]
    assert "rules/gitea.yaml:8:9" in problems[0].message
    assert problems[0].pointer == "/metadata/name"


def test_validate_same_name_in_another_workspace_is_fine(tmp_path: Path) -> None:
    text = rule("user-service-push").replace("workspace: shop", "workspace: other")
    problems = validate(tmp_path, {"other.yaml": text})
    assert {p.code for p in problems} == {"reference.unresolved"}


@pytest.mark.parametrize(
    ("field", "value", "pointer", "kind"),
    [
        ("integration", "gitlab", "/spec/integration", "Integration"),
        ("suite", "checkout", "/spec/suite", "Suite"),
    ],
)
def test_validate_dangling_rule_reference(
    tmp_path: Path, field: str, value: str, pointer: str, kind: str
) -> None:
    problems = validate(tmp_path, {"r.yaml": rule("r", **{field: value})})
    assert len(problems) == 1
    assert problems[0].code == "reference.unresolved"
    assert problems[0].pointer == pointer
    assert problems[0].message.startswith(f"{kind} {value!r} not found in workspace 'shop'")


def test_validate_dangling_environment_template(tmp_path: Path) -> None:
    text = rule("r") + "  environment: {template: review, context: pr-1}\n"
    problems = validate(tmp_path, {"r.yaml": text})
    assert [p.pointer for p in problems] == ["/spec/environment/template"]
    assert "known: pr-preview, staging" in problems[0].message


def test_validate_dangling_flow_and_empty_selector(tmp_path: Path) -> None:
    suite = (
        f"{HEADER}kind: Suite\nmetadata: {{name: s, workspace: shop}}\nspec:\n  flows:\n"
        "    - flow: no-such-flow\n    - selector: {match_labels: {suite: nothing}}\n"
    )
    problems = validate(tmp_path, {"s.yaml": suite})
    assert [(p.line, p.column, p.code) for p in problems] == [
        (6, 13, "reference.unresolved"),
        (7, 17, "reference.empty-selector"),
    ]


def test_validate_event_type_the_provider_never_sends(tmp_path: Path) -> None:
    problems = validate(tmp_path, {"r.yaml": rule("r", event_types="[push, sync]")})
    assert [(p.code, p.pointer) for p in problems] == [("rule.event-type", "/spec/event_types/1")]
    assert "never sent by gitea integration 'gitea'" in problems[0].message


def test_validate_template_syntax_and_roots(tmp_path: Path) -> None:
    bad_syntax = rule("a") + "  environment: {context: 'pr-${event.pr_number'}\n"
    bad_root = rule("b") + "  environment: {context: 'pr-${run.id}'}\n"
    problems = validate(tmp_path, {"a.yaml": bad_syntax, "b.yaml": bad_root})
    assert [(p.path, p.code) for p in problems] == [
        ("a.yaml", "template.syntax"),
        ("b.yaml", "template.root"),
    ]
    assert "reads run, which a TriggerRule cannot use (available: event)" in problems[1].message


def test_validate_status_context_collision(tmp_path: Path) -> None:
    colliding = rule("push-too", repository="'shop/*'", status_context="meshgate/user-service-push")
    problems = validate(tmp_path, {"rules/zz.yaml": colliding})
    assert [(p.path, p.line, p.code, p.pointer) for p in problems] == [
        ("rules/zz.yaml", 10, "rule.status-context-collision", "/spec/status_context")
    ]
    assert "also posted by TriggerRule 'user-service-push' (rules/gitea.yaml:8:9)" in (
        problems[0].message
    )


def test_validate_status_context_of_the_config_repo_is_reserved(tmp_path: Path) -> None:
    taken = rule("push-too", repository="shop/order-service", status_context="meshgate/config")
    problems = validate(tmp_path, {"rules/zz.yaml": taken})
    assert [(p.code, p.pointer) for p in problems] == [
        ("rule.status-context-reserved", "/spec/status_context")
    ]


@pytest.mark.parametrize(
    "change",
    [
        {"branch_filter": "develop"},
        {"repository": "shop/order-service"},
        {"enabled": "false"},
    ],
)
def test_validate_status_context_shared_by_disjoint_or_disabled_rules_is_fine(
    tmp_path: Path, change: dict[str, str]
) -> None:
    text = rule("push-too", status_context="meshgate/user-service-push", **change)
    assert validate(tmp_path, {"r.yaml": text}) == []


def test_validate_default_status_context_collides_across_providers(tmp_path: Path) -> None:
    first = rule("one", status_context="", suite="user-service-contract")
    second = rule(
        "two",
        integration="argocd-staging",
        repository="order-service",
        event_types="[sync]",
        status_context="",
        suite="user-service-contract",
    )
    problems = validate(tmp_path, {"one.yaml": first, "two.yaml": second})
    assert [p.code for p in problems] == ["rule.status-context-collision"]
    assert "'meshgate/user-service-contract'" in problems[0].message


def test_validate_second_default_template(tmp_path: Path) -> None:
    template = (
        f"{HEADER}kind: EnvironmentTemplate\nmetadata: {{name: qa, workspace: shop}}\nspec:\n"
        "  provisioner: static\n  default: true\n"
        "  routing_policy: {user-service: 'http://user-service.qa:8080'}\n"
    )
    problems = validate(tmp_path, {"qa.yaml": template})
    assert [(p.path, p.line, p.code) for p in problems] == [
        ("qa.yaml", 6, "template.duplicate-default")
    ]


FLOW = f"""{HEADER}kind: Flow
metadata: {{name: f, workspace: shop}}
spec:
  parameters:
    - {{id: one, vars: {{a: 1}}}}
    - {{id: one, vars: {{a: 2}}}}
  steps:
    - name: get
      request:
        service: user-service
        path: /a
        headers: {{Authorization: Bearer abc123}}
    - name: get
      request: {{service: user-service, path: /b, headers: {{X-Api-Key: "${{secrets.k}}"}}}}
"""


def test_validate_flow_duplicates_and_literal_credentials(tmp_path: Path) -> None:
    problems = validate(tmp_path, {"f.yaml": FLOW})
    assert [(p.line, p.code) for p in problems] == [
        (7, "flow.duplicate-parameter"),
        (13, "secret.plaintext"),
        (14, "flow.duplicate-step"),
    ]
    assert problems[1].pointer == "/spec/steps/0/request/headers/Authorization"


def test_validate_problems_are_stable_across_repeated_calls(tmp_path: Path) -> None:
    root = tmp_path / "config"
    shutil.copytree(EXAMPLE, root)
    (root / "f.yaml").write_text(FLOW)
    loader, validator = ConfigLoader(), ConfigValidator()
    first = validator.validate(loader.load_tree(root).documents)
    second = validator.validate(loader.load_tree(root).documents)
    assert first == second
    assert len(first) == 3


def test_validate_reports_jsonpaths_and_regexes_that_do_not_compile(tmp_path: Path) -> None:
    flow = f"""{HEADER}kind: Flow
metadata: {{name: broken-checks, workspace: shop, labels: {{suite: checkout-smoke}}}}
spec:
  steps:
    - name: read
      request: {{service: user-service, path: /x}}
      expect:
        - json: "$.items[?"
          exists: true
        - body:
            matches: "(unclosed"
        - json: $.items
          each: {{not_matches: "[z-a]"}}
        - json: "$.items[${{index}}]"
          exists: true
      capture:
        id: {{regex: "id=(\\\\d+"}}
"""
    problems = validate(tmp_path, {"flows/broken.yaml": flow})
    assert [(p.line, p.code) for p in problems] == [
        (9, "check.jsonpath"),
        (12, "check.regex"),
        (14, "check.regex"),
        (18, "check.regex"),
    ]
    assert problems[0].message.startswith("invalid JSONPath '$.items[?'")
    assert problems[1].message.startswith(
        "invalid regex '(unclosed': missing ), unterminated subpattern"
    )
