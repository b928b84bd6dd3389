"""The fast validity verdict (jsonschema_rs) agrees with jsonschema and never accepts more."""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from controller.loader import SchemaSet
from controller.loader.schemas import SCHEMA_FILES
from controller.loader.yaml_source import read_yaml
from tests.unit.loader import samples

REPO = Path(__file__).resolve().parents[3]
POOL: tuple[Any, ...] = (
    None, True, False, 0, 1, -1, 1.5, 2.0, 100, 200, 404, 503, 600, "", "x", "10s", "30",
    "GET", "get", "$.id", "/path", "http://x", "Bad Key", "sync", "on", "a" * 300,
    [], [1], ["a", "a"], [1, True], [200, 200.0], {}, {"env": "X"}, {"file": "/x"},
    {"eq": 1}, {"lt": "800ms"}, {"json": "$.a", "exists": True}, {"flow": "f"},
)  # fmt: skip


def _documents() -> list[Any]:
    texts = list(samples.ALL)
    texts += [p.read_text() for p in sorted((REPO / "example-config-repo").rglob("*.yaml"))]
    return [doc.value for text in texts for doc in read_yaml(text).documents]


def _containers(value: Any) -> Iterator[Any]:
    pending = [value]
    while pending:
        current = pending.pop()
        if isinstance(current, dict | list):
            yield current
            pending.extend(current.values() if isinstance(current, dict) else current)


def _mutate(document: Any, rng: random.Random) -> Any:
    mutated = copy.deepcopy(document)
    for _ in range(rng.randint(1, 3)):
        containers = list(_containers(mutated))
        target = rng.choice(containers)
        donor = copy.deepcopy(rng.choice(containers))
        action = rng.randrange(6)
        if isinstance(target, dict) and target:
            key = rng.choice(list(target))
            if action == 0:
                del target[key]
            elif action == 1:
                target[rng.choice(["zzz", "name", "timeout", "on", "flow", key + "s"])] = 1
            elif action == 2:
                target[key] = donor
            else:
                target[key] = copy.deepcopy(rng.choice(POOL))
        elif isinstance(target, list) and target:
            index = rng.randrange(len(target))
            if action == 0:
                del target[index]
            elif action == 1:
                target.append(copy.deepcopy(target[index]))
            elif action == 2:
                target[index] = donor
            else:
                target[index] = copy.deepcopy(rng.choice(POOL))
    return mutated


def test_fast_verdict_agrees_with_jsonschema_on_mutated_documents() -> None:
    schemas = SchemaSet()
    rng = random.Random(20240521)
    documents = _documents()
    verdicts = {True: 0, False: 0}
    for _ in range(1500):
        document = _mutate(rng.choice(documents), rng)
        kind = document.get("kind") if isinstance(document, dict) else None
        if not isinstance(kind, str) or kind not in SCHEMA_FILES:
            continue
        expected = schemas.validator(kind).is_valid(document)
        assert schemas.is_valid(kind, document) == expected, document
        verdicts[expected] += 1
    assert min(verdicts.values()) > 100, verdicts


def test_fast_verdict_accepts_every_valid_document() -> None:
    schemas = SchemaSet()
    for document in _documents():
        assert schemas.is_valid(document["kind"], document)
