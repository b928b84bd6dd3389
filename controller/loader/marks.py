"""Where the nodes of a document are: a compact mark tree and its ``Locator``.

The tree mirrors the value tree and costs about one small object per node:

* a scalar's mark is its packed position (``line << 32 | column``, both 0-based);
* a mapping's mark is ``(position, value_marks, key_positions)``, two dicts keyed like the
  mapping itself;
* a sequence's mark is ``(position, item_marks)``.
"""

from __future__ import annotations

from typing import Any, Final

from controller.models.documents import PathParts

SHIFT: Final = 32
_COLUMN_MASK: Final = (1 << SHIFT) - 1


def position(packed: int) -> tuple[int, int]:
    """1-based (line, column) of a packed position."""
    return (packed >> SHIFT) + 1, (packed & _COLUMN_MASK) + 1


class MarkLocator:
    """``Locator`` over one document's mark tree."""

    __slots__ = ("_root",)

    def __init__(self, root: Any) -> None:
        self._root = root

    def _walk(self, parts: PathParts) -> tuple[Any, int | None]:
        """Deepest existing mark along ``parts``; its key's position if it is a mapping value."""
        mark = self._root
        key_position: int | None = None
        for part in parts:
            if type(mark) is not tuple:
                break
            children = mark[1]
            if len(mark) == 3:
                child = children.get(part) if isinstance(part, str) else None
                if child is None:
                    break
                key_position = mark[2][part]
            else:
                if not isinstance(part, int) or not 0 <= part < len(children):
                    break
                child = children[part]
                key_position = None
            mark = child
        return mark, key_position

    def locate(self, parts: PathParts) -> tuple[int, int]:
        mark, _ = self._walk(parts)
        return position(mark if type(mark) is int else mark[0])

    def locate_key(self, parts: PathParts) -> tuple[int, int]:
        """Like ``locate``, but a mapping entry is located at its key, not at its value."""
        mark, key_position = self._walk(parts)
        if key_position is not None:
            return position(key_position)
        return position(mark if type(mark) is int else mark[0])
