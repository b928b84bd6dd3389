from __future__ import annotations

from typing import Any

from controller.flows.compiled import CompiledFlows


def test_checks_without_templates_are_parsed_once_and_reused() -> None:
    compiled = CompiledFlows()
    checks: list[dict[str, Any]] = [{"status": 200}, {"json": "$.id", "type": "string"}]
    first = compiled.static_checks(checks)
    assert first is not None
    assert [(spec.selector, spec.operators) for spec in first] == [
        ("status", (("eq", 200),)),
        ("json", (("type", "string"),)),
    ]
    assert compiled.static_checks(checks) is first


def test_checks_with_a_template_are_left_to_be_rendered() -> None:
    assert CompiledFlows().static_checks([{"json": "$.id", "eq": "${user_id}"}]) is None


def test_an_equal_list_that_is_another_object_is_compiled_on_its_own_and_old_entries_fall_out() -> (
    None
):
    compiled = CompiledFlows(max_entries=2)
    lists = [[{"status": code}] for code in (200, 201, 202)]
    specs = [compiled.static_checks(checks) for checks in lists]
    assert [s[0].operators for s in specs if s] == [(("eq", 200),), (("eq", 201),), (("eq", 202),)]
    assert len(compiled._checks) == 2
    again = compiled.static_checks(lists[0])
    assert again is not specs[0]
    assert again == specs[0]
