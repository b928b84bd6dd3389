"""Semantic validation beyond JSON Schema (DESIGN.md §2.4); the CLI and the server share it."""

from __future__ import annotations

from collections.abc import Sequence

from controller.configsync.document_checks import check_document
from controller.configsync.reference_checks import build_index, check_references
from controller.configsync.status_contexts import check_status_contexts
from controller.models.documents import ConfigDocument
from controller.models.problems import Problem


class ConfigValidator:
    """Validates a whole revision. Per-document results are memoized by document identity
    for the documents of the previous call only, so memory stays bounded."""

    def __init__(self) -> None:
        self._memo: dict[int, tuple[ConfigDocument, tuple[Problem, ...]]] = {}

    def validate(self, documents: Sequence[ConfigDocument]) -> tuple[Problem, ...]:
        problems: list[Problem] = []
        memo: dict[int, tuple[ConfigDocument, tuple[Problem, ...]]] = {}
        for doc in documents:
            entry = self._memo.get(id(doc))
            if entry is None or entry[0] is not doc:
                entry = (doc, tuple(check_document(doc)))
            memo[id(doc)] = entry
            problems.extend(entry[1])
        self._memo = memo
        index, duplicates = build_index(documents)
        problems.extend(duplicates)
        problems.extend(check_references(index))
        problems.extend(check_status_contexts(index))
        return tuple(sorted(problems, key=Problem.sort_key))
