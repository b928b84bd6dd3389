"""Parsing of ``${...}`` templates into literal text and expressions (evaluation is ``render``).

Templates are parsed once, when a config revision is loaded, so ``meshgate validate`` reports
every syntax error with its offset instead of a test run failing half-way.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import NoReturn

from controller.templating.errors import TemplateSyntaxError

_TEXT_FILTERS = {"upper", "lower", "trim", "string", "json", "b64encode", "urlencode"}
FILTERS = frozenset({*_TEXT_FILTERS, "int", "float", "length", "default"})
FUNCTIONS = frozenset({"uuid", "now"})

Segment = str | int

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_DIGITS = re.compile(r"[0-9]+")
_MAX_INDEX_DIGITS = 9
_JSON = json.JSONDecoder()


def format_path(path: tuple[Segment, ...]) -> str:
    """``("items", 0, "id")`` → ``items[0].id``."""
    return "".join(
        f"[{s}]" if isinstance(s, int) else f".{s}" if i else s for i, s in enumerate(path)
    )


@dataclass(frozen=True, slots=True)
class Filter:
    name: str
    literal: str | None = None
    """The JSON text of ``default(...)``'s argument, decoded afresh at each use so that a
    rendered default is never shared (and mutable) between renders."""


@dataclass(frozen=True, slots=True)
class Expression:
    """One ``${...}``: a variable path or a function call, then filters."""

    path: tuple[Segment, ...]
    function: str | None
    filters: tuple[Filter, ...]

    @property
    def root(self) -> str | None:
        """The first name of the path (``None`` for a function call)."""
        first = self.path[0] if self.path else None
        return first if isinstance(first, str) else None

    @property
    def head(self) -> str:
        return f"{self.function}()" if self.function else format_path(self.path)


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed string: literal text (``$${`` already unescaped) and expressions, in order."""

    text: str
    parts: tuple[str | Expression, ...]

    @property
    def is_single_expression(self) -> bool:
        """The whole string is one ``${...}``, so rendering keeps the value's native type."""
        return len(self.parts) == 1 and isinstance(self.parts[0], Expression)

    @property
    def has_expressions(self) -> bool:
        return any(isinstance(p, Expression) for p in self.parts)

    @property
    def roots(self) -> frozenset[str]:
        """Top-level names read (``{"services", "secrets"}``): validated at load time, and
        the taint of the rendered value at run time."""
        return frozenset(
            r for p in self.parts if isinstance(p, Expression) and (r := p.root) is not None
        )


def contains_template(text: str) -> bool:
    """Whether ``text`` needs parsing (it has a ``${``, including the ``$${`` escape)."""
    return "${" in text


_NEW = object.__new__
_SET_TEXT = Template.__dict__["text"].__set__
_SET_PARTS = Template.__dict__["parts"].__set__


def parse(text: str) -> Template:
    """Parse ``text``; raise ``TemplateSyntaxError`` at the first problem.

    Plain text (no ``${``) takes a fast path that writes the slots directly, skipping the
    frozen dataclass's ``object.__setattr__`` calls, which would double its cost: ``parse``
    sees every string of every config document, and nearly all of them are plain.
    """
    if "${" not in text:
        template = _NEW(Template)
        _SET_TEXT(template, text)
        _SET_PARTS(template, (text,) if text else ())
        return template
    parts: list[str | Expression] = []
    literal: list[str] = []
    pos = 0
    while (start := text.find("${", pos)) != -1:
        if start > pos and text[start - 1] == "$":
            literal += (text[pos : start - 1], "${")
            pos = start + 2
            continue
        literal.append(text[pos:start])
        if chunk := "".join(literal):
            parts.append(chunk)
        literal = []
        expression, pos = _ExpressionParser(text, start).parse()
        parts.append(expression)
    if chunk := "".join([*literal, text[pos:]]):
        parts.append(chunk)
    return Template(text, tuple(parts))


class _ExpressionParser:
    """A cursor (``i``) over one ``${...}`` starting at ``start``; one method per construct."""

    def __init__(self, text: str, start: int) -> None:
        self.text = text
        self.start = start
        self.i = start + 2

    def parse(self) -> tuple[Expression, int]:
        self.skip()
        if self.char() == "}":
            self.fail("empty expression", self.start)
        head_at = self.i
        path = self.path()
        function = None
        self.skip()
        if self.char() == "(":
            function = format_path(path)
            if function not in FUNCTIONS:
                known = ", ".join(sorted(FUNCTIONS))
                self.fail(f"unknown function {function!r} (known: {known})", head_at)
            path = ()
            self.i += 1
            self.skip()
            self.expect(")", f"function {function!r} takes no arguments")
        filters = []
        self.skip()
        while self.char() == "|":
            self.i += 1
            filters.append(self.filter())
            self.skip()
        if self.char() != "}":
            self.fail_here("expected '|' or '}'")
        return Expression(path, function, tuple(filters)), self.i + 1

    def path(self) -> tuple[Segment, ...]:
        segments: list[Segment] = []
        while True:
            name = _NAME.match(self.text, self.i)
            if name is None:
                self.fail_here(
                    "invalid path segment: expected a name (letters, digits, '_' or '-', "
                    "starting with a letter or '_')"
                )
            segments.append(name.group())
            self.i = name.end()
            while self.char() == "[":
                self.i += 1
                digits = _DIGITS.match(self.text, self.i)
                if digits is None:
                    self.fail_here("invalid index: expected a non-negative integer")
                if len(digits.group()) > _MAX_INDEX_DIGITS:
                    self.fail("invalid index: too large")
                self.i = digits.end()
                self.expect("]", "invalid index: expected ']'")
                segments.append(int(digits.group()))
            if self.char() != ".":
                return tuple(segments)
            self.i += 1

    def filter(self) -> Filter:
        self.skip()
        at = self.i
        name = _NAME.match(self.text, at)
        if name is None:
            self.fail_here("expected a filter name after '|'")
        if name.group() not in FILTERS:
            known = ", ".join(sorted(FILTERS))
            self.fail(f"unknown filter {name.group()!r} (known: {known})", at)
        self.i = name.end()
        self.skip()
        if name.group() != "default":
            if self.char() == "(":
                self.fail(f"filter {name.group()!r} takes no arguments")
            return Filter(name.group())
        self.expect("(", "filter 'default' needs an argument: default(<JSON literal>)")
        self.skip()
        literal = self.json_literal()
        self.skip()
        self.expect(")", "expected ')' after the default(...) literal")
        return Filter("default", literal)

    def json_literal(self) -> str:
        at = self.i
        if at >= len(self.text):
            self.fail_here("expected a JSON literal")
        try:
            value, end = _JSON.raw_decode(self.text, at)
            json.dumps(value, allow_nan=False)
        except json.JSONDecodeError as exc:
            hint = " (JSON strings use double quotes)" if self.char() == "'" else ""
            self.fail(f"default(...) needs a JSON literal: {exc.msg}{hint}", exc.pos)
        except (ValueError, RecursionError):
            self.fail(
                "default(...) needs a JSON literal: no NaN, infinity, huge or deep values", at
            )
        self.i = end
        return self.text[at:end]

    def skip(self) -> None:
        while self.text[self.i : self.i + 1].isspace():
            self.i += 1

    def expect(self, char: str, message: str) -> None:
        if self.char() != char:
            self.fail_here(message)
        self.i += 1

    def char(self) -> str:
        return self.text[self.i : self.i + 1]

    def fail(self, message: str, at: int | None = None) -> NoReturn:
        raise TemplateSyntaxError(message, self.text, self.i if at is None else at)

    def fail_here(self, message: str) -> NoReturn:
        """Fail at the cursor, unless the real problem is the end of text or a nested ``${``."""
        if self.i >= len(self.text):
            self.fail("unterminated '${' (no closing '}')", self.start)
        if self.text.startswith("${", self.i):
            self.fail("nested '${' inside an expression")
        self.fail(f"{message}, found {self.char()!r}")
