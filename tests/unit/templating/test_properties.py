from __future__ import annotations

import contextlib
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from controller.templating import (
    FILTERS,
    TemplateError,
    TemplateSyntaxError,
    parse,
    render,
    render_value,
)

NO_DATABASE = settings(database=None, max_examples=300)
TEMPLATE_ALPHABET = st.sampled_from([*"${}$|()[].,:\"' \t\n-_aZ09", "${", "$${", "default("])
template_like = st.lists(TEMPLATE_ALPHABET, max_size=40).map("".join)
SCOPE = {"a": {"b": [1, "x"], "c-d": None}, "Z": "z", "_": 0}


@NO_DATABASE
@given(st.one_of(st.text(), template_like))
def test_parse_raises_only_syntax_errors(text: str) -> None:
    error: TemplateSyntaxError | None = None
    try:
        assert parse(text).text == text
    except TemplateSyntaxError as raised:
        error = raised
    if error is not None:
        assert 0 <= error.offset <= len(text)
        assert error.text == text


@NO_DATABASE
@given(st.text().filter(lambda s: "${" not in s))
def test_render_text_without_template_is_itself(text: str) -> None:
    assert render(parse(text), {}) == text
    assert render_value(text, {}) is text


@NO_DATABASE
@given(template_like)
def test_render_raises_only_template_errors(text: str) -> None:
    with contextlib.suppress(TemplateError):
        render(parse(text), SCOPE)


NAMES = st.sampled_from(["a", "b", "c-d", "Z", "_x", "items"])
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(NAMES, inner, max_size=3),
    max_leaves=10,
)
PATHS = st.builds(
    lambda head, rest: head + "".join(rest),
    NAMES,
    st.lists(NAMES.map(".{}".format) | st.integers(0, 3).map("[{}]".format), max_size=3),
)
FILTER_TEXT = st.sampled_from(sorted(FILTERS - {"default"})) | JSON_VALUES.map(
    lambda v: f"default({json.dumps(v)})"
)
EXPRESSIONS = st.builds(
    lambda head, filters: "${ " + " | ".join([head, *filters]) + " }",
    PATHS | st.sampled_from(["uuid()", "now()"]),
    st.lists(FILTER_TEXT, max_size=3),
)
VALID_TEMPLATES = st.lists(
    EXPRESSIONS | st.text(max_size=5).filter(lambda s: "$" not in s), min_size=1, max_size=4
).map("".join)


@NO_DATABASE
@given(VALID_TEMPLATES, st.dictionaries(NAMES, JSON_VALUES))
def test_render_valid_templates_return_or_raise_template_error(text: str, scope: Any) -> None:
    template = parse(text)
    with contextlib.suppress(TemplateError):
        value = render(template, scope)
        if not template.is_single_expression:
            assert isinstance(value, str)
