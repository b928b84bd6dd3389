from __future__ import annotations

import os
from pathlib import Path

import pytest

from controller.errors import PermanentError
from controller.secretrefs import (
    DEFAULT_MAX_FILE_BYTES,
    SecretResolver,
    SecretUnavailable,
    describe_ref,
)
from controller.settings import Secret

VALUE = "s3cr3t-VALUE-do-not-show"


def resolver(environ: dict[str, str] | None = None, **kwargs: int) -> SecretResolver:
    return SecretResolver(environ=environ or {}, **kwargs)


def error_of(res: SecretResolver, ref: dict[str, str]) -> str:
    with pytest.raises(SecretUnavailable) as info:
        res.resolve(ref)
    message = str(info.value)
    assert VALUE not in message
    assert VALUE not in repr(info.value)
    return message


def test_secret_unavailable_is_permanent() -> None:
    assert issubclass(SecretUnavailable, PermanentError)


def test_env_value_is_returned_verbatim() -> None:
    secret = resolver({"SHOP_API_KEY": f" {VALUE}\n"}).resolve({"env": "SHOP_API_KEY"})
    assert secret == Secret(f" {VALUE}\n")
    assert VALUE not in repr(secret)
    assert VALUE not in str(secret)


def test_env_missing_names_the_variable() -> None:
    message = error_of(resolver({"OTHER": VALUE}), {"env": "SHOP_API_KEY"})
    assert message == "env SHOP_API_KEY is not set"


def test_env_empty_is_an_error() -> None:
    assert error_of(resolver({"SHOP_API_KEY": ""}), {"env": "SHOP_API_KEY"}) == (
        "env SHOP_API_KEY is empty"
    )


def test_env_blank_is_an_error() -> None:
    message = error_of(resolver({"SHOP_API_KEY": " \t\n"}), {"env": "SHOP_API_KEY"})
    assert message == "env SHOP_API_KEY holds only whitespace"


def test_resolver_does_not_read_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESHGATE_TEST_SECRET_ONLY_IN_OS", VALUE)
    error_of(resolver({}), {"env": "MESHGATE_TEST_SECRET_ONLY_IN_OS"})


def test_rotation_is_picked_up_without_caching(tmp_path: Path) -> None:
    environ = {"TOKEN": "one"}
    res = SecretResolver(environ=environ)
    file = tmp_path / "token"
    file.write_text("first\n")
    assert res.resolve({"env": "TOKEN"}) == Secret("one")
    assert res.resolve({"file": str(file)}) == Secret("first")
    environ["TOKEN"] = "two"
    file.write_text("second\n")
    assert res.resolve({"env": "TOKEN"}) == Secret("two")
    assert res.resolve({"file": str(file)}) == Secret("second")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (VALUE.encode(), VALUE),
        (f"{VALUE}\n".encode(), VALUE),
        (f"{VALUE}\r\n".encode(), VALUE),
        (f"{VALUE}\n\n".encode(), f"{VALUE}\n"),
        (f"  {VALUE}  \n".encode(), f"  {VALUE}  "),
        (f"{VALUE}\r".encode(), f"{VALUE}\r"),
        ("pässwörd\n".encode(), "pässwörd"),
    ],
)
def test_file_strips_exactly_one_trailing_newline(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    file = tmp_path / "secret"
    file.write_bytes(content)
    secret = resolver().resolve({"file": str(file)})
    assert secret.reveal() == expected
    assert VALUE not in repr(secret)
    assert VALUE not in str(secret)


def test_file_through_symlink(tmp_path: Path) -> None:
    # Kubernetes mounts Secrets as symlinks into a ..data directory.
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "token").write_text(f"{VALUE}\n")
    (tmp_path / "token").symlink_to(tmp_path / "data" / "token")
    assert resolver().resolve({"file": str(tmp_path / "token")}) == Secret(VALUE)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "x"
    assert error_of(resolver(), {"file": str(path)}) == (
        f"file {path} cannot be read: No such file or directory"
    )


def test_directory_instead_of_file(tmp_path: Path) -> None:
    assert error_of(resolver(), {"file": str(tmp_path)}) == (
        f"file {tmp_path} cannot be read: Is a directory"
    )


def test_fifo_is_rejected_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert error_of(resolver(), {"file": str(fifo)}) == (
        f"file {fifo} cannot be read: not a regular file"
    )


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    file = tmp_path / "secret"
    file.write_text(VALUE)

    def denied(*args: object) -> int:
        raise PermissionError(13, "Permission denied", str(file))

    monkeypatch.setattr(os, "open", denied)
    message = error_of(resolver(), {"file": str(file)})
    assert message == f"file {file} cannot be read: Permission denied"


def test_read_error_closes_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    file = tmp_path / "secret"
    file.write_text(VALUE)
    closed: list[int] = []
    real_close = os.close

    def failing_read(fd: int, size: int) -> bytes:
        raise OSError(5, "Input/output error")

    def recording_close(fd: int) -> None:
        closed.append(fd)
        real_close(fd)

    monkeypatch.setattr(os, "read", failing_read)
    monkeypatch.setattr(os, "close", recording_close)
    message = error_of(resolver(), {"file": str(file)})
    assert message == f"file {file} cannot be read: Input/output error"
    assert len(closed) == 1


def test_too_large_file(tmp_path: Path) -> None:
    file = tmp_path / "secret"
    file.write_text(VALUE * 10)
    message = error_of(resolver(max_file_bytes=len(VALUE) * 10 - 1), {"file": str(file)})
    assert message == f"file {file} is larger than {len(VALUE) * 10 - 1} bytes"


def test_file_at_the_limit_is_accepted(tmp_path: Path) -> None:
    file = tmp_path / "secret"
    file.write_text(VALUE)
    assert resolver(max_file_bytes=len(VALUE)).resolve({"file": str(file)}) == Secret(VALUE)


def test_default_limit_is_64_kib(tmp_path: Path) -> None:
    assert DEFAULT_MAX_FILE_BYTES == 64 * 1024
    file = tmp_path / "secret"
    file.write_bytes(b"a" * (DEFAULT_MAX_FILE_BYTES + 1))
    assert "is larger than 65536 bytes" in error_of(resolver(), {"file": str(file)})


def test_non_utf8_file_does_not_leak_bytes(tmp_path: Path) -> None:
    file = tmp_path / "secret"
    file.write_bytes(VALUE.encode() + b"\xff\xfe")
    with pytest.raises(SecretUnavailable) as info:
        resolver().resolve({"file": str(file)})
    assert str(info.value) == f"file {file} is not valid UTF-8"
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


@pytest.mark.parametrize("content", [b"", b"\n", b"\r\n", b"   \n"])
def test_empty_file_is_an_error(tmp_path: Path, content: bytes) -> None:
    file = tmp_path / "secret"
    file.write_bytes(content)
    message = error_of(resolver(), {"file": str(file)})
    assert message.startswith(f"file {file} ")
    assert message.endswith(("is empty", "holds only whitespace"))


def test_relative_path_is_an_error() -> None:
    assert "must be absolute" in error_of(resolver(), {"file": "secrets/token"})


@pytest.mark.parametrize(
    "ref",
    [{}, {"env": "A", "file": "/b"}, {"value": VALUE}, {"env": ""}],
)
def test_invalid_reference_does_not_echo_values(ref: dict[str, str]) -> None:
    assert error_of(resolver({"": VALUE}), ref).startswith("invalid secret reference")


def test_max_file_bytes_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_file_bytes"):
        SecretResolver(environ={}, max_file_bytes=0)


def test_describe_ref() -> None:
    assert describe_ref({"env": "A"}) == "env A"
    assert describe_ref({"file": "/run/secrets/x"}) == "file /run/secrets/x"
    assert describe_ref({"value": VALUE}) == "invalid secret reference"
