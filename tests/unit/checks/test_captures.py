from __future__ import annotations

import pytest

from controller.checks import CaptureError, capture, capture_all
from tests.unit.checks.helpers import response


def test_captures_keep_json_types_and_take_whole_values() -> None:
    observed = response(
        {"id": "ord_1", "total": {"amount": 42.5}, "lines": [1, 2]},
        status=201,
        headers=[("ETag", '"v1"'), ("Set-Cookie", "SESSION=s1; Path=/")],
    )
    taken = capture_all(
        {
            "order_id": {"json": "$.id"},
            "amount": {"json": "$.total.amount"},
            "lines": {"json": "$.lines"},
            "etag": {"header": "etag"},
            "session": {"cookie": "SESSION", "secret": True},
            "code": {"regex": r'"id": "(\w+)"'},
            "status": {"status": True},
            "url": {"url": True},
        },
        observed,
    )
    assert {c.name: c.value for c in taken} == {
        "order_id": "ord_1",
        "amount": 42.5,
        "lines": [1, 2],
        "etag": '"v1"',
        "session": "s1",
        "code": "ord_1",
        "status": 201,
        "url": "http://user-service.test/api/users",
    }
    assert [c.name for c in taken if c.secret] == ["session"]


def test_a_capture_that_finds_nothing_fails_unless_it_has_a_default() -> None:
    observed = response({"id": "ord_1"})
    with pytest.raises(CaptureError, match=r"capture 'note' \(json \$.note\) found nothing"):
        capture("note", {"json": "$.note"}, observed)
    taken = capture("note", {"json": "$.note", "default": None}, observed)
    assert (taken.value, taken.defaulted) == (None, True)


def test_a_capture_from_a_body_that_is_not_json_says_why() -> None:
    with pytest.raises(CaptureError, match=r"capture 'id' \(json \$.id\): the body is not JSON"):
        capture("id", {"json": "$.id"}, response(b"not json"))


def test_a_capture_needs_exactly_one_selector() -> None:
    with pytest.raises(CaptureError, match="needs exactly one of"):
        capture("x", {"json": "$.a", "header": "b"}, response({}))
