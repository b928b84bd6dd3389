from __future__ import annotations

import dataclasses

import pytest

from controller.errors import PermanentError
from controller.templating import (
    FILTERS,
    FUNCTIONS,
    Template,
    TemplateError,
    TemplateSyntaxError,
    contains_template,
    parse,
)
from controller.templating.grammar import Expression, Filter


def only_expression(text: str) -> Expression:
    template = parse(text)
    assert template.is_single_expression
    expression = template.parts[0]
    assert isinstance(expression, Expression)
    return expression


@pytest.mark.parametrize(
    ("text", "expected"),
    [("plain", False), ("", False), ("$ {x}", False), ("${x}", True), ("a $${x}", True)],
)
def test_contains_template_detects_the_opening(text: str, expected: bool) -> None:
    assert contains_template(text) is expected


def test_parse_plain_text_is_one_literal() -> None:
    template = parse("application/json")
    assert template == Template("application/json", ("application/json",))
    assert not template.has_expressions
    assert not template.is_single_expression
    assert template.roots == frozenset()


def test_parse_empty_string_has_no_parts() -> None:
    assert parse("") == Template("", ())


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("$${x}", ("${x}",)),
        ("a $${x} b", ("a ${x} b",)),
        ("$$${x}", ("$${x}",)),
        ("$", ("$",)),
        ("$${", ("${",)),
    ],
)
def test_parse_escape_is_literal_text(text: str, parts: tuple[str, ...]) -> None:
    template = parse(text)
    assert template.parts == parts
    assert not template.has_expressions


def test_parse_escape_next_to_expressions() -> None:
    template = parse("${a}$${b}${c}")
    assert [p if isinstance(p, str) else p.path for p in template.parts] == [
        ("a",),
        "${b}",
        ("c",),
    ]


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("${a}", ("a",)),
        ("${ order_id }", ("order_id",)),
        ("${_private}", ("_private",)),
        ("${services.user-service.url}", ("services", "user-service", "url")),
        ("${items[0].id}", ("items", 0, "id")),
        ("${matrix[2][10]}", ("matrix", 2, 10)),
        ("${a-}", ("a-",)),
        ("${\tA1.b2\n}", ("A1", "b2")),
    ],
)
def test_parse_path_segments(text: str, path: tuple[str | int, ...]) -> None:
    expression = only_expression(text)
    assert expression.path == path
    assert expression.function is None


def test_parse_filters_in_order_with_default_literal() -> None:
    expression = only_expression('${ name | trim|upper | default( {"a": [1, "}"]} ) | json }')
    assert expression.filters == (
        Filter("trim"),
        Filter("upper"),
        Filter("default", '{"a": [1, "}"]}'),
        Filter("json"),
    )


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_parse_function_call(name: str) -> None:
    expression = only_expression(f"${{ {name}( ) | upper }}")
    assert expression.function == name
    assert expression.path == ()
    assert expression.root is None
    assert expression.filters == (Filter("upper"),)


@pytest.mark.parametrize(
    ("text", "roots"),
    [
        ("${services.user-service.url}/v1", {"services"}),
        ("Bearer ${secrets.token}", {"secrets"}),
        ("${order_id}", {"order_id"}),
        ("${a.x}-${b[0]}-${a.y}", {"a", "b"}),
        ("${uuid()}", set()),
        ("$${secrets.token}", set()),
    ],
)
def test_template_roots(text: str, roots: set[str]) -> None:
    assert parse(text).roots == roots


@pytest.mark.parametrize(
    ("text", "single"),
    [
        ("${a}", True),
        ("${ a | upper }", True),
        ("${now()}", True),
        (" ${a}", False),
        ("${a} ", False),
        ("${a}${b}", False),
        ("$${a}", False),
        ("plain", False),
    ],
)
def test_template_is_single_expression(text: str, single: bool) -> None:
    assert parse(text).is_single_expression is single


def test_template_is_a_frozen_hashable_value() -> None:
    template = parse("x ${a | default([1])}")
    assert template == parse("x ${a | default([1])}")
    assert hash(template) == hash(parse("x ${a | default([1])}"))
    assert hash(parse("plain")) == hash(Template("plain", ("plain",)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        template.text = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "offset", "message"),
    [
        ("abc ${a", 4, "unterminated '${' (no closing '}')"),
        ("${a | upper", 0, "unterminated '${'"),
        ("${a | default(", 0, "unterminated '${'"),
        ('${a | default("x"', 0, "unterminated '${'"),
        ("${uuid(", 0, "unterminated '${'"),
        ("${items[", 0, "unterminated '${'"),
        ("x ${}", 2, "empty expression"),
        ("${   }", 0, "empty expression"),
        ("${ 1abc }", 3, "invalid path segment: expected a name"),
        ("${a..b}", 4, "invalid path segment"),
        ("${a.}", 4, "invalid path segment"),
        ("${-a}", 2, "invalid path segment"),
        ("${ | upper }", 3, "invalid path segment"),
        ("${ 'a' }", 3, "invalid path segment"),
        ("${a[x]}", 4, "invalid index: expected a non-negative integer, found 'x'"),
        ("${a[-1]}", 4, "invalid index: expected a non-negative integer"),
        ("${a[1 ]}", 5, "invalid index: expected ']'"),
        ("${a[1234567890]}", 4, "invalid index: too large"),
        ("${a b}", 4, "expected '|' or '}', found 'b'"),
        ("${a .b}", 4, "expected '|' or '}', found '.'"),
        ("${a | upper lower}", 12, "expected '|' or '}'"),
        ("${a${b}}", 3, "nested '${' inside an expression"),
        ("${ ${b} }", 3, "nested '${' inside an expression"),
        ("${a | ${b}}", 6, "nested '${' inside an expression"),
        ("${a | foo}", 6, "unknown filter 'foo' (known: b64encode, default, float, int,"),
        ("${a | to-upper}", 6, "unknown filter 'to-upper'"),
        ("${a | }", 6, "expected a filter name after '|', found '}'"),
        ("${a | 1}", 6, "expected a filter name after '|'"),
        ("${ open('x') }", 3, "unknown function 'open' (known: now, uuid)"),
        ("${os.system()}", 2, "unknown function 'os.system'"),
        ("${uuid(1)}", 7, "function 'uuid' takes no arguments"),
        ("${a | upper(1)}", 11, "filter 'upper' takes no arguments"),
        ("${a | json()}", 10, "filter 'json' takes no arguments"),
        ("${a | default}", 13, "filter 'default' needs an argument: default(<JSON literal>)"),
        ("${a | default()}", 14, "default(...) needs a JSON literal: Expecting value"),
        ("${a | default(x)}", 14, "default(...) needs a JSON literal: Expecting value"),
        ("${a | default('x')}", 14, "(JSON strings use double quotes)"),
        ('${a | default({"a" 1})}', 19, "default(...) needs a JSON literal: Expecting ':'"),
        ("${a | default(NaN)}", 14, "default(...) needs a JSON literal: no NaN, infinity"),
        ("${a | default(1e999)}", 14, "default(...) needs a JSON literal"),
        ("${a | default([" + "[" * 100_000 + ")}", 14, "default(...) needs a JSON literal"),
        ("${a | default(1 2)}", 16, "expected ')' after the default(...) literal, found '2'"),
    ],
)
def test_parse_syntax_error_offset_and_message(text: str, offset: int, message: str) -> None:
    with pytest.raises(TemplateSyntaxError) as caught:
        parse(text)
    assert caught.value.offset == offset
    assert caught.value.text == text
    assert message in caught.value.message
    assert str(caught.value) == f"{caught.value.message} (at offset {offset})"


def test_syntax_error_is_a_permanent_template_error() -> None:
    assert issubclass(TemplateSyntaxError, TemplateError)
    assert issubclass(TemplateError, PermanentError)


def test_parse_reports_the_first_error() -> None:
    with pytest.raises(TemplateSyntaxError) as caught:
        parse("${ok} ${a | nope} ${}")
    assert caught.value.offset == 12


def test_filter_and_function_names_are_the_documented_allow_lists() -> None:
    assert {
        "upper",
        "lower",
        "trim",
        "int",
        "float",
        "string",
        "length",
        "json",
        "b64encode",
        "urlencode",
        "default",
    } == FILTERS
    assert {"uuid", "now"} == FUNCTIONS
