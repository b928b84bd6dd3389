from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from controller.intake.auth import (
    BASIC_MISMATCH,
    BEARER_MISMATCH,
    MALFORMED_AUTHORIZATION,
    MALFORMED_BASIC,
    MALFORMED_SIGNATURE,
    MISSING_AUTHORIZATION,
    MISSING_SIGNATURE,
    NO_TOKEN,
    NO_WEBHOOK_SECRET,
    SIGNATURE_MISMATCH,
    UNSIGNED,
    UNSUPPORTED_SCHEME,
    describe_bearer_failure,
    describe_gitea_failure,
    form_payload,
    gitea_signed_bytes,
    matching_secret_index,
    matching_token_index,
    verify_bearer,
    verify_gitea_signature,
)
from controller.settings import Secret

SHARED = Path(__file__).resolve().parents[3].parent / "shared"
ASSEMBLED = SHARED / "fixtures" / "gitea" / "assembled"
HEADER_FILES = sorted(ASSEMBLED.glob("*.headers.json"))

FIXTURE_SECRET = "gitea-fixture-secret"
BODY = b'{\n  "ref": "refs/heads/main"\n}'


def sign(body: bytes, secret: str = FIXTURE_SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def load(headers_file: Path) -> tuple[bytes, dict[str, str], str]:
    meta: dict[str, Any] = json.loads(headers_file.read_text())
    body = (headers_file.parent / meta["body_file"]).read_bytes()
    return body, dict(meta["headers"]), meta["secret"]


def test_fixtures_are_present() -> None:
    assert len(HEADER_FILES) >= 5


# --- Gitea: fixtures --------------------------------------------------------------------


@pytest.mark.parametrize("headers_file", HEADER_FILES, ids=lambda p: p.name)
def test_fixture_verifies(headers_file: Path) -> None:
    body, headers, secret = load(headers_file)
    assert secret == FIXTURE_SECRET
    assert verify_gitea_signature(body, headers, [Secret(secret)])
    assert matching_secret_index(body, headers, [Secret(secret)]) == 0
    assert describe_gitea_failure(body, headers, [Secret(secret)]) is None


@pytest.mark.parametrize("headers_file", HEADER_FILES, ids=lambda p: p.name)
def test_fixture_each_signature_header_alone_verifies(headers_file: Path) -> None:
    body, headers, secret = load(headers_file)
    for keep in ("X-Gitea-Signature", "X-Hub-Signature-256"):
        only = {k: v for k, v in headers.items() if "signature" not in k.lower() or k == keep}
        assert verify_gitea_signature(body, only, [Secret(secret)]), keep


@pytest.mark.parametrize("headers_file", HEADER_FILES, ids=lambda p: p.name)
def test_fixture_reserialized_body_fails(headers_file: Path) -> None:
    body, headers, secret = load(headers_file)
    for variant in (
        json.dumps(json.loads(body)).encode(),
        json.dumps(json.loads(body), indent=2).encode() + b"\n",
    ):
        assert variant != body
        assert not verify_gitea_signature(variant, headers, [Secret(secret)])


@pytest.mark.parametrize("headers_file", HEADER_FILES, ids=lambda p: p.name)
def test_fixture_one_changed_byte_fails(headers_file: Path) -> None:
    body, headers, secret = load(headers_file)
    for position in (0, len(body) // 2, len(body) - 1):
        changed = bytearray(body)
        changed[position] ^= 0x01
        assert not verify_gitea_signature(bytes(changed), headers, [Secret(secret)])
        assert describe_gitea_failure(bytes(changed), headers, [Secret(secret)]) == (
            SIGNATURE_MISMATCH
        )


@pytest.mark.parametrize("headers_file", HEADER_FILES, ids=lambda p: p.name)
def test_fixture_wrong_secret_fails(headers_file: Path) -> None:
    body, headers, _ = load(headers_file)
    assert not verify_gitea_signature(body, headers, [Secret("other-secret")])
    assert matching_secret_index(body, headers, [Secret("other-secret")]) is None


@pytest.mark.parametrize("headers_file", HEADER_FILES, ids=lambda p: p.name)
def test_fixture_rotation_second_secret_matches(headers_file: Path) -> None:
    body, headers, secret = load(headers_file)
    secrets = [Secret("old-secret"), Secret(secret)]
    assert verify_gitea_signature(body, headers, secrets)
    assert matching_secret_index(body, headers, secrets) == 1


@pytest.mark.parametrize("headers_file", HEADER_FILES, ids=lambda p: p.name)
def test_fixture_form_delivery_verifies_against_payload_field(headers_file: Path) -> None:
    body, headers, secret = load(headers_file)
    form_body = urlencode({"payload": body.decode()}).encode()
    form_headers = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
    assert not verify_gitea_signature(form_body, form_headers, [Secret(secret)])
    assert form_payload(form_body) == body
    signed = gitea_signed_bytes(form_body, form_headers)
    assert signed == body
    assert verify_gitea_signature(signed, form_headers, [Secret(secret)])


# --- Gitea: headers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "X-Gitea-Signature",
        "x-gitea-signature",
        "X-GITEA-SIGNATURE",
        "x-Gitea-signaTure",
    ],
)
def test_gitea_header_name_any_casing(name: str) -> None:
    assert verify_gitea_signature(BODY, {name: sign(BODY)}, [Secret(FIXTURE_SECRET)])


@pytest.mark.parametrize(
    "name", ["X-Hub-Signature-256", "x-hub-signature-256", "X-HUB-SIGNATURE-256"]
)
def test_hub_header_name_any_casing(name: str) -> None:
    headers = {name: "sha256=" + sign(BODY)}
    assert verify_gitea_signature(BODY, headers, [Secret(FIXTURE_SECRET)])


def test_uppercase_hex_is_accepted() -> None:
    headers = {"X-Gitea-Signature": sign(BODY).upper()}
    assert verify_gitea_signature(BODY, headers, [Secret(FIXTURE_SECRET)])


def test_conflicting_duplicate_header_casings_are_malformed() -> None:
    headers = {"X-Gitea-Signature": sign(BODY), "x-gitea-signature": "0" * 64}
    assert not verify_gitea_signature(BODY, headers, [Secret(FIXTURE_SECRET)])
    same = {"X-Gitea-Signature": sign(BODY), "x-gitea-signature": sign(BODY)}
    assert verify_gitea_signature(BODY, same, [Secret(FIXTURE_SECRET)])


def test_starlette_style_headers_mapping() -> None:
    from starlette.datastructures import Headers

    headers = Headers(raw=[(b"x-gitea-signature", sign(BODY).encode())])
    assert verify_gitea_signature(BODY, headers, [Secret(FIXTURE_SECRET)])


GOOD = sign(BODY)
MALFORMED_GITEA = [
    "",
    "sha256=" + GOOD,
    GOOD[:-1],
    GOOD + "0",
    GOOD[:-1] + "g",
    "é" * 64,
    "\u0660" * 64,  # ARABIC-INDIC DIGIT ZERO: a Unicode digit, not hex
    " " + GOOD,
    GOOD + " ",
    GOOD + "\n",
    GOOD[:32] + " " + GOOD[32:],
    "\x00" * 64,
]
MALFORMED_HUB = [
    "",
    "sha256=",
    "sha1=" + GOOD,
    "SHA256=" + GOOD,
    GOOD,
    "sha256=" + GOOD[:-2],
    "sha256=" + GOOD + "00",
    "sha256=" + "z" * 64,
    "sha256=" + "é" * 64,
    " sha256=" + GOOD,
    "sha256=" + GOOD + " ",
    "sha256= " + GOOD,
    "sha256=" + GOOD[:10] + " " + GOOD[10:],
]


@pytest.mark.parametrize("value", MALFORMED_GITEA)
def test_malformed_gitea_header_is_false(value: str) -> None:
    headers = {"X-Gitea-Signature": value}
    assert not verify_gitea_signature(BODY, headers, [Secret(FIXTURE_SECRET)])
    reason = describe_gitea_failure(BODY, headers, [Secret(FIXTURE_SECRET)])
    assert reason in (UNSIGNED, MALFORMED_SIGNATURE)


@pytest.mark.parametrize("value", MALFORMED_HUB)
def test_malformed_hub_header_is_false(value: str) -> None:
    headers = {"X-Hub-Signature-256": value}
    assert not verify_gitea_signature(BODY, headers, [Secret(FIXTURE_SECRET)])
    reason = describe_gitea_failure(BODY, headers, [Secret(FIXTURE_SECRET)])
    assert reason in (UNSIGNED, MALFORMED_SIGNATURE)


def test_missing_signature_header() -> None:
    headers = {"X-Hub-Signature": "sha1=" + "0" * 40, "Content-Type": "application/json"}
    assert not verify_gitea_signature(BODY, headers, [Secret(FIXTURE_SECRET)])
    assert describe_gitea_failure(BODY, headers, [Secret(FIXTURE_SECRET)]) == MISSING_SIGNATURE
    assert describe_gitea_failure(BODY, {}, [Secret(FIXTURE_SECRET)]) == MISSING_SIGNATURE


def test_unsigned_delivery_as_gitea_sends_it() -> None:
    headers = {
        "X-Gitea-Signature": "",
        "X-Hub-Signature-256": "sha256=",
        "X-Hub-Signature": "sha1=",
    }
    assert not verify_gitea_signature(BODY, headers, [Secret(FIXTURE_SECRET)])
    assert describe_gitea_failure(BODY, headers, [Secret(FIXTURE_SECRET)]) == UNSIGNED


def test_one_malformed_and_one_good_header_verifies() -> None:
    headers = {"X-Gitea-Signature": "garbage", "X-Hub-Signature-256": "sha256=" + GOOD}
    assert verify_gitea_signature(BODY, headers, [Secret(FIXTURE_SECRET)])


def test_no_secrets_or_empty_secret_never_verifies() -> None:
    empty_sig = hmac.new(b"", BODY, hashlib.sha256).hexdigest()
    headers = {"X-Gitea-Signature": empty_sig}
    assert not verify_gitea_signature(BODY, headers, [])
    assert not verify_gitea_signature(BODY, headers, [Secret("")])
    assert describe_gitea_failure(BODY, headers, []) == NO_WEBHOOK_SECRET
    assert describe_gitea_failure(BODY, headers, [Secret("")]) == NO_WEBHOOK_SECRET


def test_empty_secret_is_skipped_but_keeps_indexes() -> None:
    headers = {"X-Gitea-Signature": GOOD}
    assert matching_secret_index(BODY, headers, [Secret(""), Secret(FIXTURE_SECRET)]) == 1


def test_secret_keyed_with_raw_utf8_bytes() -> None:
    secret = "clé-secrète"
    headers = {"X-Gitea-Signature": sign(BODY, secret)}
    assert verify_gitea_signature(BODY, headers, [Secret(secret)])


def test_undecodable_environment_secret_uses_original_bytes() -> None:
    # os.environ decodes undecodable bytes with surrogateescape.
    raw = b"key-\xff"
    secret = Secret(raw.decode("utf-8", "surrogateescape"))
    headers = {"X-Gitea-Signature": hmac.new(raw, BODY, hashlib.sha256).hexdigest()}
    assert verify_gitea_signature(BODY, headers, [secret])
    assert not verify_gitea_signature(BODY, headers, [Secret("\ud800")])


def test_body_none_never_verifies() -> None:
    headers = {"X-Gitea-Signature": GOOD}
    assert not verify_gitea_signature(None, headers, [Secret(FIXTURE_SECRET)])
    assert describe_gitea_failure(None, headers, [Secret(FIXTURE_SECRET)]) == SIGNATURE_MISMATCH


def test_failure_reasons_never_contain_secrets() -> None:
    secret = "very-secret-value"
    provided = sign(BODY, "another-secret")
    expected = sign(BODY, secret)
    cases: list[dict[str, str]] = [
        {},
        {"X-Gitea-Signature": provided},
        {"X-Gitea-Signature": "x" + secret},
        {"X-Hub-Signature-256": "sha256=" + provided},
    ]
    for headers in cases:
        reason = describe_gitea_failure(BODY, headers, [Secret(secret)])
        assert reason is not None
        for forbidden in (secret, provided, expected):
            assert forbidden not in reason


# --- form bodies ----------------------------------------------------------------------------


def test_form_payload_decodes_plus_and_percent() -> None:
    payload = '{"a": "b c+d&é"}'
    body = urlencode({"payload": payload}).encode()
    assert b"+" in body
    assert form_payload(body) == payload.encode()


@pytest.mark.parametrize(
    "body",
    [b"", b"other=1", b"payload=1&payload=2", "payload=é".encode()],
)
def test_form_payload_missing_duplicate_or_non_ascii(body: bytes) -> None:
    assert form_payload(body) is None


def test_gitea_signed_bytes_json_is_body_itself() -> None:
    assert gitea_signed_bytes(BODY, {"content-type": "application/json"}) is BODY
    assert gitea_signed_bytes(BODY, {}) is BODY


def test_gitea_signed_bytes_form_with_charset_parameter() -> None:
    body = urlencode({"payload": BODY.decode()}).encode()
    headers = {"CONTENT-TYPE": "Application/X-WWW-Form-Urlencoded; charset=utf-8"}
    assert gitea_signed_bytes(body, headers) == BODY
    assert gitea_signed_bytes(b"nothing=here", headers) is None


# --- Bearer / Basic -------------------------------------------------------------------------

TOKEN = "tok-0123456789abcdef"
ROTATED = "tok-fedcba9876543210"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    "value",
    [
        f"Bearer {TOKEN}",
        f"bearer {TOKEN}",
        f"BEARER {TOKEN}",
        basic("argocd", TOKEN),
        basic(TOKEN, ""),
        f"basic {base64.b64encode(f'x:{TOKEN}'.encode()).decode()}",
    ],
)
def test_bearer_accepts_right_token(value: str) -> None:
    assert verify_bearer({"Authorization": value}, [Secret(TOKEN)])
    assert describe_bearer_failure({"authorization": value}, [Secret(TOKEN)]) is None


def test_bearer_header_name_any_casing() -> None:
    for name in ("authorization", "AUTHORIZATION", "AuThOrIzAtIoN"):
        assert verify_bearer({name: f"Bearer {TOKEN}"}, [Secret(TOKEN)])


def test_bearer_rotation_second_token() -> None:
    tokens = [Secret(TOKEN), Secret(ROTATED)]
    assert matching_token_index({"Authorization": f"Bearer {ROTATED}"}, tokens) == 1
    assert matching_token_index({"Authorization": f"Bearer {TOKEN}"}, tokens) == 0
    assert verify_bearer({"Authorization": basic("u", ROTATED)}, tokens)


@pytest.mark.parametrize(
    "value",
    [
        "Bearer wrong",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        basic(TOKEN, "wrong"),  # the password wins over the user name when it is set
        basic("", ""),
    ],
)
def test_bearer_rejects_wrong_token(value: str) -> None:
    assert not verify_bearer({"Authorization": value}, [Secret(TOKEN)])
    assert describe_bearer_failure({"Authorization": value}, [Secret(TOKEN)]) in (
        BEARER_MISMATCH,
        BASIC_MISMATCH,
    )


def test_bearer_missing_header() -> None:
    assert not verify_bearer({}, [Secret(TOKEN)])
    assert not verify_bearer({"X-Token": TOKEN}, [Secret(TOKEN)])
    assert describe_bearer_failure({}, [Secret(TOKEN)]) == MISSING_AUTHORIZATION


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", MALFORMED_AUTHORIZATION),
        (TOKEN, MALFORMED_AUTHORIZATION),
        ("Bearer", MALFORMED_AUTHORIZATION),
        ("Bearer ", MALFORMED_AUTHORIZATION),
        (f"Bearer  {TOKEN}", MALFORMED_AUTHORIZATION),
        (f" Bearer {TOKEN}", MALFORMED_AUTHORIZATION),
        (f"Bearer {TOKEN} ", MALFORMED_AUTHORIZATION),
        (f"Bearer {TOKEN} extra", MALFORMED_AUTHORIZATION),
        (f"Bearer {TOKEN}é", MALFORMED_AUTHORIZATION),
        ("Bearer " + "é" * 20, MALFORMED_AUTHORIZATION),
        (f"Bearer {TOKEN}\x00", MALFORMED_AUTHORIZATION),
        (f"Token {TOKEN}", UNSUPPORTED_SCHEME),
        (f"Digest {TOKEN}", UNSUPPORTED_SCHEME),
        ("Basic !!!notbase64", MALFORMED_BASIC),
        ("Basic " + base64.b64encode(TOKEN.encode()).decode(), MALFORMED_BASIC),  # no colon
        ("Basic " + base64.b64encode(b"u:" + TOKEN.encode())[:-1].decode(), MALFORMED_BASIC),
        ("Basic " + base64.b64encode(b"u:\xff\xfe").decode(), MALFORMED_BASIC),
        ("Basic é", MALFORMED_AUTHORIZATION),
    ],
)
def test_bearer_malformed_is_false_without_exception(value: str, reason: str) -> None:
    assert not verify_bearer({"Authorization": value}, [Secret(TOKEN)])
    assert describe_bearer_failure({"Authorization": value}, [Secret(TOKEN)]) == reason


def test_bearer_non_ascii_token_configured_does_not_raise() -> None:
    assert not verify_bearer({"Authorization": "Bearer abc"}, [Secret("jeton-é")])
    assert verify_bearer({"Authorization": basic("u", "jeton-é")}, [Secret("jeton-é")])


def test_bearer_no_tokens_or_empty_token_never_verifies() -> None:
    assert not verify_bearer({"Authorization": "Bearer x"}, [])
    assert not verify_bearer({"Authorization": basic("", "")}, [Secret("")])
    assert describe_bearer_failure({"Authorization": "Bearer x"}, []) == NO_TOKEN
    assert describe_bearer_failure({"Authorization": "Bearer x"}, [Secret("")]) == NO_TOKEN


def test_bearer_conflicting_duplicate_headers_are_malformed() -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "authorization": "Bearer other"}
    assert not verify_bearer(headers, [Secret(TOKEN)])


def test_bearer_reasons_never_contain_tokens() -> None:
    values = [
        "Bearer provided-token-value",
        "provided-token-value",
        "Custom provided-token-value",
        basic("provided-token-value", ""),
        basic("user", "provided-token-value"),
    ]
    for value in values:
        reason = describe_bearer_failure({"Authorization": value}, [Secret(TOKEN)])
        assert reason is not None
        assert "provided-token-value" not in reason
        assert TOKEN not in reason
