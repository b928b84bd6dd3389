"""``meshgate explain`` on files: against a config folder, and against a running server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from controller.cli import main
from controller.settings import Settings
from tests.acceptance.helpers import WEBHOOK_ENVIRON, config_status, copy_example_for_webhooks
from tests.support.server import running_server
from tests.support.waiting import eventually
from tests.support.webhooks import FIXTURES

EXAMPLE = Path(__file__).resolve().parents[2] / "example-config-repo"
PUSH_TO_USER_SERVICE = {
    "ref": "refs/heads/main",
    "after": "3b1f0e2c9d8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c",
    "repository": {
        "full_name": "shop/user-service",
        "clone_url": "https://gitea.shop.internal/shop/user-service.git",
    },
    "commits": [],
}


@pytest.fixture
def push_file(tmp_path: Path) -> Path:
    path = tmp_path / "push.json"
    path.write_text(json.dumps(PUSH_TO_USER_SERVICE))
    return path


def test_explain_matching_push_exits_zero_and_names_each_rule(
    push_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["explain", "--source", "gitea", "--config", str(EXAMPLE), str(push_file)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("gitea push shop/user-service@main 3b1f0e2c9d8a (config revision ")
    assert out[1:] == [
        "shop/gitea: 1 of 2 rules matched",
        "  - service-pull-requests (user-service-contract): event type 'push' is not one of: "
        "pull_request",
        "  + user-service-push (user-service-contract): runs user-service-contract",
    ]


def test_explain_nothing_matching_exits_one(capsys: pytest.CaptureFixture[str]) -> None:
    fixture = FIXTURES / "webhook-push-new-branch.json"
    assert main(["explain", "--source", "gitea", "--config", str(EXAMPLE), str(fixture)]) == 1
    out = capsys.readouterr().out
    assert "0 of 2 rules matched" in out
    assert "repository 'shop/user-service' does not match 'alice/demo'" in out


def test_explain_json_format_is_the_api_document(
    push_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["explain", "--source", "gitea", "--config", str(EXAMPLE), "--format", "json"]
    assert main([*argv, "--rule", "user-service-push", str(push_file)]) == 0
    report = json.loads(capsys.readouterr().out)
    (gitea,) = report["integrations"]
    assert [d["rule"] for d in gitea["decisions"]] == ["user-service-push"]
    assert gitea["would_queue"][0]["status_context"] == "meshgate/user-service-push"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"ref":\n  nope}', ":2:3: not valid JSON"),
        ('{"ref": 5}', "repository: is required (missing)"),
        ("{}", "cannot tell which Gitea event this payload is"),
    ],
)
def test_explain_bad_payload_exits_two_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "body.json"
    path.write_text(content)
    argv = ["explain", "--source", "gitea", "--config", str(EXAMPLE), str(path)]
    if content == '{"ref": 5}':
        argv[3:3] = ["--event", "push"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(str(path))
    assert message in err


def test_explain_missing_file_or_config_exits_two(
    tmp_path: Path, push_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["explain", "--source", "argocd", str(tmp_path / "absent.json")]) == 2
    assert "absent.json: No such file or directory" in capsys.readouterr().err
    argv = ["explain", "--source", "gitea", "--config", str(tmp_path / "nowhere"), str(push_file)]
    assert main(argv) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.anyio
async def test_explain_against_a_running_server_uses_its_live_config(
    tmp_path: Path,
    push_file: Path,
    settings_for: Callable[..., Settings],
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = copy_example_for_webhooks(tmp_path / "config")
    (config / "rules" / "gitea.yaml").write_text(
        (config / "rules" / "gitea.yaml")
        .read_text()
        .replace("branch_filter: main", "branch_filter: dev")
    )
    settings = settings_for(str(config), poll=3600)
    async with running_server(settings, environ=WEBHOOK_ENVIRON) as server:
        await eventually(lambda: config_status(server), until=lambda s: s["applied"] is not None)
        argv = ["explain", "--source", "gitea", "--server", server.base_url, str(push_file)]
        assert await asyncio.to_thread(main, argv) == 1
        assert "branch_filter 'dev' does not match 'main'" in capsys.readouterr().out
        unknown = [*argv, "--integration", "nope"]
        assert await asyncio.to_thread(main, unknown) == 2
        assert "answered 404: no gitea integration named 'nope'" in capsys.readouterr().err
    assert await asyncio.to_thread(main, argv) == 2
    assert "cannot reach" in capsys.readouterr().err
