"""The JSON Schemas in ``schemas/`` and the example config repo that must satisfy them."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped]
from referencing import Registry, Resource

from controller.models.durations import DURATION_PATTERN

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = ROOT / "schemas"
EXAMPLE_DIR = ROOT / "example-config-repo"
BASE_URI = "https://meshgate.dev/schemas/v1alpha1/"
DRAFT = "https://json-schema.org/draft/2020-12/schema"
KIND_SCHEMAS = {
    "Integration": "integration.json",
    "TriggerRule": "trigger-rule.json",
    "Suite": "suite.json",
    "Flow": "flow.json",
    "EnvironmentTemplate": "environment-template.json",
}
SCHEMA_FILES = sorted(path.name for path in SCHEMA_DIR.glob("*.json"))
EXAMPLE_FILES = sorted(
    path.relative_to(EXAMPLE_DIR).as_posix()
    for pattern in ("*.yaml", "*.yml")
    for path in EXAMPLE_DIR.rglob(pattern)
)
MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")
# Keywords whose values are data, or conditions rather than documented properties.
NOT_DOCUMENTED = frozenset({"const", "enum", "default", "examples", "if"})


class _KeysAsWritten(yaml.SafeLoader):
    """SafeLoader, except that a key such as ``on`` stays the string ``"on"`` (as in YAML 1.2
    and in meshgate's own loader) instead of becoming ``True``: ``retry.on`` is such a key."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag == "tag:yaml.org,2002:bool":
                key_node.tag = "tag:yaml.org,2002:str"
        return super().construct_mapping(node, deep)


@cache
def schemas() -> dict[str, dict[str, Any]]:
    return {name: json.loads((SCHEMA_DIR / name).read_text()) for name in SCHEMA_FILES}


@cache
def registry() -> Registry[Any]:
    return Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema)) for schema in schemas().values()
    )


@cache
def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(schemas()[name], registry=registry())


@cache
def def_validator(definition: str) -> Draft202012Validator:
    schema = {"$ref": f"{BASE_URI}defs.json#/$defs/{definition}"}
    return Draft202012Validator(schema, registry=registry())


@cache
def example_documents(relative: str) -> tuple[dict[str, Any], ...]:
    text = (EXAMPLE_DIR / relative).read_text()
    return tuple(doc for doc in yaml.load_all(text, Loader=_KeysAsWritten) if doc is not None)


def all_example_documents() -> list[dict[str, Any]]:
    return [doc for relative in EXAMPLE_FILES for doc in example_documents(relative)]


def describe(errors: Iterable[ValidationError]) -> list[str]:
    return [f"{error.json_path}: {error.message}" for error in errors]


def messages(errors: Iterable[ValidationError]) -> Iterator[str]:
    """Every message of ``errors`` and their sub-errors, custom ``errorMessage`` included."""
    for error in errors:
        if isinstance(error.schema, dict) and isinstance(error.schema.get("errorMessage"), str):
            yield error.schema["errorMessage"]
        yield error.message
        yield from messages(error.context or ())


def walk(node: Any, pointer: str = "") -> Iterator[tuple[str, Any]]:
    """Every (JSON pointer, subschema) pair of a schema, skipping data-valued keywords."""
    yield pointer, node
    if isinstance(node, dict):
        for key, value in node.items():
            if key not in NOT_DOCUMENTED:
                yield from walk(value, f"{pointer}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{pointer}/{index}")


def resolve(file: str, ref: str) -> Any:
    return registry().resolver(base_uri=BASE_URI + file).lookup(ref).contents


# --------------------------------------------------------------------------------------------
# The schemas themselves
# --------------------------------------------------------------------------------------------


def test_schema_files_are_exactly_the_expected_set() -> None:
    assert set(SCHEMA_FILES) == {"defs.json", "document.json", *KIND_SCHEMAS.values()}


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_schema_is_valid_draft_2020_12_with_its_id(name: str) -> None:
    schema = schemas()[name]
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == DRAFT
    assert schema["$id"] == BASE_URI + name


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_schema_refs_all_resolve_and_are_relative(name: str) -> None:
    for pointer, node in walk(schemas()[name]):
        if isinstance(node, dict) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            assert not ref.startswith(("http:", "https:")), f"{pointer}: absolute $ref {ref}"
            resolve(name, ref)  # raises if the target does not exist


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_schema_every_property_has_a_description(name: str) -> None:
    missing = []
    for pointer, node in walk(schemas()[name]):
        if not (isinstance(node, dict) and isinstance(node.get("properties"), dict)):
            continue
        for key, sub in node["properties"].items():
            target = sub
            if isinstance(sub, dict) and "description" not in sub and "$ref" in sub:
                target = resolve(name, sub["$ref"])
            if not (isinstance(target, dict) and target.get("description")):
                missing.append(f"{pointer}/properties/{key}")
    assert missing == []


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_schema_error_messages_are_strings(name: str) -> None:
    for pointer, node in walk(schemas()[name]):
        if isinstance(node, dict) and "errorMessage" in node:
            assert isinstance(node["errorMessage"], str), pointer
            assert node["errorMessage"], pointer


@pytest.mark.parametrize("name", sorted(KIND_SCHEMAS.values()))
def test_schema_of_a_kind_closes_envelope_and_spec(name: str) -> None:
    schema = schemas()[name]
    assert schema["required"] == ["apiVersion", "kind", "metadata", "spec"]
    assert schema["additionalProperties"] is False
    spec = schema["properties"]["spec"]
    if "$ref" in spec:
        spec = resolve(name, spec["$ref"])
    assert spec["additionalProperties"] is False


def test_duration_pattern_matches_the_parser() -> None:
    assert schemas()["defs.json"]["$defs"]["duration"]["pattern"] == DURATION_PATTERN


# --------------------------------------------------------------------------------------------
# The example config repo
# --------------------------------------------------------------------------------------------


def test_example_covers_every_kind_in_the_shop_workspace() -> None:
    documents = all_example_documents()
    assert {doc["kind"] for doc in documents} == set(KIND_SCHEMAS)
    assert {doc["metadata"].get("workspace") for doc in documents} == {"shop"}


@pytest.mark.parametrize("relative", EXAMPLE_FILES)
def test_example_file_declares_the_schema_of_its_kind(relative: str) -> None:
    path = EXAMPLE_DIR / relative
    match = MODELINE.match(path.read_text().splitlines()[0])
    assert match, "the first line must be '# yaml-language-server: $schema=<relative path>'"
    target = (path.parent / match.group(1)).resolve()
    assert target.is_file(), f"{match.group(1)} does not exist"
    assert target.parent == SCHEMA_DIR.resolve()
    kinds = {doc["kind"] for doc in example_documents(relative)}
    expected = KIND_SCHEMAS[kinds.pop()] if len(kinds) == 1 else "document.json"
    assert target.name == expected


@pytest.mark.parametrize("relative", EXAMPLE_FILES)
def test_example_documents_validate_against_their_kind_and_document_json(relative: str) -> None:
    documents = example_documents(relative)
    assert documents
    for document in documents:
        for name in (KIND_SCHEMAS[document["kind"]], "document.json"):
            assert describe(validator(name).iter_errors(document)) == [], name


def test_example_references_resolve() -> None:
    names: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in KIND_SCHEMAS}
    for doc in all_example_documents():
        assert doc["metadata"]["name"] not in names[doc["kind"]], "duplicate name"
        names[doc["kind"]][doc["metadata"]["name"]] = doc
    flows = names["Flow"]
    for rule in names["TriggerRule"].values():
        spec = rule["spec"]
        assert spec["integration"] in names["Integration"]
        assert spec["suite"] in names["Suite"]
        template = spec.get("environment", {}).get("template")
        assert template is None or template in names["EnvironmentTemplate"]
    for suite in names["Suite"].values():
        for entry in suite["spec"]["flows"]:
            if "flow" in entry:
                assert entry["flow"] in flows
            if "selector" in entry:
                wanted = entry["selector"]["match_labels"].items()
                labels = [flow["metadata"].get("labels", {}) for flow in flows.values()]
                assert any(wanted <= found.items() for found in labels)
    for template in names["EnvironmentTemplate"].values():
        if "integration" in template["spec"]:
            integration = names["Integration"][template["spec"]["integration"]]
            assert integration["spec"]["provider"] == "argocd"
    defaults = [t for t in names["EnvironmentTemplate"].values() if t["spec"].get("default")]
    assert len(defaults) == 1


def test_example_enabled_rules_post_distinct_status_contexts() -> None:
    contexts = [
        doc["spec"].get("status_context", f"meshgate/{doc['spec']['suite']}")
        for doc in all_example_documents()
        if doc["kind"] == "TriggerRule" and doc["spec"].get("enabled", True)
    ]
    assert len(contexts) == len(set(contexts))


_PATH = r"[A-Za-z_][A-Za-z0-9_-]*(?:\[[0-9]+\])*(?:\.[A-Za-z_][A-Za-z0-9_-]*(?:\[[0-9]+\])*)*"
_FILTER = r"(?:upper|lower|trim|int|float|string|length|json|b64encode|urlencode|default\(.+\))"
_EXPRESSION = re.compile(rf"\s*(?:{_PATH}|(?:uuid|now)\(\))(?:\s*\|\s*{_FILTER})*\s*")
_TEMPLATE = re.compile(r"\$\$\{|\$\{([^{}]*)\}")


def strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from strings(key)
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


def test_example_templates_follow_the_grammar() -> None:
    bad = []
    for doc in all_example_documents():
        for text in strings(doc):
            for match in _TEMPLATE.finditer(text):
                expression = match.group(1)
                if expression is not None and not _EXPRESSION.fullmatch(expression):
                    bad.append(text)
            if "${" in _TEMPLATE.sub("", text):
                bad.append(text)
    assert bad == []


# --------------------------------------------------------------------------------------------
# Negative cases, each a small change to a valid document
# --------------------------------------------------------------------------------------------

ENVELOPE = {"apiVersion": "meshgate.dev/v1alpha1"}
STEP = {
    "name": "health",
    "request": {"service": "user-service", "path": "/healthz"},
    "expect": [{"status": 200}],
}
BASES: dict[str, dict[str, Any]] = {
    "Integration": {
        **ENVELOPE,
        "kind": "Integration",
        "metadata": {"name": "gitea", "workspace": "shop"},
        "spec": {
            "provider": "gitea",
            "config": {"url": "https://gitea.shop.internal"},
            "secrets": {
                "token": {"env": "GITEA_TOKEN"},
                "webhook_secret": {"file": "/run/secrets/gitea-webhook"},
            },
        },
    },
    "TriggerRule": {
        **ENVELOPE,
        "kind": "TriggerRule",
        "metadata": {"name": "push"},
        "spec": {
            "integration": "gitea",
            "repository": "shop/user-service",
            "event_types": ["push"],
            "suite": "smoke",
        },
    },
    "Suite": {
        **ENVELOPE,
        "kind": "Suite",
        "metadata": {"name": "smoke"},
        "spec": {"flows": [{"flow": "place-order"}, {"name": "inline", "steps": [STEP]}]},
    },
    "Flow": {**ENVELOPE, "kind": "Flow", "metadata": {"name": "f"}, "spec": {"steps": [STEP]}},
    "EnvironmentTemplate": {
        **ENVELOPE,
        "kind": "EnvironmentTemplate",
        "metadata": {"name": "staging"},
        "spec": {
            "provisioner": "static",
            "routing_policy": {"user-service": "http://user-service.staging:8080"},
        },
    },
}
DELETE = object()
SECRET_MESSAGE = "a secret must be a reference"
CHECK_MESSAGE = "a check needs exactly one selector"

# (id, kind, path inside the document, new value or DELETE, expected message fragment)
NEGATIVE_CASES: list[tuple[str, str, tuple[str | int, ...], Any, str]] = [
    ("unknown-key-in-spec", "Suite", ("spec", "flowz"), [], "'flowz' was unexpected"),
    ("unknown-key-in-step", "Flow", ("spec", "steps", 0, "uses"), "login", "'uses' was unexpected"),
    ("bare-number-duration", "Suite", ("spec", "timeout"), 30, "a duration needs a unit"),
    ("duration-without-unit", "Flow", ("spec", "timeout"), "30", "a duration needs a unit"),
    ("plaintext-secret", "Integration", ("spec", "secrets", "token"), "abc", SECRET_MESSAGE),
    (
        "secret-with-env-and-file",
        "Integration",
        ("spec", "secrets", "token"),
        {"env": "A", "file": "/a"},
        SECRET_MESSAGE,
    ),
    ("relative-secret-file", "Integration", ("spec", "secrets", "token"), {"file": "a"}, "secret"),
    (
        "gitea-without-webhook-secret",
        "Integration",
        ("spec", "secrets", "webhook_secret"),
        DELETE,
        "'webhook_secret' is a required property",
    ),
    ("integration-url-not-http", "Integration", ("spec", "config", "url"), "gitea.local", "http"),
    (
        "argocd-key-on-gitea",
        "Integration",
        ("spec", "config", "app_filter"),
        "*",
        "'app_filter' was unexpected",
    ),
    ("bad-event-type", "TriggerRule", ("spec", "event_types"), ["merge"], "'merge' is not one of"),
    ("empty-event-types", "TriggerRule", ("spec", "event_types"), [], "should be non-empty"),
    ("rule-without-suite", "TriggerRule", ("spec", "suite"), DELETE, "'suite' is a required"),
    ("bad-metadata-name", "Flow", ("metadata", "name"), "User_Service", "must be a DNS label"),
    ("unknown-metadata-key", "Flow", ("metadata", "namespace"), "x", "'namespace' was unexpected"),
    ("wrong-api-version", "Flow", ("apiVersion",), "v1", "apiVersion must be"),
    (
        "check-with-two-selectors",
        "Flow",
        ("spec", "steps", 0, "expect", 0),
        {"status": 200, "json": "$.id", "exists": True},
        CHECK_MESSAGE,
    ),
    ("check-without-selector", "Flow", ("spec", "steps", 0, "expect", 0), {"eq": 1}, CHECK_MESSAGE),
    (
        "argument-selector-without-operator",
        "Flow",
        ("spec", "steps", 0, "expect", 0),
        {"json": "$.id"},
        "needs at least one operator",
    ),
    (
        "bare-selector-with-sibling-operator",
        "Flow",
        ("spec", "steps", 0, "expect", 0),
        {"status": 200, "eq": 200},
        "take their operators as the value",
    ),
    (
        "unknown-operator",
        "Flow",
        ("spec", "steps", 0, "expect", 0),
        {"json": "$.id", "notIn": [1]},
        "'notIn' was unexpected",
    ),
    (
        "jsonpath-without-dollar",
        "Flow",
        ("spec", "steps", 0, "expect", 0),
        {"json": "id", "exists": True},
        "starts with $",
    ),
    ("bad-status-class", "Flow", ("spec", "steps", 0, "expect", 0), {"status": "2XX"}, "status"),
    (
        "request-with-json-and-body",
        "Flow",
        ("spec", "steps", 0, "request"),
        {"service": "user-service", "path": "/api/users", "json": {"a": 1}, "body": "a=1"},
        "at most one body",
    ),
    ("request-bad-method", "Flow", ("spec", "steps", 0, "request", "method"), "get", "GET"),
    ("request-path-relative", "Flow", ("spec", "steps", 0, "request", "path"), "api", "path"),
    (
        "capture-with-two-selectors",
        "Flow",
        ("spec", "steps", 0, "capture"),
        {"id": {"json": "$.id", "header": "Location"}},
        "a capture needs exactly one selector",
    ),
    (
        "capture-reserved-name",
        "Flow",
        ("spec", "steps", 0, "capture"),
        {"run": {"json": "$.id"}},
        "reserved roots",
    ),
    ("retry-on-404", "Flow", ("spec", "steps", 0, "retry"), {"on": [404]}, "retry.on takes"),
    ("retry-zero-attempts", "Flow", ("spec", "steps", 0, "retry"), {"attempts": 0}, "minimum"),
    (
        "poll-without-timeout",
        "Flow",
        ("spec", "steps", 0, "poll"),
        {"interval": "1s"},
        "'timeout' is a required property",
    ),
    ("empty-steps", "Flow", ("spec", "steps"), [], "should be non-empty"),
    ("flow-document-with-spec-name", "Flow", ("spec", "name"), "f", "named by metadata.name"),
    (
        "suite-entry-flow-and-name",
        "Suite",
        ("spec", "flows", 0, "name"),
        "x",
        "each entry of flows is exactly one of",
    ),
    ("suite-concurrency-zero", "Suite", ("spec", "concurrency"), 0, "minimum"),
    ("suite-plaintext-secret", "Suite", ("spec", "secrets"), {"api_key": "k"}, SECRET_MESSAGE),
    (
        "routing-policy-bad-service-name",
        "EnvironmentTemplate",
        ("spec", "routing_policy", "User"),
        "http://u",
        "service name",
    ),
    (
        "static-template-with-application",
        "EnvironmentTemplate",
        ("spec", "application"),
        {"metadata": {"name": "x"}, "spec": {}},
        "only apply to provisioner argocd",
    ),
    (
        "argocd-template-without-application",
        "EnvironmentTemplate",
        ("spec", "provisioner"),
        "argocd",
        "is a required property",
    ),
]


def mutated(kind: str, path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    document = copy.deepcopy(BASES[kind])
    parent: Any = document
    for part in path[:-1]:
        parent = parent[part]
    if value is DELETE:
        del parent[path[-1]]
    elif isinstance(parent, list) and path[-1] == len(parent):
        parent.append(value)
    else:
        parent[path[-1]] = value
    return document


@pytest.mark.parametrize("kind", sorted(BASES))
def test_base_document_is_valid(kind: str) -> None:
    document = BASES[kind]
    assert describe(validator(KIND_SCHEMAS[kind]).iter_errors(document)) == []
    assert describe(validator("document.json").iter_errors(document)) == []


@pytest.mark.parametrize(
    ("kind", "path", "value", "expected"),
    [case[1:] for case in NEGATIVE_CASES],
    ids=[case[0] for case in NEGATIVE_CASES],
)
def test_invalid_document_is_rejected_with_a_clear_message(
    kind: str, path: tuple[str | int, ...], value: Any, expected: str
) -> None:
    document = mutated(kind, path, value)
    for name in (KIND_SCHEMAS[kind], "document.json"):
        errors = list(validator(name).iter_errors(document))
        assert errors, f"{name} accepted the document"
        found = list(messages(errors))
        assert any(expected in message for message in found), found


def test_document_json_rejects_an_unknown_kind() -> None:
    document = {**BASES["Flow"], "kind": "Pipeline"}
    found = messages(validator("document.json").iter_errors(document))
    assert any("kind must be one of" in message for message in found)


def test_document_json_applies_the_schema_of_the_named_kind() -> None:
    document = {**BASES["Integration"], "kind": "Suite"}
    assert not validator("document.json").is_valid(document)


# --------------------------------------------------------------------------------------------
# Shared definitions, directly
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["250ms", "30s", "5m", "1h", "1m30s", "1.5s", "2d"])
def test_duration_accepts_units(text: str) -> None:
    assert def_validator("duration").is_valid(text)


@pytest.mark.parametrize("value", [30, "30", "5 m", "", "1w", "-1s", "s", "10S"])
def test_duration_rejects_values_without_a_unit(value: Any) -> None:
    assert not def_validator("duration").is_valid(value)


@pytest.mark.parametrize(
    "check",
    [
        {"status": 201},
        {"status": [200, 201]},
        {"status": "2xx"},
        {"status": {"in": [200, 204], "ne": 203}},
        {"duration": {"lt": "800ms"}},
        {"body": "ok"},
        {"body": {"contains": "ok", "not_matches": "(?i)error"}},
        {"url": {"ends_with": "/login"}},
        {"header": "content-type", "starts_with": "application/json"},
        {"cookie": "SESSION", "exists": True},
        {"json": "$.items", "length": {"gt": 0}, "each": {"type": "object"}},
        {"json": "$.total", "gte": "${minimum}", "lt": 1000},
        {"json": "$.tags", "contains": "new", "not_in": [[]], "is_empty": False},
        {"json": "$", "schema": {"$ref": "json-schemas/user.json"}},
        {"regex": "code=([0-9]+)", "matches": "^[0-9]+$"},
        {"var": "services.user-service.url", "starts_with": "http://"},
        {"var": "order_id", "exists": False},
    ],
)
def test_check_accepts_the_grammar(check: dict[str, Any]) -> None:
    assert describe(def_validator("check").iter_errors(check)) == []


@pytest.mark.parametrize(
    "check",
    [
        {"status": 99},
        {"duration": {"lt": 800}},
        {"duration": "800"},
        {"json": "$.a", "type": "str"},
        {"json": "$.a", "gt": "ten"},
        {"json": "$.a", "length": -1},
        {"json": "$.a", "each": {}},
        {"json": "$.a", "exists": "yes"},
        {"var": "a..b", "exists": True},
        {"header": "Content Type", "exists": True},
        "status == 200",
    ],
)
def test_check_rejects_malformed_operands(check: Any) -> None:
    assert not def_validator("check").is_valid(check)


@pytest.mark.parametrize(
    ("secret", "valid"),
    [
        ({"env": "SHOP_API_KEY"}, True),
        ({"file": "/run/secrets/meshgate/token"}, True),
        ({"env": "shop-api-key"}, False),
        ({"file": "/run/secrets/"}, False),
        ({}, False),
        ({"value": "abc"}, False),
        ("abc", False),
    ],
)
def test_secret_ref_accepts_only_references(secret: Any, valid: bool) -> None:
    errors = list(def_validator("secretRef").iter_errors(secret))
    assert (not errors) is valid
    if not valid:
        assert any(SECRET_MESSAGE in m for m in messages(errors))
