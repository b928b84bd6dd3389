"""Find every glob (or exact) pattern matching a value without trying them all.

Rules name repositories by exact name or by ``fnmatch`` glob (case-sensitive; ``*`` also
crosses ``/``). A config may hold thousands, so trying each pattern per event would make
every webhook pay for the size of the config. Instead:

- exact patterns sit in a dict;
- a glob with a literal *prefix* (the text before its first ``*``, ``?`` or ``[``) is filed
  under that prefix, and only globs whose prefix starts the value are tried;
- a glob starting with a wildcard is filed under its literal *suffix* (after its last
  wildcard or class), tried only when the value ends with it;
- the few left (``*``, ``*-[ab]``) are always tried.

A lookup costs one dict probe per distinct prefix or suffix length plus one regex per
candidate that shares a prefix or suffix with the value.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

T = TypeVar("T")
_WILDCARDS = "*?["
_ENDS_LITERAL = "*?[]"


def is_glob(pattern: str) -> bool:
    return any(char in pattern for char in _WILDCARDS)


def compile_glob(pattern: str) -> Callable[[str], bool]:
    """A case-sensitive matcher of ``pattern`` (``fnmatch.fnmatchcase`` semantics)."""
    regex = re.compile(fnmatch.translate(pattern))
    return lambda value: regex.match(value) is not None


def literal_prefix(pattern: str) -> str:
    for index, char in enumerate(pattern):
        if char in _WILDCARDS:
            return pattern[:index]
    return pattern


def literal_suffix(pattern: str) -> str:
    for index in range(len(pattern) - 1, -1, -1):
        if pattern[index] in _ENDS_LITERAL:
            return pattern[index + 1 :]
    return pattern


class PatternIndex(Generic[T]):
    """Items keyed by patterns; ``find(value)`` returns the items whose pattern matches
    ``value``, in the order they were given."""

    def __init__(self, entries: Iterable[tuple[str, T]]) -> None:
        self._exact: dict[str, list[tuple[int, T]]] = {}
        self._by_prefix: dict[str, list[tuple[int, Callable[[str], bool], T]]] = {}
        self._by_suffix: dict[str, list[tuple[int, Callable[[str], bool], T]]] = {}
        self._always: list[tuple[int, Callable[[str], bool], T]] = []
        for order, (pattern, item) in enumerate(entries):
            if not is_glob(pattern):
                self._exact.setdefault(pattern, []).append((order, item))
                continue
            entry = (order, compile_glob(pattern), item)
            prefix = literal_prefix(pattern)
            suffix = literal_suffix(pattern)
            if prefix:
                self._by_prefix.setdefault(prefix, []).append(entry)
            elif suffix:
                self._by_suffix.setdefault(suffix, []).append(entry)
            else:
                self._always.append(entry)
        self._prefix_lengths = sorted({len(p) for p in self._by_prefix})
        self._suffix_lengths = sorted({len(s) for s in self._by_suffix})

    def find(self, value: str) -> list[T]:
        found: list[tuple[int, T]] = list(self._exact.get(value, ()))
        size = len(value)
        for length in self._prefix_lengths:
            if length > size:
                break
            for order, matches, item in self._by_prefix.get(value[:length], ()):
                if matches(value):
                    found.append((order, item))
        for length in self._suffix_lengths:
            if length > size:
                break
            for order, matches, item in self._by_suffix.get(value[size - length :], ()):
                if matches(value):
                    found.append((order, item))
        for order, matches, item in self._always:
            if matches(value):
                found.append((order, item))
        found.sort(key=lambda pair: pair[0])
        return [item for _, item in found]
