from __future__ import annotations

import json
from typing import Any

import jsonpath_rfc9535
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.checks.jsonpath import select
from controller.checks.values import ABSENT

NAMES = st.sampled_from(["a", "b", "items", "0", "x y", "é"])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(NAMES, inner, max_size=4),
    max_leaves=20,
)
STEP = st.one_of(
    NAMES.map(lambda name: f"[{json.dumps(name)}]"), st.integers(-4, 4).map(lambda i: f"[{i}]")
)


@settings(max_examples=400)
@given(document=JSON, steps=st.lists(STEP, max_size=4))
def test_singular_queries_walked_directly_agree_with_the_library(
    document: Any, steps: list[str]
) -> None:
    path = "$" + "".join(steps)
    expected = jsonpath_rfc9535.compile(path).find(document).values()
    found = select(path, document)
    assert (found is ABSENT and expected == []) or [found] == expected


def test_non_singular_queries_always_give_a_list() -> None:
    document = {"items": [{"id": 1}, {"id": 2}]}
    assert select("$.items[*].id", document) == [1, 2]
    assert select("$.items[?@.id > 1].id", document) == [2]
    assert select("$.nothing[*]", document) == []
    assert select("$.items[-1].id", document) == 2
    assert select("$.items[5].id", document) is ABSENT
