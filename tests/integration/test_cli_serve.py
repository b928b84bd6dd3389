"""``meshgate serve`` refuses clearly what it cannot do."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from controller.cli import main


def test_serve_on_a_taken_port_says_so_and_exits_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MESHGATE_DATA_DIR", str(tmp_path / "data"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 1
    error = capsys.readouterr().err
    assert (
        error.strip()
        == f"meshgate serve: cannot listen on 127.0.0.1:{port}: Address already in use"
    )
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--port", "http", "MESHGATE_PORT: invalid literal"),
        ("--poll-interval", "30", "MESHGATE_POLL_INTERVAL: invalid duration '30'"),
    ],
)
def test_serve_with_a_bad_setting_exits_two(
    flag: str, value: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", flag, value]) == 2
    assert message in capsys.readouterr().err
