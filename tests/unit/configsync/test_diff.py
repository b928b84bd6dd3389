"""What a config change would do: documents by identity and content, rules by what decides
their matching."""

from __future__ import annotations

from controller.configsync.diff import diff_documents
from controller.loader import load_text
from controller.models.documents import ConfigDocument

HEADER = "apiVersion: meshgate.dev/v1alpha1\n"


def docs(text: str, path: str = "rules.yaml") -> tuple[ConfigDocument, ...]:
    loaded = load_text(text, path)
    assert loaded.problems == ()
    return tuple(loaded.documents)


def rule(name: str, **spec: str) -> str:
    values = {
        "integration": "gitea",
        "repository": "shop/app",
        "event_types": "[push]",
        "suite": "smoke",
        **spec,
    }
    body = "".join(f"  {key}: {value}\n" for key, value in values.items())
    return f"{HEADER}kind: TriggerRule\nmetadata: {{name: {name}, workspace: shop}}\nspec:\n{body}"


def test_diff_of_identical_documents_in_another_file_is_empty() -> None:
    text = rule("a")
    assert diff_documents(docs(text, "a.yaml"), docs(text, "b.yaml")).empty


def test_diff_spelling_out_a_default_is_no_rule_change() -> None:
    change = diff_documents(docs(rule("a")), docs(rule("a", branch_filter="'*'", enabled="true")))
    (document,) = change.documents
    assert (document.change, document.fields) == ("changed", ("branch_filter", "enabled"))
    assert change.rules == ()


def test_diff_names_added_removed_and_rematched_rules() -> None:
    base = docs(rule("kept") + "---\n" + rule("gone"))
    head = docs(rule("kept", repository="shop/other") + "---\n" + rule("new", suite="full"))
    change = diff_documents(base, head)
    assert [(d.key.name, d.change) for d in change.documents] == [
        ("gone", "removed"),
        ("kept", "changed"),
        ("new", "added"),
    ]
    by_name = {r.name: r for r in change.rules}
    assert by_name["kept"].details == ("repository: 'shop/app' → 'shop/other'",)
    assert by_name["gone"].details == ("no longer runs smoke",)
    assert "runs full, status meshgate/full" in by_name["new"].details[0]


def test_diff_of_a_description_is_a_document_change_only() -> None:
    change = diff_documents(docs(rule("a")), docs(rule("a", description="words")))
    assert [d.fields for d in change.documents] == [("description",)]
    assert change.rules == ()
