"""The safe YAML reader: values as ``yaml.safe_load`` gives them, positions, and rejections."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest
import yaml

from controller.loader.scalars import resolve_plain
from controller.loader.yaml_source import read_yaml

SCALARS = """\
ints: [1, 0x1F, 1_000, -0b101, 017, 0, +12, -0, 1:30, 190:20:30]
floats: [1.5, 1.0e+3, .inf, -.Inf, +.INF, 1_0.5, 6.8523015e+5, 1., .5, 190:20:30.15]
not_floats: [1e3, 0o17, 08, 1.2.3, 1_2e5]
bools: [yes, no, Yes, NO, on, off, On, OFF, true, False, TRUE]
not_bools: [y, n, Y, N, yES, oN, truE]
nulls: [~, null, Null, NULL, '']
empty:
quoted: ['1', "2.5", 'yes', "null", '~', "0x1F"]
strings: [hello world, user-service-*, "${event.pr_number}", 'it''s', -, +, ., <, =x, <<x]
block: |
  line one
  line two
folded: >-
  one
  two
tagged: [!!str 12, !!int "12", !!float "1", !!bool "yes", !!null "", !!str yes]
flow_map: {a: 1, "b": [x, {c: d}]}
"""


def _values(text: str) -> list[Any]:
    result = read_yaml(text)
    assert result.problems == ()
    return [document.value for document in result.documents]


def _safe_load_all(text: str) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(text) if doc is not None]


def _problems(text: str) -> list[tuple[int, int, str, str]]:
    return [(p.line, p.column, p.code, p.message) for p in read_yaml(text).problems]


def test_read_yaml_values_equal_safe_load() -> None:
    assert _values(SCALARS) == _safe_load_all(SCALARS)


def test_read_yaml_resolves_yaml11_scalars_like_pyyaml() -> None:
    (doc,) = _values(SCALARS)
    assert doc["ints"] == [1, 31, 1000, -5, 15, 0, 12, 0, 90, 685230]
    assert doc["floats"][:6] == [1.5, 1000.0, math.inf, -math.inf, math.inf, 10.5]
    assert doc["not_floats"] == ["1e3", "0o17", "08", "1.2.3", "1_2e5"]
    assert doc["bools"] == [True, False, True, False, True, False, True, False, True, False, True]
    assert doc["not_bools"] == ["y", "n", "Y", "N", "yES", "oN", "truE"]
    assert doc["nulls"] == [None, None, None, None, ""]
    assert doc["empty"] is None
    assert doc["quoted"] == ["1", "2.5", "yes", "null", "~", "0x1F"]
    assert doc["tagged"] == ["12", 12, 1.0, True, None, "yes"]


def test_read_yaml_keeps_timestamps_as_written() -> None:
    text = "[2001-12-14, 2001-12-14t21:59:43.10-05:00, 2001-12-14 21:59:43.10 -5]\n"
    assert _values(text) == [
        ["2001-12-14", "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5"]
    ]


def test_read_yaml_nan_is_a_float() -> None:
    (doc,) = _values("[.nan, .NaN, .NAN]")
    assert all(math.isnan(value) for value in doc)


def test_resolve_plain_keeps_unparseable_number_lookalikes_as_text() -> None:
    assert resolve_plain("0b_") == "0b_"
    assert resolve_plain("0x_") == "0x_"
    assert resolve_plain("plain") == "plain"
    assert resolve_plain("") is None


def test_read_yaml_keeps_boolean_looking_keys_as_text() -> None:
    assert _values("retry: {on: [connect, 503], yes: 1, OFF: 2}\n") == [
        {"retry": {"on": ["connect", 503], "yes": 1, "OFF": 2}}
    ]


def test_read_yaml_multiple_documents_skip_empty_ones_and_count_them() -> None:
    text = "a: 1\n---\n---\n# only a comment\n---\n~\n---\n- x\n...\n---\nb: 2\n"
    result = read_yaml(text)
    assert result.problems == ()
    assert [(d.index, d.value) for d in result.documents] == [
        (0, {"a": 1}),
        (4, ["x"]),
        (5, {"b": 2}),
    ]


NESTED = """\
a:
  b:
    - x
    - {c: 1, d: [2, 3]}
  e: "text"
"""


@pytest.mark.parametrize(
    ("parts", "position"),
    [
        ((), (1, 1)),
        (("a",), (2, 3)),
        (("a", "b"), (3, 5)),
        (("a", "b", 0), (3, 7)),
        (("a", "b", 1), (4, 7)),
        (("a", "b", 1, "c"), (4, 11)),
        (("a", "b", 1, "d"), (4, 17)),
        (("a", "b", 1, "d", 1), (4, 21)),
        (("a", "e"), (5, 6)),
        (("a", "b", 1, "missing", 3), (4, 7)),
        (("a", "b", 7), (3, 5)),
        (("a", "e", "deeper"), (5, 6)),
        (("a", "b", "not-an-index"), (3, 5)),
    ],
)
def test_locator_points_at_deepest_existing_value(
    parts: tuple[str | int, ...], position: tuple[int, int]
) -> None:
    (document,) = read_yaml(NESTED).documents
    assert document.locator.locate(parts) == position


def test_locator_locate_key_points_at_the_key_of_a_mapping_entry() -> None:
    (document,) = read_yaml(NESTED).documents
    assert document.locator.locate_key(("a", "b", 1, "d")) == (4, 14)
    assert document.locator.locate_key(("a", "e")) == (5, 3)
    assert document.locator.locate_key(("a", "b", 1)) == (4, 7)


def test_read_yaml_rejects_anchor_and_alias_at_their_positions() -> None:
    text = "base: &b {x: 1}\nother: *b\nlist:\n  - &s one\n"
    result = read_yaml(text, "f.yaml")
    assert result.documents == ()
    assert [(p.path, p.line, p.column, p.code) for p in result.problems] == [
        ("f.yaml", 1, 7, "yaml.alias"),
        ("f.yaml", 2, 8, "yaml.alias"),
        ("f.yaml", 4, 5, "yaml.alias"),
    ]
    assert "anchors and aliases are not allowed" in result.problems[0].message


def test_read_yaml_rejects_billion_laughs_without_expanding_it() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, 10):
        name, previous = chr(ord("a") + level), chr(ord("a") + level - 1)
        lines.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]")
    started = time.perf_counter()
    result = read_yaml("\n".join(lines) + "\n")
    assert time.perf_counter() - started < 0.5
    assert result.documents == ()
    assert result.problems[0].line == 1
    assert result.problems[0].column == 4
    assert {p.code for p in result.problems} == {"yaml.alias"}


def test_read_yaml_rejects_duplicate_key_at_second_occurrence() -> None:
    text = "spec:\n  suite: a\n  enabled: true\n  suite: b\n"
    assert _problems(text) == [
        (4, 3, "yaml.duplicate-key", "duplicate key 'suite' (first defined on line 2)")
    ]


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("!!python/object/apply:os.system [ls]", "!!python/object/apply:os.system"),
        ("!!python/name:os.system x", "!!python/name:os.system"),
        ("!!binary aGVsbG8=", "!!binary"),
        ("!!set {a, b}", "!!set"),
        ("!!timestamp 2001-12-14", "!!timestamp"),
        ("!!omap [a: 1]", "!!omap"),
        ("!foo bar", "!foo"),
        ("!<tag:example.com,2000:x> y", "tag:example.com,2000:x"),
    ],
)
def test_read_yaml_rejects_non_core_tags(value: str, shown: str) -> None:
    ((line, column, code, message),) = _problems(f"key: {value}\n")
    assert (line, column, code) == (1, 6, "yaml.tag")
    assert message.startswith(f"tag {shown} is not allowed")


def test_read_yaml_reports_core_tag_with_invalid_value() -> None:
    assert _problems("a: !!int twelve\n") == [
        (1, 4, "yaml.tag", "'twelve' is not a valid !!int value")
    ]


def test_read_yaml_rejects_merge_key() -> None:
    text = "base: {a: 1}\nderived:\n  <<: {b: 2}\n  c: 3\n"
    assert _problems(text) == [
        (3, 3, "yaml.merge-key", "merge keys (<<) are not allowed (write the keys out)")
    ]


def test_read_yaml_quoted_merge_key_is_an_ordinary_key() -> None:
    assert _values("'<<': 1\nx: <<\n") == [{"<<": 1, "x": "<<"}]


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("200: ok\n", (1, 1), "read as integer 200"),
        ("a:\n  ~: x\n", (2, 3), "read as null"),
        ("a:\n  1.5: x\n", (2, 3), "read as float 1.5"),
        ("? [a, b]\n: c\n", (1, 3), "not collections"),
        ("{x: 1, {y: 2}: 3}\n", (1, 8), "not collections"),
    ],
)
def test_read_yaml_rejects_non_string_keys(
    text: str, position: tuple[int, int], fragment: str
) -> None:
    ((line, column, code, message),) = _problems(text)
    assert (line, column, code) == (*position, "yaml.key-type")
    assert fragment in message


def test_read_yaml_caps_depth_on_100000_nested_lists_cleanly() -> None:
    text = "[" * 100_000 + "]" * 100_000
    started = time.perf_counter()
    ((line, column, code, message),) = _problems(text)
    assert (line, code, message) == (1, "yaml.depth", "nesting is deeper than 64 levels")
    # Our own count stops at column 65; libyaml >= 0.2.5 may stop first, at 1000 levels.
    assert column in (65, 1001)
    assert time.perf_counter() - started < 1.0


def test_read_yaml_depth_limit_counts_block_mappings() -> None:
    text = "".join("  " * level + f"k{level}:\n" for level in range(10)) + "  " * 10 + "v\n"
    assert read_yaml(text, max_depth=10).problems == ()
    assert [p.code for p in read_yaml(text, max_depth=9).problems] == ["yaml.depth"]


def test_read_yaml_syntax_error_has_mark_position() -> None:
    assert _problems("a: b: c\n") == [
        (1, 5, "yaml.syntax", "invalid YAML: mapping values are not allowed in this context")
    ]


def test_read_yaml_syntax_error_keeps_earlier_documents() -> None:
    result = read_yaml("a: 1\n---\nb: [1,\n")
    assert [d.value for d in result.documents] == [{"a": 1}]
    ((line, column, code, _),) = [(p.line, p.column, p.code, p.message) for p in result.problems]
    assert (line, code) == (4, "yaml.syntax")
    assert column == 1


def test_read_yaml_reports_control_character_position() -> None:
    ((line, column, code, message),) = _problems("a: ok\nb: é\x07\n")
    assert (line, column, code) == (2, 5, "yaml.syntax")
    assert "control characters" in message


def test_read_yaml_limits_documents_per_file() -> None:
    result = read_yaml("a: 1\n---\nb: 2\n---\nc: 3\n", max_documents=2)
    assert [d.value for d in result.documents] == [{"a": 1}, {"b": 2}]
    assert [(p.line, p.code) for p in result.problems] == [(4, "file.too-many-documents")]


def test_read_yaml_keeps_valid_documents_next_to_a_broken_one() -> None:
    result = read_yaml("a: 1\n---\nb: &x 2\n---\nc: 3\n")
    assert [d.value for d in result.documents] == [{"a": 1}, {"c": 3}]
    assert [(p.line, p.document) for p in result.problems] == [(3, 1)]


def test_read_yaml_stops_after_too_many_problems() -> None:
    text = "".join(f"k{i}: *a\n" for i in range(500))
    problems = read_yaml(text).problems
    assert len(problems) == 101
    assert problems[-1].code == "yaml.too-many-problems"


@pytest.mark.parametrize(
    "text",
    ['a: !!int ""\n', 'a: !!int "+"\n', 'a: !!float "-"\n', "a: !!int 0x" + "f" * 200 + "\n"],
)
def test_read_yaml_bad_tagged_numbers_are_problems_not_crashes(text: str) -> None:
    result = read_yaml(text)
    assert [p.code for p in result.problems] == ["yaml.tag"]
    assert len(result.problems[0].message) < 120


@pytest.mark.parametrize(
    "number", ["0x" + "f" * 4000, ":".join(["1"] * 80_000), "1" * 5000, "0b" + "1" * 300]
)
def test_read_yaml_overlong_plain_numbers_stay_text(number: str) -> None:
    result = read_yaml(f"a: {number}\n? {number}\n: b\n")
    assert result.problems == ()
    assert result.documents[0].value == {"a": number, number: "b"}


def test_read_yaml_alias_as_key_is_reported_once_as_an_alias() -> None:
    result = read_yaml("a: &x 1\n*x : 2\nb: 3\n")
    assert [(p.line, p.code) for p in result.problems] == [(1, "yaml.alias"), (2, "yaml.alias")]
