"""Where meshgate/config goes and what it says."""

from __future__ import annotations

from controller.models.problems import Problem
from controller.models.statuses import StatusTarget
from controller.statuses.config_statuses import config_description, config_repo_target
from tests.support.config import snapshot_of
from tests.support.fake_gitea import gitea_integration

SHA = "d" * 40


def test_config_repo_target_is_the_gitea_integration_of_its_host() -> None:
    snapshot = snapshot_of(gitea_integration("https://gitea.example.com/"))
    url = "https://bot:secret@gitea.example.com/platform/meshgate-config.git"
    assert config_repo_target(snapshot, url, SHA) == StatusTarget(
        "shop", "gitea", "platform/meshgate-config", SHA
    )
    ssh = "git@gitea.example.com:platform/meshgate-config.git"
    assert config_repo_target(snapshot, ssh, SHA) == config_repo_target(snapshot, url, SHA)


def test_config_repo_target_elsewhere_or_before_any_config_is_a_reason() -> None:
    snapshot = snapshot_of(gitea_integration("https://gitea.example.com/"))
    other = "https://github.com/platform/config.git"
    assert config_repo_target(snapshot, other, SHA) == (
        "no Gitea integration of the live config serves github.com"
    )
    assert "no valid config" in str(config_repo_target(None, other, SHA))
    assert "not a Git URL" in str(config_repo_target(snapshot, "/srv/config", SHA))


def test_config_description_names_the_first_problem_with_its_place() -> None:
    problem = Problem(
        path="rules/a.yaml", line=4, column=3, message="unknown suite 'x'", code="reference"
    )
    assert config_description([problem], 9, verdict="valid") == (
        "1 problem; first: rules/a.yaml:4:3: unknown suite 'x'"
    )
    assert config_description([], 9, verdict="valid, applied") == "valid, applied: 9 documents"
