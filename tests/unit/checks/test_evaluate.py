from __future__ import annotations

from typing import Any

import pytest

from controller.checks import CheckSpecError, Context, all_passed, evaluate_all, parse_check
from tests.unit.checks.helpers import check, messages, response

ORDER = {
    "id": "ord_8k2j",
    "status": "PENDING",
    "total": {"amount": 42.5, "currency": "EUR"},
    "lines": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}],
    "errors": [{"field": "email"}, {"field": "name"}],
    "note": None,
    "tags": [],
}


def test_status_short_forms_mean_eq_in_and_class() -> None:
    created = response(status=201)
    assert all_passed(check({"status": 201}, created))
    assert all_passed(check({"status": [200, 201]}, created))
    assert all_passed(check({"status": "2xx"}, created))
    assert all_passed(check({"status": {"in": [201, 202], "ne": 200}}, created))
    assert messages(check({"status": "4xx"}, created)) == ["status: expected class 4xx, got 201"]
    assert messages(check({"status": 200}, created)) == ["status: expected eq 200, got 201"]


def test_json_failure_message_names_path_operator_expected_and_actual() -> None:
    results = check({"json": "$.status", "eq": "PAID"}, response(ORDER))
    assert messages(results) == ['json $.status: expected eq "PAID", got "PENDING"']
    (result,) = results
    assert (result.selector, result.operator, result.expected, result.actual) == (
        "json $.status",
        "eq",
        "PAID",
        "PENDING",
    )


def test_every_operator_of_a_check_is_evaluated_and_reported() -> None:
    results = check(
        {"json": "$.total.amount", "type": "string", "gt": 100, "lt": 50}, response(ORDER)
    )
    assert [r.operator for r in results] == ["type", "gt", "lt"]
    assert [r.passed for r in results] == [False, False, True]


def test_singular_json_query_is_a_value_or_absent_and_others_are_lists() -> None:
    observed = response(ORDER)
    assert all_passed(check({"json": "$.lines[0].sku", "eq": "A"}, observed))
    assert all_passed(check({"json": "$.lines[*].sku", "eq": ["A", "B"]}, observed))
    assert all_passed(check({"json": "$.lines[?@.qty > 1].sku", "eq": ["B"]}, observed))
    assert all_passed(check({"json": "$.missing[*]", "eq": []}, observed))
    assert messages(check({"json": "$.missing", "eq": None}, observed)) == [
        "json $.missing: expected eq null, got nothing"
    ]


def test_exists_counts_null_as_present_and_is_the_default_operator() -> None:
    observed = response(ORDER)
    assert all_passed(check({"json": "$.note", "exists": True}, observed))
    assert all_passed(check({"json": "$.gone", "exists": False}, observed))
    assert all_passed(check({"json": "$.note"}, observed))
    assert messages(check({"json": "$.gone"}, observed)) == [
        "json $.gone: expected exists true, got nothing"
    ]
    assert messages(check({"json": "$.id", "exists": False}, observed)) == [
        'json $.id: expected exists false, got "ord_8k2j"'
    ]


@pytest.mark.parametrize(
    ("spec", "passes"),
    [
        ({"json": "$.lines", "contains": {"sku": "B"}}, True),
        ({"json": "$.lines", "contains": {"sku": "C"}}, False),
        ({"json": "$.errors[*].field", "contains": "email"}, True),
        ({"json": "$.total", "contains": {"currency": "EUR"}}, True),
        ({"json": "$.id", "contains": "8k"}, True),
        ({"json": "$.id", "not_contains": "stack"}, True),
        ({"json": "$.total.amount", "contains": 4}, False),
        ({"json": "$.id", "starts_with": "ord_"}, True),
        ({"json": "$.id", "ends_with": "2j"}, True),
        ({"json": "$.id", "matches": "^ord_[0-9a-z]+$"}, True),
        ({"json": "$.id", "not_matches": "^x"}, True),
        ({"json": "$.status", "in": ["PENDING", "PAID"]}, True),
        ({"json": "$.status", "not_in": ["PENDING"]}, False),
        ({"json": "$.total.amount", "gte": 42.5, "lte": 42.5}, True),
        ({"json": "$.total.amount", "type": "number"}, True),
        ({"json": "$.lines[0].qty", "type": "integer"}, True),
        ({"json": "$.tags", "is_empty": True}, True),
        ({"json": "$.lines", "is_empty": False, "length": 2}, True),
        ({"json": "$.lines", "length": {"gt": 0, "lt": 2}}, False),
        ({"json": "$.lines", "each": {"type": "object"}}, True),
        ({"json": "$.lines[*].qty", "each": {"gt": 1}}, False),
        ({"json": "$.tags", "each": {"type": "string"}}, True),
        ({"json": "$.note", "type": "null"}, True),
        ({"json": "$.status", "ne": "PAID"}, True),
    ],
)
def test_operators(spec: dict[str, Any], passes: bool) -> None:
    assert all_passed(check(spec, response(ORDER))) is passes


def test_booleans_are_not_numbers_for_comparisons_and_equality() -> None:
    observed = response({"flag": True, "count": 1})
    assert messages(check({"json": "$.flag", "gt": 0}, observed)) == [
        "json $.flag: expected gt 0, got true (boolean, not a number)"
    ]
    assert not all_passed(check({"json": "$.count", "eq": True}, observed))
    assert all_passed(check({"json": "$.count", "eq": 1.0}, observed))


def test_each_and_length_explain_which_element_failed() -> None:
    observed = response(ORDER)
    assert messages(check({"json": "$.lines[*].qty", "each": {"gt": 1}}, observed)) == [
        'json $.lines[*].qty: expected each {"gt":1}, element [0] fails gt 1: got 1'
    ]
    assert messages(check({"json": "$.lines", "length": {"gt": 5}}, observed)) == [
        'json $.lines: expected length {"gt":5}, got length 2 (got 2)'
    ]


def test_header_is_case_insensitive_and_repeats_are_joined() -> None:
    observed = response(b"", headers=[("Vary", "Accept"), ("vary", "Origin"), ("ETag", '"v1"')])
    assert all_passed(check({"header": "VARY", "eq": "Accept, Origin"}, observed))
    assert all_passed(check({"header": "etag", "eq": '"v1"'}, observed))
    assert messages(check({"header": "location", "exists": True}, observed)) == [
        "header location: expected exists true, got nothing"
    ]


def test_cookie_reads_set_cookie_and_the_last_value_wins() -> None:
    observed = response(
        b"",
        headers=[
            ("Set-Cookie", "SESSION=abc; Path=/; HttpOnly"),
            ("Set-Cookie", "theme=dark"),
            ("set-cookie", 'SESSION="def"; Secure'),
        ],
    )
    assert all_passed(check({"cookie": "SESSION", "eq": "def"}, observed))
    assert all_passed(check({"cookie": "missing", "exists": False}, observed))


def test_body_regex_url_and_duration_selectors() -> None:
    observed = response(b'{"total": 17}', elapsed_ms=912.0, url="http://svc.test/done")
    assert all_passed(check({"body": {"contains": '"total"'}}, observed))
    assert all_passed(check({"body": '{"total": 17}'}, observed))
    assert all_passed(check({"regex": r'"total":\s*(\d+)', "eq": "17"}, observed))
    assert all_passed(check({"regex": r"tot", "eq": "tot"}, observed))
    assert all_passed(check({"regex": r"nothing here", "exists": False}, observed))
    assert all_passed(check({"url": {"ends_with": "/done"}}, observed))
    assert all_passed(check({"duration": {"gt": "900ms", "lt": "1s"}}, observed))
    assert messages(check({"duration": {"lt": "800ms"}}, observed)) == [
        "duration: expected lt 800ms, got 912ms"
    ]


def test_var_selector_reads_the_scope_and_needs_no_response() -> None:
    scope = {"order_id": "ord_1", "services": {"user-service": {"url": "http://u"}}}
    assert all_passed(check({"var": "order_id", "exists": True}, None, scope))
    assert all_passed(check({"var": "services.user-service.url", "eq": "http://u"}, None, scope))
    assert all_passed(check({"var": "user_id", "exists": False}, None, scope))
    assert messages(check({"status": 200}, None, scope)) == [
        "status: status needs a response; before the request only var works"
    ]


def test_json_selector_on_a_body_that_is_not_json_or_was_cut_fails_with_the_reason() -> None:
    html = response(b"<html>oops</html>", headers=[("Content-Type", "text/html")])
    (message,) = messages(check({"json": "$.id", "exists": True}, html))
    assert message.startswith("json $.id: the body is not JSON (Expecting value at line 1")
    cut = response(b'{"id": "abc", "pad": "xxxx', complete=False)
    (message,) = messages(check({"json": "$.id", "eq": "abc"}, cut))
    assert "was cut at 26 bytes, so it cannot be read as JSON" in message


def test_invalid_operands_are_reported_as_an_invalid_check_not_a_crash() -> None:
    observed = response(ORDER)
    assert messages(check({"json": "$.id", "matches": "("}, observed))[0].startswith(
        "json $.id: the check is invalid: matches invalid regex '('"
    )
    assert messages(check({"json": "$.lines", "gt": "many"}, observed)) == [
        "json $.lines: the check is invalid: gt needs a number to compare with, not string"
    ]
    assert messages(check({"json": "$[", "exists": True}, observed))[0].startswith(
        "json $[: invalid JSONPath '$['"
    )


def test_schema_operator_validates_inline_and_from_config_files() -> None:
    user = {"type": "object", "required": ["id", "email"], "properties": {"id": {"type": "string"}}}
    files = Context(load_schema={"json-schemas/user.json": user}.__getitem__)
    good = response({"id": "u1", "email": "a@b"})
    bad = response({"id": 7})
    assert all_passed(check({"json": "$", "schema": user}, good))
    assert all_passed(
        check({"json": "$", "schema": {"$ref": "json-schemas/user.json"}}, good, ctx=files)
    )
    (message,) = messages(
        check({"json": "$", "schema": {"$ref": "json-schemas/user.json"}}, bad, ctx=files)
    )
    assert message == (
        "json $: expected to match the schema, got 2 violation(s): "
        "/: 'email' is a required property; /id: 7 is not of type 'string'"
    )
    (message,) = messages(check({"json": "$", "schema": {"$ref": "missing.json"}}, good, ctx=files))
    assert "refers to 'missing.json', which cannot be loaded" in message


def test_parse_check_refuses_zero_or_two_selectors_and_misplaced_operators() -> None:
    with pytest.raises(CheckSpecError, match="exactly one selector"):
        parse_check({"eq": 1})
    with pytest.raises(CheckSpecError, match="found status, json"):
        parse_check({"status": 200, "json": "$.a"})
    with pytest.raises(CheckSpecError, match="takes its operators as its value"):
        parse_check({"status": 200, "eq": 200})


def test_evaluate_all_reports_every_check_in_order() -> None:
    results = evaluate_all(
        [{"status": 200}, {"json": "$.status", "eq": "PAID"}, {"json": "$.id", "type": "string"}],
        response(ORDER, status=500),
        {},
        Context(load_schema=lambda path: {}),
    )
    assert [(r.selector, r.passed) for r in results] == [
        ("status", False),
        ("json $.status", False),
        ("json $.id", True),
    ]
