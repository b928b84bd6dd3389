"""Bodies whose JSON parses but cannot become an Event: they must raise ``InvalidPayload``
(HTTP 400), never leak a ``ValueError`` or reach the database (which answered 500 / 422)."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from controller.intake import InvalidPayload, normalize_argocd, normalize_gitea
from controller.intake._payload import decode_json_object

SHA = "ea8759964626a583667a2bfd08f334ec2070040a"
PUSH: dict[str, Any] = {
    "ref": "refs/heads/main",
    "after": SHA,
    "repository": {"full_name": "alice/demo"},
    "sender": {"login": "alice"},
}
SYNC: dict[str, Any] = {"app_name": "user-service", "revision": SHA, "status": "Synced"}


def test_decode_json_object_rejects_an_integer_python_will_not_convert() -> None:
    digits = sys.get_int_max_str_digits() + 1
    body = b'{"number": ' + b"7" * digits + b"}"
    with pytest.raises(InvalidPayload) as caught:
        decode_json_object(body)
    assert str(caught.value) == (
        f"body is not usable JSON: an integer has more than {digits - 1} digits"
    )
    assert caught.value.field == ""


def test_decode_json_object_still_takes_long_integers_below_the_limit() -> None:
    digits = sys.get_int_max_str_digits()
    assert decode_json_object(b'{"n": ' + b"7" * digits + b"}").data["n"] > 0


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        pytest.param(
            "ref", "refs/heads/\ud800", r"contains a lone surrogate \(\\ud800\)", id="high"
        ),
        pytest.param(
            "ref", "refs/heads/\udc80x", r"contains a lone surrogate \(\\udc80\)", id="low"
        ),
        pytest.param(
            "sender.login", "\udfff", r"contains a lone surrogate \(\\udfff\)", id="login"
        ),
        pytest.param(
            "sender.login", "al\x00ice", r"contains a NUL character \(\\u0000\)", id="nul"
        ),
        pytest.param("repository.clone_url", "\x00", r"contains a NUL character", id="nul-only"),
    ],
)
def test_normalize_gitea_rejects_strings_no_database_stores(
    path: str, value: str, message: str
) -> None:
    data = json.loads(json.dumps(PUSH))
    *parents, last = path.split(".")
    inner = data
    for part in parents:
        inner = inner[part]
    inner[last] = value
    body = json.dumps(data).encode()  # ensure_ascii: the JSON escapes \ud800, \u0000
    with pytest.raises(InvalidPayload, match=message) as caught:
        normalize_gitea({"X-Gitea-Event": "push"}, body)
    assert caught.value.field == path


def test_normalize_gitea_keeps_surrogate_pairs_and_control_characters() -> None:
    data = {**PUSH, "ref": "refs/heads/\U0001f680-\x01", "sender": {"login": "\u00e9"}}
    event = normalize_gitea({"X-Gitea-Event": "push"}, json.dumps(data).encode())
    assert event.branch == "\U0001f680-\x01"
    assert event.sender == "\u00e9"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"app_name": "\ud800"}, "app_name", r"contains a lone surrogate \(\\ud800\)"),
        ({"revision": "a\x00"}, "revision", r"contains a NUL character"),
        ({"revision": "", "revisions": ["", "\udcff"]}, "revisions[1]", "lone surrogate"),
        ({"namespace": "\x00"}, "namespace", "contains a NUL character"),
    ],
    ids=["app_name", "revision", "revisions", "namespace"],
)
def test_normalize_argocd_rejects_strings_no_database_stores(
    fields: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(InvalidPayload, match=message) as caught:
        normalize_argocd(json.dumps({**SYNC, **fields}).encode())
    assert caught.value.field == field
