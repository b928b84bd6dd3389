"""The JSON Schemas of the config documents, and their errors as readable problems.

Validation has two stages. The envelope (a mapping with a known ``apiVersion`` and ``kind``)
is checked by hand, because the kind decides which schema applies and a wrong kind deserves
a message that lists the valid ones. The kind's schema then reports every error of the
document, each translated into a ``Problem`` at the position of the offending node.

Two validators, one verdict: ``jsonschema_rs`` (a complete draft 2020-12 implementation in
Rust) answers "is this valid?" about 150x faster than ``jsonschema`` on valid documents,
which is what keeps a 10,000-document load within 3x of a bare YAML parse. Only when it says
"invalid" does ``jsonschema`` run, for its error tree and our messages; if the two ever
disagree, ``jsonschema`` decides (a test keeps their verdicts equal on mutated documents).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import cache
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any, Final

import jsonschema_rs
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from jsonschema.exceptions import SchemaError  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from controller.errors import PermanentError
from controller.loader.schema_errors import json_type, problems_from_errors, show, suggestion
from controller.loader.yaml_source import YamlDocument
from controller.models.documents import (
    API_VERSION,
    DEFAULT_WORKSPACE,
    KINDS,
    ConfigDocument,
    DocumentOrigin,
    Kind,
)
from controller.models.problems import Problem

SCHEMA_FILES: Final[Mapping[Kind, str]] = {
    "Integration": "integration.json",
    "TriggerRule": "trigger-rule.json",
    "Suite": "suite.json",
    "Flow": "flow.json",
    "EnvironmentTemplate": "environment-template.json",
}
_KIND_LIST: Final = ", ".join(KINDS)


def schema_directory() -> Traversable:
    """The schemas shipped in the wheel (``controller/_schemas``), else the source tree's."""
    packaged = resources.files("controller") / "_schemas"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "schemas"


class SchemaSet:
    """One registry and one validator per kind, built (and checked) once."""

    def __init__(self, directory: Traversable | None = None) -> None:
        directory = directory if directory is not None else schema_directory()
        contents = _read_schemas(directory)
        registry: Registry[Any] = Registry().with_resources(
            (schema["$id"], Resource.from_contents(schema, default_specification=DRAFT202012))
            for schema in contents.values()
            if isinstance(schema, dict) and "$id" in schema
        )
        registry = registry.crawl()
        self._validators: dict[str, Draft202012Validator] = {}
        self._fast: dict[str, Callable[[Any], bool]] = {}
        for name, schema in contents.items():
            try:
                Draft202012Validator.check_schema(schema)
            except SchemaError as error:
                raise PermanentError(f"schema {name} is invalid: {error.message}") from error
        missing = sorted(set(SCHEMA_FILES.values()) - set(contents))
        if missing:
            raise PermanentError(f"schema {', '.join(missing)} is missing from {directory}")
        try:
            fast_registry = jsonschema_rs.Registry(
                [(schema["$id"], schema) for schema in contents.values() if "$id" in schema]
            )
            for kind, name in SCHEMA_FILES.items():
                self._validators[kind] = Draft202012Validator(contents[name], registry=registry)
                self._fast[kind] = jsonschema_rs.validator_for(
                    contents[name], registry=fast_registry, validate_formats=False
                ).is_valid
        except ValueError as error:
            raise PermanentError(f"schemas in {directory} cannot be compiled: {error}") from error

    def validator(self, kind: str) -> Draft202012Validator:
        """The jsonschema validator of ``kind``: the reference for messages and semantics."""
        return self._validators[kind]

    def is_valid(self, kind: str, value: Any) -> bool:
        """The fast verdict (``jsonschema_rs``); ``validator(kind)`` has the final word."""
        return self._fast[kind](value)

    def check(
        self, document: YamlDocument, path: str
    ) -> tuple[ConfigDocument | None, list[Problem]]:
        """Validate one YAML document; return it as a ``ConfigDocument`` when it is valid."""
        origin = DocumentOrigin(path, document.index, document.locator)
        value = document.value
        problems = _check_envelope(value, origin)
        if problems:
            return None, problems
        kind = value["kind"]
        if not self._fast[kind](value):
            problems = problems_from_errors(self._validators[kind].iter_errors(value), origin)
            if problems:
                return None, problems
        return _config_document(value, origin)


@cache
def default_schemas() -> SchemaSet:
    """The shipped schemas, loaded once per process."""
    return SchemaSet()


def _read_schemas(directory: Traversable) -> dict[str, Any]:
    if not directory.is_dir():
        raise PermanentError(f"schema directory {directory} not found")
    contents: dict[str, Any] = {}
    for entry in directory.iterdir():
        if entry.name.endswith(".json"):
            try:
                contents[entry.name] = json.loads(entry.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                raise PermanentError(f"cannot read schema {entry.name}: {error}") from error
    return contents


def _check_envelope(value: Any, origin: DocumentOrigin) -> list[Problem]:
    if not isinstance(value, dict):
        return [
            origin.problem(
                (),
                "a document must be a mapping with apiVersion, kind, metadata and spec; "
                f"got {json_type(value)}",
                "schema.type",
            )
        ]
    problems = []
    api_version = value.get("apiVersion")
    if "apiVersion" not in value:
        problems.append(
            origin.problem(
                (), f"missing required key 'apiVersion' (use {API_VERSION})", "envelope.api-version"
            )
        )
    elif api_version != API_VERSION:
        problems.append(
            origin.problem(
                ("apiVersion",),
                f"unsupported apiVersion {show(api_version)}; expected {API_VERSION}",
                "envelope.api-version",
            )
        )
    kind = value.get("kind")
    if "kind" not in value:
        problems.append(
            origin.problem(
                (), f"missing required key 'kind' (one of {_KIND_LIST})", "envelope.kind"
            )
        )
    elif not isinstance(kind, str) or kind not in SCHEMA_FILES:
        message = f"unknown kind {show(kind)}; valid kinds are {_KIND_LIST}"
        if isinstance(kind, str):
            message += suggestion(kind, KINDS)
        problems.append(origin.problem(("kind",), message, "envelope.kind"))
    return problems


def _config_document(
    value: dict[str, Any], origin: DocumentOrigin
) -> tuple[ConfigDocument | None, list[Problem]]:
    """Build the document; the checks only matter if a schema fails to require the envelope."""
    metadata = value.get("metadata")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str):
        return None, [
            origin.problem(("metadata",), "missing required key 'name'", "schema.required")
        ]
    spec = value.get("spec", {})
    if not isinstance(spec, dict):
        return None, [origin.problem(("spec",), "expected mapping", "schema.type")]
    document = ConfigDocument(
        kind=value["kind"],
        name=metadata["name"],
        workspace=metadata.get("workspace", DEFAULT_WORKSPACE),
        labels=metadata.get("labels", {}),
        spec=spec,
        origin=origin,
    )
    return document, []
