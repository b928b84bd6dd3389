"""JSON Schema checks on response values (``schema:`` in a flow), with ``jsonschema``.

This lives in the loader because the loader owns ``jsonschema``; the checks call it. A
``$ref`` to another file (``{$ref: json-schemas/user.json}``) is resolved through ``load``,
which reads the config revision's files, so a schema can never be fetched over the network.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from jsonschema.exceptions import SchemaError  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

SchemaLoader = Callable[[str], Any]
"""A schema file's parsed JSON by its path in the config repo; raises ``LookupError``."""

MAX_VIOLATIONS = 20


def schema_violations(value: Any, schema: Mapping[str, Any], *, load: SchemaLoader) -> list[str]:
    """Why ``value`` does not satisfy ``schema`` (at most ``MAX_VIOLATIONS``), each as
    ``<JSON pointer>: <reason>``; empty when it does. Raises ``ValueError`` for a schema that
    is itself invalid or refers to a file that cannot be loaded."""

    def retrieve(uri: str) -> Resource[Any]:
        try:
            contents = load(uri)
        except LookupError as exc:
            raise Unresolvable(uri) from exc
        return Resource.from_contents(contents, default_specification=DRAFT202012)

    try:
        Draft202012Validator.check_schema(schema)
        registry: Registry[Any] = Registry(retrieve=retrieve)  # type: ignore[call-arg]
        validator = Draft202012Validator(schema, registry=registry)
        errors = []
        for error in validator.iter_errors(value):
            pointer = "".join(f"/{part}" for part in error.absolute_path) or "/"
            errors.append(f"{pointer}: {_short(error.message)}")
            if len(errors) >= MAX_VIOLATIONS:
                break
    except SchemaError as exc:
        raise ValueError(f"the JSON Schema is invalid: {_short(exc.message)}") from None
    except Unresolvable as exc:
        raise ValueError(f"the JSON Schema refers to {exc.ref!r}, which cannot be loaded") from None
    return errors


def _short(message: str, limit: int = 160) -> str:
    return message if len(message) <= limit else message[: limit - 1] + "…"
