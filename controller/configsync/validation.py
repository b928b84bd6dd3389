"""Semantic validation beyond JSON Schema (DESIGN.md §2.4); the CLI and the server share it.

Re-validation is incremental. Documents are compared by identity with the previous call (the
loader returns the same objects for unchanged files): per-document checks run only for new
documents, and the cross-document pass runs only when the "cross facts" of the changed
documents differ, or when the previous revision had cross-document problems (their positions
may have moved). Everything else is reused, so a one-file edit costs time in proportion to
the edit, plus two set operations over document ids.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from controller.configsync.cross_facts import cross_facts
from controller.configsync.document_checks import check_document
from controller.configsync.reference_checks import build_index, check_references
from controller.configsync.status_contexts import check_status_contexts
from controller.models.documents import ConfigDocument
from controller.models.problems import Problem


@dataclass(frozen=True, slots=True)
class _Checked:
    document: ConfigDocument  # held so that its id() cannot be reused while memoized
    problems: tuple[Problem, ...]
    facts: Hashable


class ConfigValidator:
    """Validates whole revisions; not thread-safe (``ConfigSync`` serializes its calls)."""

    def __init__(self) -> None:
        self._checked: dict[int, _Checked] = {}
        self._with_problems: dict[int, tuple[Problem, ...]] = {}
        self._cross: tuple[Problem, ...] | None = None

    def validate(self, documents: Sequence[ConfigDocument]) -> tuple[Problem, ...]:
        current = {id(doc): doc for doc in documents}
        removed = [self._checked.pop(key) for key in self._checked.keys() - current.keys()]
        added = []
        for key in current.keys() - self._checked.keys():
            doc = current[key]
            checked = _Checked(doc, tuple(check_document(doc)), cross_facts(doc))
            self._checked[key] = checked
            added.append(checked)
        for gone in removed:
            self._with_problems.pop(id(gone.document), None)
        for new in added:
            if new.problems:
                self._with_problems[id(new.document)] = new.problems
        if self._cross is None or self._cross or _facts(added) != _facts(removed):
            self._cross = _cross_document_problems(documents)
        problems = [p for found in self._with_problems.values() for p in found]
        return tuple(sorted((*problems, *self._cross), key=Problem.sort_key))


def _facts(checked: list[_Checked]) -> Counter[Hashable]:
    return Counter(item.facts for item in checked)


def _cross_document_problems(documents: Sequence[ConfigDocument]) -> tuple[Problem, ...]:
    index, duplicates = build_index(documents)
    return (*duplicates, *check_references(index), *check_status_contexts(index))
