from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

import pytest

from controller.templating import (
    FILTERS,
    MAX_OUTPUT_CHARS,
    MISSING,
    TemplateError,
    TemplateSyntaxError,
    lookup,
    parse,
    render,
    render_tracked,
    render_value,
    render_value_tracked,
)

SCOPE: dict[str, Any] = {
    "services": {
        "user-service": {"url": "http://users:8080"},
        "order-service": {"url": "http://orders"},
        "product-service": {"url": "http://products"},
    },
    "secrets": {"token": "s3cr3t-value", "pin": "hunter2"},
    "items": [{"id": 7}, {"id": 8}],
    "matrix": [[1, 2], [3, 4]],
    "order": {"id": 42, "items": [1, 2]},
    "payload": {"a": 1, "b": [True, None]},
    "total": 3,
    "price": 2.5,
    "flag": True,
    "nothing": None,
    "name": "  Ada Lovelace ",
    "word": "héllo wörld/?&",
    "numeric": " 12 ",
    "decimal": "2.75",
    "abc": "abc",
    "empty": {},
}


def run(text: str, scope: Mapping[str, Any] | None = None) -> Any:
    return render(parse(text), SCOPE if scope is None else scope)


def error_of(text: str, scope: Mapping[str, Any] | None = None) -> str:
    with pytest.raises(TemplateError) as caught:
        run(text, scope)
    return str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${name | upper}", "  ADA LOVELACE "),
        ("${name | lower}", "  ada lovelace "),
        ("${name | trim}", "Ada Lovelace"),
        ("${flag | upper}", "TRUE"),
        ("${numeric | int}", 12),
        ("${price | int}", 2),
        ("${total | float}", 3.0),
        ("${decimal | float}", 2.75),
        ("${total | string}", "3"),
        ("${nothing | string}", "null"),
        ("${payload | string}", '{"a":1,"b":[true,null]}'),
        ("${abc | string}", "abc"),
        ("${abc | length}", 3),
        ("${items | length}", 2),
        ("${payload | length}", 2),
        ("${payload | json}", '{"a":1,"b":[true,null]}'),
        ("${abc | json}", '"abc"'),
        ("${total | json}", "3"),
        ("${abc | b64encode}", "YWJj"),
        ("${word | b64encode}", "aMOpbGxvIHfDtnJsZC8/Jg=="),
        ("${word | urlencode}", "h%C3%A9llo%20w%C3%B6rld%2F%3F%26"),
        ("${total | urlencode}", "3"),
        ("${missing | default(1)}", 1),
        ("${name | trim | lower | b64encode}", "YWRhIGxvdmVsYWNl"),
    ],
)
def test_render_filter(text: str, expected: Any) -> None:
    result = run(text)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize("name", sorted(FILTERS - {"default"}))
def test_render_every_allowed_filter_is_implemented(name: str) -> None:
    assert run(f"${{numeric | {name}}}") is not None


@pytest.mark.parametrize(
    ("text", "filter_name", "kind"),
    [
        ("${abc | int}", "int", "a string value is not an integer"),
        ("${payload | int}", "int", "an object value is not an integer"),
        ("${abc | float}", "float", "a string value is not a finite number"),
        ("${total | length}", "length", "a number value has no length"),
        ("${nothing | length}", "length", "null value has no length"),
    ],
)
def test_render_filter_failure_names_the_filter(text: str, filter_name: str, kind: str) -> None:
    message = error_of(text)
    assert message.startswith(f"filter {filter_name!r} failed on ")
    assert message.endswith(kind)


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity", "1e999"])
def test_render_float_filter_rejects_non_finite_numbers(value: str) -> None:
    assert "is not a finite number" in error_of("${v | float}", {"v": value})


def test_render_filter_failure_does_not_reveal_the_value() -> None:
    with pytest.raises(TemplateError) as caught:
        run("${secrets.pin | int}")
    assert (
        str(caught.value)
        == "filter 'int' failed on 'secrets.pin': a string value is not an integer"
    )
    assert "hunter2" not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_render_uuid_is_a_fresh_uuid4() -> None:
    first, second = run("${uuid()}"), run("${ uuid() }")
    assert uuid.UUID(first).version == 4
    assert first != second


def test_render_now_is_rfc3339_utc() -> None:
    before = datetime.now(UTC)
    value = run("${now()}")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", value)
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert before - timedelta(seconds=1) <= moment <= datetime.now(UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${total}", 3),
        ("${price}", 2.5),
        ("${flag}", True),
        ("${nothing}", None),
        ("${payload}", {"a": 1, "b": [True, None]}),
        ("${items}", [{"id": 7}, {"id": 8}]),
        ("${ total }", 3),
    ],
)
def test_render_single_expression_keeps_native_type(text: str, expected: Any) -> None:
    result = run(text)
    assert result == expected
    assert type(result) is type(expected)


def test_render_single_expression_returns_the_scope_object() -> None:
    assert run("${payload}") is SCOPE["payload"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("n=${total}", "n=3"),
        ("${price}!", "2.5!"),
        ("is ${flag}", "is true"),
        ("is ${nothing}", "is null"),
        ("p=${payload}", 'p={"a":1,"b":[true,null]}'),
        ("${items[0]} ", '{"id":7} '),
        ("Hi ${name}", "Hi   Ada Lovelace "),
        ("${word}.", "héllo wörld/?&."),
        ("${total}${total}", "33"),
        ("${ total | string }", "3"),
        ("", ""),
        ("plain", "plain"),
        ("$${total} is ${total}", "${total} is 3"),
    ],
)
def test_render_embedded_values_are_stringified(text: str, expected: str) -> None:
    assert run(text) == expected


def test_render_embedded_value_that_is_not_json_fails() -> None:
    message = error_of("x${blob}", {"blob": b"\x00"})
    assert message == "cannot render 'blob' as text: a bytes value is not JSON-serializable"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${services.user-service.url}/v1", "http://users:8080/v1"),
        ("${items[1].id}", 8),
        ("${matrix[1][0]}", 3),
        ("${order.items[1]}", 2),
    ],
)
def test_render_paths_with_hyphens_and_indexes(text: str, expected: Any) -> None:
    assert run(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "${services.user-servic.url}",
            "undefined variable 'services.user-servic.url': 'user-servic' is not defined "
            "(known: order-service, product-service, user-service)",
        ),
        ("${empty.x}", "undefined variable 'empty.x': 'x' is not defined (known: none)"),
        (
            "${items[2].id}",
            "undefined variable 'items[2].id': index 2 is out of range ('items' has length 2)",
        ),
        ("${order.id.x}", "undefined variable 'order.id.x': 'order.id' is a number, not an object"),
        ("${order[0]}", "undefined variable 'order[0]': 'order' is an object, not a list"),
        ("${items.id}", "undefined variable 'items.id': 'items' is a list, not an object"),
        ("${abc[0]}", "undefined variable 'abc[0]': 'abc' is a string, not a list"),
        ("${nothing.x}", "undefined variable 'nothing.x': 'nothing' is null, not an object"),
        ("a ${total} ${nope | upper}", "undefined variable 'nope': 'nope' is not defined"),
    ],
)
def test_render_undefined_names_the_missing_segment(text: str, message: str) -> None:
    assert error_of(text).startswith(message)


def test_render_undefined_at_root_lists_at_most_ten_known_names() -> None:
    scope = {f"v{i:02}": i for i in range(13)}
    assert error_of("${tokn}", scope) == (
        "undefined variable 'tokn': 'tokn' is not defined "
        "(known: v00, v01, v02, v03, v04, v05, v06, v07, v08, v09, and 3 more)"
    )


@pytest.mark.parametrize(
    "text",
    [
        "${order.__class__}",
        "${order.__globals__}",
        "${fn.__globals__}",
        "${fn.__code__}",
        "${abc.upper}",
        "${abc.__class__.__mro__}",
        "${empty.items}",
        "${empty.keys}",
        "${__builtins__}",
    ],
)
def test_render_never_reaches_attributes(text: str) -> None:
    scope = {**SCOPE, "fn": test_render_never_reaches_attributes}
    assert error_of(text, scope).startswith("undefined variable")


def test_render_dict_item_named_like_a_method_is_an_item_lookup() -> None:
    assert run("${order.items}") == [1, 2]
    assert run("${d.get} ${d.keys}", {"d": {"get": "g", "keys": "k"}}) == "g k"


@pytest.mark.parametrize(
    "literal",
    ['"n/a"', "0", "-1.5", "true", "false", "null", '[1, "x"]', '{"k": {"n": [null]}}', '""'],
)
def test_render_default_applies_each_json_literal_when_undefined(literal: str) -> None:
    assert run(f"${{missing.deep | default({literal})}}") == json.loads(literal)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${nothing | default(1)}", None),
        ("${flag | default(false)}", True),
        ("${empty | default(1)}", {}),
        ("${abc | default(1)}", "abc"),
        ('${missing | upper | default("x")}', "x"),
        ('${missing | default("x") | upper}', "X"),
        ("${missing | default(null) | default(2)}", None),
        ("id-${missing | default(7)}", "id-7"),
    ],
)
def test_render_default_applies_only_when_undefined(text: str, expected: Any) -> None:
    assert run(text) == expected


def test_render_default_filter_does_not_hide_filter_failures() -> None:
    assert "filter 'int' failed" in error_of("${abc | int | default(0)}")


def test_render_default_value_is_fresh_on_each_render() -> None:
    template = parse('${missing | default({"a": []})}')
    first = render(template, {})
    first["a"].append(1)
    assert render(template, {}) == {"a": []}


def test_render_output_cap_on_concatenation() -> None:
    half = "x" * (MAX_OUTPUT_CHARS // 2)
    assert len(run("${h}${h}", {"h": half})) == MAX_OUTPUT_CHARS
    message = error_of("${h}${h}!", {"h": half})
    assert message == f"rendered text exceeds the limit of {MAX_OUTPUT_CHARS} characters"


def test_render_output_cap_on_filter_chains() -> None:
    quotes = '"' * 1000
    assert "exceeds the limit" in error_of("${q" + " | json" * 12 + "}", {"q": quotes})


def test_render_output_cap_on_a_single_filtered_expression() -> None:
    assert "exceeds the limit" in error_of("${s | upper}", {"s": "x" * (MAX_OUTPUT_CHARS + 1)})


def test_render_output_cap_does_not_apply_to_values_passed_through() -> None:
    big = "x" * (MAX_OUTPUT_CHARS * 2)
    assert run("${big}", {"big": big}) is big


def test_render_output_cap_covers_a_whole_structure() -> None:
    scope = {"big": "x" * (MAX_OUTPUT_CHARS // 4)}
    assert len(render_value(["a${big}"] * 3, scope)) == 3
    with pytest.raises(TemplateError, match="exceeds the limit"):
        render_value({"k": ["a${big}"] * 4}, scope)


def test_render_value_renders_nested_structures_and_keys() -> None:
    node = {
        "url": "${services.user-service.url}/orders",
        "${services.order-service.url}": "key",
        "json": {"total": "${total}", "items": ["${items[0].id}", "x-${flag}", 5, None]},
        "tuple": ("${total}", 1.5),
        7: "${nothing}",
        "plain": "no templates",
    }
    assert render_value(node, SCOPE) == {
        "url": "http://users:8080/orders",
        "http://orders": "key",
        "json": {"total": 3, "items": [7, "x-true", 5, None]},
        "tuple": (3, 1.5),
        7: None,
        "plain": "no templates",
    }


def test_render_value_leaves_the_input_unchanged() -> None:
    node = {"a": ["${total}"], "${abc}": {"b": "${flag}"}}
    render_value(node, SCOPE)
    assert node == {"a": ["${total}"], "${abc}": {"b": "${flag}"}}


def test_render_value_accepts_parsed_templates() -> None:
    node = {parse("k-${total}"): [parse("${payload}"), parse("plain")]}
    assert render_value(node, SCOPE) == {"k-3": [SCOPE["payload"], "plain"]}


@pytest.mark.parametrize("value", [3, 1.5, 7, True, None, b"raw"])
def test_render_value_leaves_non_strings_untouched(value: Any) -> None:
    assert render_value(value, SCOPE) is value


def test_render_value_keys_are_always_text() -> None:
    assert render_value({"${total}": 1, "${payload}": 2}, SCOPE) == {
        "3": 1,
        '{"a":1,"b":[true,null]}': 2,
    }


def test_render_value_rejects_keys_rendering_alike() -> None:
    with pytest.raises(TemplateError) as caught:
        render_value({"abc": 1, "${abc}": 2}, SCOPE)
    assert str(caught.value) == "keys 'abc' and '${abc}' render alike"


def test_render_value_errors_propagate_from_any_depth() -> None:
    with pytest.raises(TemplateError, match="undefined variable 'nope'"):
        render_value({"a": [{"b": "${nope}"}]}, SCOPE)


def test_render_tracked_reports_roots_read() -> None:
    value, roots = render_tracked(parse("Bearer ${secrets.token} ${uuid()}"), SCOPE)
    assert value.startswith("Bearer s3cr3t-value ")
    assert roots == {"secrets"}


def test_render_tracked_plain_text_reads_nothing() -> None:
    assert render_tracked(parse("$${secrets.token}"), SCOPE) == ("${secrets.token}", frozenset())


def test_render_value_tracked_collects_roots_from_values_and_keys() -> None:
    node = {"h": {"Authorization": "Bearer ${secrets.token}"}, "${order.id}": ["${total}", "x"]}
    value, roots = render_value_tracked(node, SCOPE)
    assert value == {"h": {"Authorization": "Bearer s3cr3t-value"}, "42": [3, "x"]}
    assert roots == {"secrets", "order", "total"}


def test_render_value_tracked_without_secrets_is_untainted() -> None:
    _, roots = render_value_tracked({"url": "${services.user-service.url}", "n": 1}, SCOPE)
    assert "secrets" not in roots


def test_render_scope_may_be_any_mapping() -> None:
    assert run("${a.b}", MappingProxyType({"a": MappingProxyType({"b": 1})})) == 1


def test_lookup_reads_paths_like_templates_and_reports_missing() -> None:
    scope = {"items": [{"id": 7}], "services": {"user-service": {"url": "http://u"}}, "n": None}
    assert lookup("items[0].id", scope) == 7
    assert lookup("services.user-service.url", scope) == "http://u"
    assert lookup("n", scope) is None
    assert lookup("items[3]", scope) is MISSING
    assert lookup("items.id", scope) is MISSING
    with pytest.raises(TemplateSyntaxError, match="is not a variable path"):
        lookup("uuid()", scope)
    with pytest.raises(TemplateSyntaxError):
        lookup("a | upper", scope)
