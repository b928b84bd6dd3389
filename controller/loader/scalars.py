"""Plain-scalar resolution with PyYAML's ``SafeLoader`` rules, minus timestamps.

The regular expressions and constructors are PyYAML's (``yaml/resolver.py`` and
``yaml/constructor.py``), so that values equal ``yaml.safe_load``'s: YAML 1.1 booleans
(``yes``/``no``/``on``/``off``), ints in bases 2, 8, 10, 16 and 60, floats with ``.inf`` and
``.nan``, and nulls. Timestamps stay strings, so that every value is JSON-compatible.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

CORE: Final = "tag:yaml.org,2002:"
STR_TAG: Final = CORE + "str"
MAP_TAG: Final = CORE + "map"
SEQ_TAG: Final = CORE + "seq"
SCALAR_TAGS: Final = frozenset(CORE + t for t in ("str", "int", "float", "bool", "null"))

# PyYAML's implicit resolvers (yaml/resolver.py), so that values equal ``yaml.safe_load``.
_INT = re.compile(
    r"""^(?:[-+]?0b[0-1_]+
    |[-+]?0[0-7_]+
    |[-+]?(?:0|[1-9][0-9_]*)
    |[-+]?0x[0-9a-fA-F_]+
    |[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$""",
    re.X,
)
_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
    |\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)
_WORDS: Final[dict[str, bool | None]] = {
    **dict.fromkeys(("yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), True),
    **dict.fromkeys(("no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), False),
    **dict.fromkeys(("~", "null", "Null", "NULL"), None),
}
_WORD_FIRST: Final = frozenset("yYnNtTfFoO~")
_NUMBER_FIRST: Final = frozenset("-+0123456789.")
SPECIAL_FIRST: Final = _WORD_FIRST | _NUMBER_FIRST | {"<"}
_BOOL_VALUES: Final = {
    "yes": True,
    "no": False,
    "true": True,
    "false": False,
    "on": True,
    "off": False,
}


class _Merge:
    """The value of a plain ``<<``: a merge key when it is a key, the string otherwise."""

    def __repr__(self) -> str:
        return "<<"


MERGE: Final = _Merge()
_MISSING: Final = object()


def _sexagesimal(text: str, number: Callable[[str], Any]) -> Any:
    total = 0
    for part in text.split(":"):
        total = total * 60 + number(part)
    return total


MAX_NUMBER_CHARS: Final = 100


def _number_text(text: str) -> str:
    """The digits of a number scalar; ``ValueError`` when empty or too long to be a number we
    would ever need (hex and sexagesimal values otherwise grow without bound, and turning
    huge ints back into text fails)."""
    value = text.replace("_", "")
    if value.lstrip("+-") == "":
        raise ValueError("empty number")
    if len(value) > MAX_NUMBER_CHARS:
        raise ValueError(f"numbers are limited to {MAX_NUMBER_CHARS} characters")
    return value


def _construct_int(text: str) -> int:
    value = _number_text(text)
    sign = -1 if value[0] == "-" else 1
    if value[0] in "+-":
        value = value[1:]
    if value == "0":
        return 0
    if value.startswith("0b"):
        return sign * int(value[2:], 2)
    if value.startswith("0x"):
        return sign * int(value[2:], 16)
    if value[0] == "0":
        return sign * int(value, 8)
    if ":" in value:
        return sign * int(_sexagesimal(value, int))
    return sign * int(value)


def _construct_float(text: str) -> float:
    value = _number_text(text).lower()
    sign = -1 if value[0] == "-" else 1
    if value[0] in "+-":
        value = value[1:]
    if value == ".inf":
        return sign * float("inf")
    if value == ".nan":
        return float("nan")
    if ":" in value:
        return sign * float(_sexagesimal(value, float))
    return sign * float(value)


def resolve_plain(text: str) -> Any:
    """Resolve an untagged plain scalar as PyYAML's SafeLoader does (timestamps stay strings).

    Returns the ``MERGE`` marker for ``<<``. Most scalars start with a letter that no
    implicit type can start with and are returned after one set lookup.
    """
    if not text:
        return None
    first = text[0]
    if first not in SPECIAL_FIRST:
        return text
    if first in _WORD_FIRST:
        word = _WORDS.get(text, _MISSING)
        return text if word is _MISSING else word
    if first == "<":
        return MERGE if text == "<<" else text
    try:
        if _INT.match(text):
            return _construct_int(text)
        if _FLOAT.match(text):
            return _construct_float(text)
    except ValueError:  # e.g. "0b_": PyYAML raises, we keep the text
        return text
    return text


def construct_tagged(tag: str, text: str) -> Any:
    """Value of a scalar with an explicit core tag; ``ValueError`` when it does not fit."""
    if tag == STR_TAG:
        return text
    if tag == CORE + "null":
        return None
    if tag == CORE + "bool":
        try:
            return _BOOL_VALUES[text.lower()]
        except KeyError:
            raise ValueError(text) from None
    if tag == CORE + "int":
        return _construct_int(text)
    return _construct_float(text)


def show_tag(tag: str) -> str:
    return "!!" + tag[len(CORE) :] if tag.startswith(CORE) else tag
