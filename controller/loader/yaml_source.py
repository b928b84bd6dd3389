"""A safe YAML reader that remembers where every node came from.

Values are built directly from libyaml's event stream instead of ``yaml.load``: that is what
lets the reader refuse anchors and aliases *before* anything is expanded (alias bombs cost
nothing), refuse duplicate keys, custom tags and merge keys, and cap nesting depth without
ever recursing on untrusted input. Plain scalars resolve as ``yaml.safe_load`` resolves them
(see ``scalars``), with one exception for keys: a plain key that YAML 1.1 reads as a boolean
keeps its text (``on:`` is the key ``"on"``, as in YAML 1.2), because keys must be strings and
the schemas use words such as ``on`` as keys. Other non-string keys (``200:``, ``~:``) are
reported. Positions go into a mark tree (see ``marks``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import yaml

from controller.loader.marks import SHIFT, MarkLocator, position
from controller.loader.scalars import (
    MAP_TAG,
    MERGE,
    SCALAR_TAGS,
    SEQ_TAG,
    SPECIAL_FIRST,
    construct_tagged,
    resolve_plain,
    show_tag,
)
from controller.models.problems import Problem

_TAG_HELP: Final = (
    "only the core tags !!str, !!int, !!float, !!bool, !!null, !!map, !!seq are allowed"
)
_ALIAS_MESSAGE: Final = (
    "anchors and aliases are not allowed (they expand content; write the value out)"
)
_MAX_PROBLEMS: Final = 100

_NO_KEY: Final = object()
_BAD_KEY: Final = object()


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "float"}.get(type(value), "string")


@dataclass(frozen=True, slots=True)
class YamlDocument:
    """One non-empty document of a YAML stream; ``index`` counts every document of the file."""

    index: int
    value: Any
    locator: MarkLocator


@dataclass(frozen=True, slots=True)
class YamlFile:
    documents: tuple[YamlDocument, ...]
    problems: tuple[Problem, ...]


class _Stop(Exception):
    """Reading this file cannot usefully continue (depth, document count, too many problems)."""


class _Problems:
    __slots__ = ("items", "path")

    def __init__(self, path: str) -> None:
        self.path = path
        self.items: list[Problem] = []

    def add(self, where: Any, message: str, code: str, document: int | None) -> None:
        """Record a problem at ``where``: a libyaml mark, or an entry of the mark tree."""
        if isinstance(where, int | tuple):
            line, column = position(where if isinstance(where, int) else where[0])
        else:
            line, column = where.line + 1, where.column + 1
        self.items.append(Problem(self.path, line, column, message, code, "", document))
        if len(self.items) >= _MAX_PROBLEMS:
            message = f"too many problems ({_MAX_PROBLEMS}); stopped reading this file"
            self.items.append(
                Problem(self.path, line, column, message, "yaml.too-many-problems", "", document)
            )
            raise _Stop


def read_yaml(
    text: str, path: str = "", *, max_depth: int = 64, max_documents: int = 1000
) -> YamlFile:
    """Read every document of ``text``; problems carry ``path`` and 1-based positions.

    A document with any problem is left out of ``documents``. Syntax errors, excessive depth
    and too many documents stop reading the file; documents completed before that are kept.
    """
    problems = _Problems(path)
    documents: list[YamlDocument] = []
    try:
        _read_events(text, max_depth, max_documents, problems, documents)
    except _Stop:
        pass
    except yaml.MarkedYAMLError as error:
        problems.items.append(_syntax_problem(path, error, max_depth))
    except yaml.reader.ReaderError as error:
        problems.items.append(_reader_problem(path, text, error))
    return YamlFile(tuple(documents), tuple(problems.items))


def _syntax_problem(path: str, error: yaml.MarkedYAMLError, max_depth: int) -> Problem:
    """libyaml 0.2.5 and later stop at 1000 levels of flow nesting in the scanner, which
    reads ahead of the events we count, so that limit can fire before ours: it is the same
    problem, reported where libyaml noticed it."""
    mark = error.problem_mark
    if "maximum nesting depth" in (error.problem or "") and mark is not None:
        message = f"nesting is deeper than {max_depth} levels"
        return Problem(path, mark.line + 1, mark.column + 1, message, "yaml.depth")
    message = f"invalid YAML: {error.problem or 'syntax error'}"
    context = error.context_mark
    if error.context and context is not None and (mark is None or context.line != mark.line):
        message += f" ({error.context} started on line {context.line + 1})"
    elif error.context:
        message += f" ({error.context})"
    if mark is None:
        mark = context
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
    return Problem(path, line, column, message, "yaml.syntax")


def _reader_problem(path: str, text: str, error: yaml.reader.ReaderError) -> Problem:
    # libyaml reports a byte offset into the UTF-8 encoding of the text.
    before = text.encode("utf-8")[: error.position].decode("utf-8", "replace")
    line = before.count("\n") + 1
    column = len(before) - (before.rfind("\n") + 1) + 1
    character = error.character
    shown = f"{character:#04x}" if isinstance(character, int) else repr(character)
    return Problem(path, line, column, f"invalid YAML: {error.reason} ({shown})", "yaml.syntax")


def _read_events(
    text: str,
    max_depth: int,
    max_documents: int,
    problems: _Problems,
    documents: list[YamlDocument],
) -> None:
    scalar_event = yaml.ScalarEvent
    mapping_start = yaml.MappingStartEvent
    sequence_start = yaml.SequenceStartEvent
    mapping_end = yaml.MappingEndEvent
    sequence_end = yaml.SequenceEndEvent
    special_first = SPECIAL_FIRST
    resolve = resolve_plain
    shift = SHIFT
    report = problems.add
    get_event: Callable[[], Any] = yaml.CSafeLoader(text).get_event

    stack: list[tuple[Any, ...]] = []
    # State of the innermost open collection; ``key_positions`` is None for a sequence.
    container: Any = None
    marks: Any = None
    key_positions: dict[str, int] | None = None
    key: Any = _NO_KEY
    key_position = 0
    container_position = 0
    root: Any = None
    root_mark: Any = None
    document = -1
    problems_before = 0

    while True:
        event = get_event()
        cls = event.__class__
        if cls is scalar_event:
            start = event.start_mark
            mark = start.line << shift | start.column
            value = event.value
            if event.anchor is not None or event.tag is not None:
                value = _special_scalar(event, report, document)
            elif event.implicit[0] and (not value or value[0] in special_first):
                value = resolve(value)
                if key is _NO_KEY and key_positions is not None:
                    if value.__class__ is bool:
                        value = event.value
                elif value is MERGE:
                    value = "<<"
        elif cls is mapping_start or cls is sequence_start:
            start = event.start_mark
            if event.anchor is not None:
                report(start, _ALIAS_MESSAGE, "yaml.alias", document)
            tag = event.tag
            if (
                tag is not None
                and tag != "!"
                and tag != (MAP_TAG if cls is mapping_start else SEQ_TAG)
            ):
                report(
                    start, f"tag {show_tag(tag)} is not allowed: {_TAG_HELP}", "yaml.tag", document
                )
            if len(stack) >= max_depth:
                report(
                    start,
                    f"nesting is deeper than {max_depth} levels",
                    "yaml.depth",
                    document,
                )
                raise _Stop
            stack.append((container, marks, key_positions, key, key_position, container_position))
            container_position = start.line << shift | start.column
            if cls is mapping_start:
                container, marks, key_positions, key = {}, {}, {}, _NO_KEY
            else:
                container, marks, key_positions = [], [], None
            continue
        elif cls is mapping_end or cls is sequence_end:
            value = container
            if key_positions is None:
                mark = (container_position, marks)
            else:
                mark = (container_position, marks, key_positions)
            container, marks, key_positions, key, key_position, container_position = stack.pop()
        elif cls is yaml.AliasEvent:
            start = event.start_mark
            report(start, _ALIAS_MESSAGE, "yaml.alias", document)
            if container is not None and key_positions is not None and key is _NO_KEY:
                key = _BAD_KEY  # an alias as a key: reported once, as an alias
                continue
            value, mark = None, start.line << shift | start.column
        elif cls is yaml.DocumentStartEvent:
            document += 1
            if document >= max_documents:
                report(
                    event.start_mark,
                    f"more than {max_documents} documents in one file",
                    "file.too-many-documents",
                    document,
                )
                raise _Stop
            problems_before = len(problems.items)
            root = root_mark = None
            continue
        elif cls is yaml.DocumentEndEvent:
            if root is not None and len(problems.items) == problems_before:
                documents.append(YamlDocument(document, root, MarkLocator(root_mark)))
            continue
        elif cls is yaml.StreamEndEvent:
            return
        else:
            continue

        if container is None:
            root, root_mark = value, mark
        elif key_positions is None:
            container.append(value)
            marks.append(mark)
        elif key is _NO_KEY:
            if value.__class__ is str:
                if value in key_positions:
                    first_line = (key_positions[value] >> shift) + 1
                    report(
                        mark,
                        f"duplicate key {value!r} (first defined on line {first_line})",
                        "yaml.duplicate-key",
                        document,
                    )
                    key = _BAD_KEY
                else:
                    key, key_position = value, mark
            else:
                report(mark, _key_message(value), _key_code(value), document)
                key = _BAD_KEY
        else:
            if key is not _BAD_KEY:
                container[key] = value
                marks[key] = mark
                key_positions[key] = key_position
            key = _NO_KEY


def _key_code(value: object) -> str:
    return "yaml.merge-key" if value is MERGE else "yaml.key-type"


def _key_message(value: object) -> str:
    if value is MERGE:
        return "merge keys (<<) are not allowed (write the keys out)"
    if isinstance(value, dict | list):
        return "keys must be strings, not collections"
    return (
        f"keys must be strings; this key is read as {_type_name(value)} "
        f"{_plain_repr(value)} (quote it to make it a string)"
    )


def _plain_repr(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _special_scalar(event: Any, report: Callable[..., None], document: int) -> Any:
    """Value of a scalar that carries an anchor or an explicit tag (rare: the slow path)."""
    start = event.start_mark
    text: str = event.value
    if event.anchor is not None:
        report(start, _ALIAS_MESSAGE, "yaml.alias", document)
    tag = event.tag
    if tag is None:
        return resolve_plain(text) if event.implicit[0] else text
    if tag == "!":
        return text
    if tag not in SCALAR_TAGS:
        report(start, f"tag {show_tag(tag)} is not allowed: {_TAG_HELP}", "yaml.tag", document)
        return text
    try:
        return construct_tagged(tag, text)
    except ValueError:
        report(
            start,
            f"{_short(text)} is not a valid {show_tag(tag)} value",
            "yaml.tag",
            document,
        )
        return text


def _short(text: str, limit: int = 40) -> str:
    """``text`` quoted for a message, cut so a 1 MiB scalar does not become a 1 MiB message."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "..."
