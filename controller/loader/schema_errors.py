"""jsonschema's validation errors as problems a person can act on.

Each error becomes a ``Problem`` at the offending node: an unknown key is reported at the key
(with the closest known key as a suggestion), a missing key at the key that holds the mapping,
everything else at the value. A subschema's ``errorMessage`` replaces the generic message; a
failed ``oneOf``/``anyOf`` without one is explained by its most relevant branch.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

from jsonschema.exceptions import ValidationError, best_match  # type: ignore[import-untyped]

from controller.models.documents import DocumentOrigin, PathParts
from controller.models.problems import Problem

_JSON_TYPES: Final = {
    "object": "mapping",
    "array": "list",
    "string": "string",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
    "null": "null",
}


def problems_from_errors(
    errors: Iterable[ValidationError], origin: DocumentOrigin
) -> list[Problem]:
    """Every error of one document as problems, de-duplicated and sorted by position."""
    seen: dict[tuple[int, int, str, str], Problem] = {}
    for error in errors:
        for problem in _translate(error, origin):
            seen.setdefault(
                (problem.line, problem.column, problem.pointer, problem.message), problem
            )
    return sorted(seen.values(), key=Problem.sort_key)


def _translate(error: ValidationError, origin: DocumentOrigin) -> Iterator[Problem]:
    parts: PathParts = tuple(error.absolute_path)
    keyword = error.validator
    if keyword in ("additionalProperties", "unevaluatedProperties"):
        known = _known_keys(error.schema)
        for key in _unexpected_keys(error):
            message = f"unknown key {key!r}" + suggestion(key, known)
            yield origin.problem((*parts, key), message, "schema.unknown-key", at_key=True)
        return
    custom = error.schema.get("errorMessage") if isinstance(error.schema, dict) else None
    if not isinstance(custom, str) and keyword in ("oneOf", "anyOf") and error.context:
        yield _alternatives(error, origin, parts)
        return
    code = _code(keyword)
    name = _offending_key(error)
    if name is not None:
        reason = custom if isinstance(custom, str) else _message(error)
        yield origin.problem((*parts, name), f"invalid key {name!r}: {reason}", code, at_key=True)
    elif isinstance(custom, str):
        yield origin.problem(parts, custom, code, at_key=keyword == "required")
    elif keyword == "required":
        instance = error.instance
        for missing in error.validator_value:
            if isinstance(instance, dict) and missing not in instance:
                message = f"missing required key {missing!r}"
                yield origin.problem(parts, message, code, at_key=True)
    else:
        yield origin.problem(parts, _message(error), code)


def _alternatives(error: ValidationError, origin: DocumentOrigin, parts: PathParts) -> Problem:
    """A failed oneOf/anyOf without errorMessage: name the accepted types, or the best branch."""
    context = error.context or []
    if all(sub.validator == "type" and not sub.relative_path for sub in context):
        names: dict[str, None] = {}
        for sub in context:
            value = sub.validator_value
            for name in [value] if isinstance(value, str) else value:
                names[_JSON_TYPES.get(name, name)] = None
        message = f"expected {_either(list(names))}, got {json_type(error.instance)}"
        return origin.problem(parts, message, "schema.type")
    best = best_match(context)
    return next(_translate(best, origin), None) or origin.problem(
        parts, best.message, "schema.invalid"
    )


def _offending_key(error: ValidationError) -> str | None:
    """The key a ``propertyNames`` error is about (jsonschema reports it at the mapping)."""
    if "propertyNames" not in error.relative_schema_path or not isinstance(error.instance, str):
        return None
    return error.instance


def _code(keyword: str | None) -> str:
    return {
        "type": "schema.type",
        "enum": "schema.enum",
        "const": "schema.enum",
        "pattern": "schema.pattern",
        "required": "schema.required",
    }.get(keyword or "", "schema.invalid")


def _message(error: ValidationError) -> str:
    keyword = error.validator
    value = error.validator_value
    instance = error.instance
    if keyword == "type":
        expected = [value] if isinstance(value, str) else list(value)
        names = _either([_JSON_TYPES.get(name, name) for name in expected])
        return f"expected {names}, got {json_type(instance)}"
    if keyword == "enum":
        allowed = ", ".join(show(v) for v in value)
        message = f"{show(instance)} is not allowed; expected one of {allowed}"
        if isinstance(instance, str):
            message += suggestion(instance, [v for v in value if isinstance(v, str)])
        return message
    if keyword == "const":
        return f"{show(instance)} is not allowed; expected {show(value)}"
    if keyword == "pattern":
        return f"{show(instance)} does not match the pattern {value}"
    if keyword is None and error.schema is False:
        return "this key is not allowed here"
    if keyword in _BOUNDS:
        return _bound_message(keyword, value, instance)
    if keyword == "uniqueItems":
        return "the items must be unique"
    return str(error.message)


_BOUNDS: Final = {
    "minimum": "must be at least {}",
    "maximum": "must be at most {}",
    "exclusiveMinimum": "must be greater than {}",
    "exclusiveMaximum": "must be less than {}",
    "minLength": "must have at least {} characters",
    "maxLength": "must have at most {} characters",
    "minItems": "must have at least {} items",
    "maxItems": "must have at most {} items",
    "minProperties": "must have at least {} keys",
    "maxProperties": "must have at most {} keys",
}


def _bound_message(keyword: str, bound: Any, instance: Any) -> str:
    if keyword in ("minLength", "minItems", "minProperties") and bound == 1:
        return "must not be empty"
    message = _BOUNDS[keyword].format(bound)
    if keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return f"{message} (got {show(instance)})"
    return message


def _known_keys(schema: Mapping[str, Any]) -> list[str]:
    """Property names declared by ``schema`` and by its in-place applicators (allOf, then, ...)."""
    keys: dict[str, None] = {}
    pending = [schema]
    while pending:
        current = pending.pop()
        keys.update(dict.fromkeys(k for k in current.get("properties", {}) if isinstance(k, str)))
        for keyword in ("allOf", "anyOf", "oneOf"):
            pending.extend(s for s in current.get(keyword, ()) if isinstance(s, dict))
        for keyword in ("then", "else"):
            if isinstance(current.get(keyword), dict):
                pending.append(current[keyword])
    return list(keys)


def _unexpected_keys(error: ValidationError) -> list[str]:
    instance = error.instance
    if not isinstance(instance, dict):
        return []
    if error.validator == "unevaluatedProperties":
        # jsonschema only names the keys in its message, each as repr().
        return [key for key in instance if isinstance(key, str) and repr(key) in error.message]
    schema = error.schema if isinstance(error.schema, dict) else {}
    properties = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    return [
        key
        for key in instance
        if key not in properties and not any(re.search(pattern, key) for pattern in patterns)
    ]


def _either(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def suggestion(word: str, candidates: Iterable[str]) -> str:
    """``; did you mean 'x'?`` for the closest candidate (case first), or nothing."""
    options = list(candidates)
    folded = {option.lower(): option for option in options}
    if word.lower() in folded and folded[word.lower()] != word:
        return f"; did you mean {folded[word.lower()]!r}?"
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def json_type(value: object) -> str:
    """The name of a value's type as the messages use it (mapping, list, ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, list):
        return "list"
    return type(value).__name__


def show(value: object) -> str:
    if isinstance(value, str):
        return repr(value)
    return json.dumps(value)
