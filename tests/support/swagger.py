"""Checking requests against a Swagger 2.0 (OpenAPI) document, for the fakes of Gitea and
Argo CD: the path is documented and the method too; integer and boolean path and query
parameters are well formed; every query parameter is documented; a JSON body validates
against the operation's body schema and has no field the schema does not name."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]


@dataclass(frozen=True)
class Operation:
    template: str
    pattern: re.Pattern[str]
    method: str
    spec: dict[str, Any]


class SwaggerContract:
    """The operations of a Swagger 2.0 document, and what a request must look like."""

    def __init__(self, path: Path) -> None:
        self.document = json.loads(path.read_text())
        self.base = self.document.get("basePath", "")
        self._operations: list[Operation] = []
        for template, item in self.document["paths"].items():
            regex = re.escape(template)
            regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", regex)
            pattern = re.compile(f"^{regex}$")
            for method, spec in item.items():
                if method != "parameters":
                    self._operations.append(Operation(template, pattern, method.upper(), spec))

    def check(
        self, method: str, path: str, query: dict[str, str], body: bytes
    ) -> tuple[Operation | None, dict[str, str], list[str]]:
        """The operation, its path parameters and the contract violations of a request
        (``query``: the last value of each parameter)."""
        if not path.startswith(self.base + "/"):
            return None, {}, [f"{path} is not below {self.base}"]
        local = path[len(self.base) :]
        candidates = [(op, op.pattern.match(local)) for op in self._operations]
        matching = [(op, m) for op, m in candidates if m is not None]
        if not matching:
            return None, {}, [f"{local} is not a documented path"]
        for operation, found in matching:
            if operation.method == method:
                return operation, found.groupdict(), self._violations(operation, found, query, body)
        return None, {}, [f"{method} is not documented for {matching[0][0].template}"]

    def _violations(
        self, operation: Operation, found: re.Match[str], query: dict[str, str], body: bytes
    ) -> list[str]:
        problems: list[str] = []
        parameters = operation.spec.get("parameters", [])
        declared_query = {p["name"]: p for p in parameters if p["in"] == "query"}
        for p in parameters:
            if p["in"] == "path" and p.get("type") == "integer" and not found[p["name"]].isdigit():
                problems.append(f"path parameter {p['name']} must be an integer")
        for name, value in query.items():
            if name not in declared_query:
                problems.append(f"query parameter {name} is not documented")
            elif declared_query[name].get("type") == "integer" and not value.isdigit():
                problems.append(f"query parameter {name} must be an integer")
            elif declared_query[name].get("type") == "boolean" and value not in ("true", "false"):
                problems.append(f"query parameter {name} must be true or false")
        body_params = [p for p in parameters if p["in"] == "body"]
        if body_params:
            problems.extend(self._body_violations(body_params[0]["schema"], body))
        elif body:
            problems.append(f"{operation.method} {operation.template} takes no body")
        return problems

    def _body_violations(self, schema: dict[str, Any], body: bytes) -> list[str]:
        try:
            document = json.loads(body)
        except ValueError:
            return ["the body is not JSON"]
        resolved = schema
        if "$ref" in schema:
            resolved = self.document["definitions"][schema["$ref"].rsplit("/", 1)[1]]
        full = {**resolved, "definitions": self.document["definitions"]}
        problems = [
            f"body: {error.message}"
            for error in jsonschema.Draft4Validator(full).iter_errors(document)
        ]
        if isinstance(document, dict):
            known = set(resolved.get("properties", {}))
            problems.extend(
                f"body field {key} is not in the schema" for key in document if key not in known
            )
        return problems
