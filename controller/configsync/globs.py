"""Can two glob patterns match a common string? (For status-context collision checks.)

Patterns use ``fnmatch`` syntax. Character classes (``[...]``) are treated as "any one
character", which can only over-report an overlap: the check stays conservative, so a
reported collision is possible in principle even if unlikely, and a real one is never missed.
"""

from __future__ import annotations

from functools import lru_cache

_ANY = ""


def _tokens(pattern: str) -> tuple[str, ...]:
    tokens: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "[":
            end = pattern.find("]", i + 2)
            if end != -1:
                tokens.append("?")
                i = end + 1
                continue
        tokens.append(char)
        i += 1
    return tuple(tokens)


@lru_cache(maxsize=4096)
def globs_overlap(first: str, second: str) -> bool:
    """True when some string matches both patterns (``""`` counts as ``*``)."""
    a = _tokens(first or "*")
    b = _tokens(second or "*")
    seen: set[tuple[int, int]] = set()
    pending = [(0, 0)]
    while pending:
        state = pending.pop()
        if state in seen:
            continue
        seen.add(state)
        i, j = state
        if i == len(a) and j == len(b):
            return True
        if i < len(a) and a[i] == "*":
            pending.append((i + 1, j))
        if j < len(b) and b[j] == "*":
            pending.append((i, j + 1))
        for accepts_a, next_i in _moves(a, i):
            for accepts_b, next_j in _moves(b, j):
                if accepts_a in (_ANY, accepts_b) or accepts_b == _ANY:
                    pending.append((next_i, next_j))
    return False


def _moves(tokens: tuple[str, ...], index: int) -> tuple[tuple[str, int], ...]:
    """One-character steps from ``index``: (character accepted or ``_ANY``, next index)."""
    if index >= len(tokens):
        return ()
    token = tokens[index]
    if token == "*":
        return ((_ANY, index),)
    if token == "?":
        return ((_ANY, index + 1),)
    return ((token, index + 1),)
