"""``meshgate run`` against the loopback shop stand-ins, as a developer runs it."""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from controller.cli import main
from tests.support.config import EXAMPLE
from tests.support.shop import ShopState, running_shop

pytestmark = pytest.mark.anyio
API_KEY = "shop-api-key-for-tests-0123456789"


def route_args(routes: dict[str, str]) -> list[str]:
    return [arg for service, url in routes.items() for arg in ("--route", f"{service}={url}")]


async def test_run_passes_shows_progress_and_writes_junit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junit = tmp_path / "report.xml"
    async with running_shop(ShopState()) as routes:
        code = await asyncio.to_thread(
            main,
            [
                "run",
                "checkout-smoke",
                "--config",
                str(EXAMPLE),
                *route_args(routes),
                "--junit",
                str(junit),
            ],
        )
    out = capsys.readouterr().out
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].startswith(
        "meshgate run checkout-smoke (workspace shop, environment staging, run local-"
    )
    assert "  ok    [place-order] order is confirmed (200, " in out
    assert "3 attempts)" in out
    assert "  ok    flow place-order passed in " in out
    assert lines[-2].startswith(
        "suite checkout-smoke: passed (3 passed, 0 failed, 0 error, 0 skipped; 3 flow runs)"
    )
    assert lines[-1] == f"wrote {junit}"
    root = ET.parse(junit).getroot()
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("14", "0", "0")


async def test_run_exits_one_and_names_the_failing_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result_file = tmp_path / "result.json"
    async with running_shop(ShopState(polls_until_final=0, final_status="REJECTED")) as routes:
        code = await asyncio.to_thread(
            main,
            [
                "run",
                "checkout-smoke",
                "--config",
                str(EXAMPLE),
                *route_args(routes),
                "--json",
                str(result_file),
            ],
        )
    out = capsys.readouterr().out
    assert code == 1
    assert (
        '  FAIL  [place-order] order is confirmed: json $.status: expected eq "CONFIRMED", '
        'got "REJECTED"'
    ) in out
    result = json.loads(result_file.read_text())
    assert result["status"] == "failed"
    assert result["counts"] == {"passed": 2, "failed": 1, "error": 0, "skipped": 0}


async def test_run_the_contract_suite_with_its_secret_and_never_print_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOP_API_KEY", API_KEY)
    result_file = tmp_path / "result.json"
    state = ShopState(api_key=API_KEY)
    async with running_shop(state) as routes:
        code = await asyncio.to_thread(
            main,
            [
                "run",
                "user-service-contract",
                "--config",
                str(EXAMPLE),
                "--route",
                f"user-service={routes['user-service']}",
                "--json",
                str(result_file),
            ],
        )
    out = capsys.readouterr().out
    assert code == 0, out
    flows = json.loads(result_file.read_text())["flows"]
    assert [(f["label"], f["status"]) for f in flows] == [
        ("user-validation[missing-email]", "passed"),
        ("user-validation[malformed-email]", "passed"),
        ("user-validation[empty-name]", "passed"),
        ("users-api", "passed"),
        ("user-auth", "passed"),
    ]
    assert any(headers.get("x-api-key") == API_KEY for headers in state.seen_headers)
    assert API_KEY not in out
    assert API_KEY not in result_file.read_text()


async def test_run_without_a_needed_secret_or_with_a_bad_route_cannot_start(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SHOP_API_KEY", raising=False)
    code = await asyncio.to_thread(main, ["run", "user-service-contract", "--config", str(EXAMPLE)])
    assert code == 2
    assert capsys.readouterr().err == (
        "meshgate run: secret 'api_key' (env SHOP_API_KEY): env SHOP_API_KEY is not set\n"
    )
    assert (
        await asyncio.to_thread(
            main, ["run", "checkout-smoke", "--config", str(EXAMPLE), "--route", "x"]
        )
        == 2
    )
    assert "expected SERVICE=URL" in capsys.readouterr().err
    assert await asyncio.to_thread(main, ["run", "nope", "--config", str(EXAMPLE)]) == 2
    assert capsys.readouterr().err == "meshgate run: no workspace has a suite 'nope'\n"
