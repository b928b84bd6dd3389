from __future__ import annotations

import pytest

from controller.models.repo_urls import RepoAddress


@pytest.mark.parametrize(
    "url",
    [
        "https://gitea.example/shop/app.git",
        "https://gitea.example/shop/app",
        "https://bot:token@Gitea.Example:3000/Shop/App/",
        "http://gitea.example/gitea/shop/app.git",
        "ssh://git@gitea.example:2222/shop/app.git",
        "git@gitea.example:shop/app.git",
        "gitea.example:shop/app",
    ],
)
def test_repo_address_is_the_same_for_every_spelling(url: str) -> None:
    assert RepoAddress.parse(url) == RepoAddress("gitea.example", "shop/app")


@pytest.mark.parametrize(
    "url",
    ["", "/srv/config", "file:///srv/config.git", "https://gitea.example/app", "ftp://h/a/b", "x"],
)
def test_repo_address_of_a_non_remote_is_none(url: str) -> None:
    assert RepoAddress.parse(url) is None


def test_repo_address_different_repos_differ() -> None:
    assert RepoAddress.parse("https://h/shop/app") != RepoAddress.parse("https://h/shop/api")
    assert RepoAddress.parse("https://h/shop/app") != RepoAddress.parse("https://g/shop/app")
