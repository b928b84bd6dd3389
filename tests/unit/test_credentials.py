from __future__ import annotations

import pytest

from controller.credentials import credentials_in, redact_url, scrub_credentials


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://bot:s3cr3t@gitea.example/x.git", "https://gitea.example/x.git"),
        ("https://t0ken@gitea.example:3000/x.git", "https://gitea.example:3000/x.git"),
        ("https://bot:s3cr3t@gitea.example:abc/x.git", "https://gitea.example:abc/x.git"),
        ("postgresql+psycopg://app:p%40ss@db/meshgate", "postgresql+psycopg://db/meshgate"),
        ("https://gitea.example/x.git", "https://gitea.example/x.git"),
        ("./config", "./config"),
    ],
)
def test_redact_url_drops_user_info_even_from_odd_urls(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_credentials_in_lists_every_spelling_and_spares_ssh_users() -> None:
    assert set(credentials_in("https://bot:p%40ss@host/x")) == {
        "bot:p%40ss",
        "bot:p@ss",
        "p%40ss",
        "p@ss",
    }
    assert set(credentials_in("https://t0ken@host/x")) == {"t0ken"}
    assert credentials_in("ssh://git@host/x") == ["git"]
    assert credentials_in("https://host/x") == []


def test_scrub_credentials_hides_quoted_secrets_and_any_user_info() -> None:
    text = (
        "fatal: auth failed for 'https://bot:p%40ss@host/x' (password p@ss); see ftp://u:v@other/"
    )
    scrubbed = scrub_credentials(text, "https://bot:p%40ss@host/x")
    assert "p@ss" not in scrubbed
    assert "p%40ss" not in scrubbed
    assert "u:v" not in scrubbed
    assert "https://***@host/x" in scrubbed
