"""Secret references (``{env: NAME}`` or ``{file: /absolute/path}``) resolved to ``Secret``s.

The config repo never holds secret values, only references to them (``secretRef`` in
``schemas/defs.json``). This module turns a reference into a ``Secret``:

* ``{env: NAME}``: the value of NAME in the ``environ`` mapping given to the resolver, used
  verbatim. The composition root passes ``os.environ``; this module never reads it itself.
* ``{file: PATH}``: the file's bytes decoded as strict UTF-8, with exactly one trailing
  ``\\n`` (or ``\\r\\n``) removed (``echo token > file`` and Kubernetes Secrets both work).
  Nothing else is stripped; a byte-order mark stays part of the value.

A value that is empty or only whitespace is an error, not a secret. Errors are
``SecretUnavailable`` (a ``PermanentError``); their messages name the reference (``env
SHOP_API_KEY is not set``) and never contain a secret value or any byte of the file.

Nothing is cached: every ``resolve`` reads the environment or the file again, so a rotated
secret (a remounted Kubernetes Secret) is picked up. Callers that resolve on a hot path may
cache the result for as long as they accept a stale value.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping

from controller.errors import PermanentError
from controller.settings import Secret

__all__ = ["DEFAULT_MAX_FILE_BYTES", "SecretResolver", "SecretUnavailable", "describe_ref"]

DEFAULT_MAX_FILE_BYTES = 64 * 1024


class SecretUnavailable(PermanentError):
    """A secret reference cannot be turned into a value (unset, unreadable, empty, invalid).

    The message names the reference, never the value.
    """


def describe_ref(ref: Mapping[str, str]) -> str:
    """The reference as shown to people: ``env NAME`` or ``file /path`` (never a value)."""
    if set(ref) == {"env"}:
        return f"env {ref['env']}"
    if set(ref) == {"file"}:
        return f"file {ref['file']}"
    return "invalid secret reference"


class SecretResolver:
    """Resolves secret references on every call (no caching, see the module docstring)."""

    def __init__(
        self, *, environ: Mapping[str, str], max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    ) -> None:
        if max_file_bytes < 1:
            raise ValueError("max_file_bytes must be at least 1")
        self._environ = environ
        self._max_file_bytes = max_file_bytes

    def resolve(self, ref: Mapping[str, str]) -> Secret:
        """The secret ``ref`` points to; raises ``SecretUnavailable`` naming ``ref`` if none."""
        keys = set(ref)
        if keys == {"env"} and isinstance(ref["env"], str):
            return self._from_env(ref["env"])
        if keys == {"file"} and isinstance(ref["file"], str):
            return self._from_file(ref["file"])
        raise SecretUnavailable(
            "invalid secret reference: expected exactly one of {env: NAME} or {file: /path}"
        )

    def _from_env(self, name: str) -> Secret:
        if not name:
            raise SecretUnavailable("invalid secret reference: env name is empty")
        value = self._environ.get(name)
        if value is None:
            raise SecretUnavailable(f"env {name} is not set")
        return Secret(_non_blank(value, f"env {name}"))

    def _from_file(self, path: str) -> Secret:
        where = f"file {path}"
        if not os.path.isabs(path):
            raise SecretUnavailable(f"{where}: the path must be absolute")
        data = self._read(path, where)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            # No chaining: the decode error quotes a byte of the secret.
            raise SecretUnavailable(f"{where} is not valid UTF-8") from None
        if text.endswith("\r\n"):
            text = text[:-2]
        elif text.endswith("\n"):
            text = text[:-1]
        return Secret(_non_blank(text, where))

    def _read(self, path: str, where: str) -> bytes:
        limit = self._max_file_bytes
        try:
            # O_NONBLOCK: opening a FIFO must not hang; it is then rejected as not a file.
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            raise SecretUnavailable(f"{where} cannot be read: {_reason(exc)}") from exc
        try:
            mode = os.fstat(fd).st_mode
            if stat.S_ISDIR(mode):
                raise SecretUnavailable(f"{where} cannot be read: Is a directory")
            if not stat.S_ISREG(mode):
                raise SecretUnavailable(f"{where} cannot be read: not a regular file")
            chunks: list[bytes] = []
            size = 0
            while size <= limit:
                chunk = os.read(fd, limit + 1 - size)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        except OSError as exc:
            raise SecretUnavailable(f"{where} cannot be read: {_reason(exc)}") from exc
        finally:
            os.close(fd)
        if size > limit:
            raise SecretUnavailable(f"{where} is larger than {limit} bytes")
        return b"".join(chunks)


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _non_blank(value: str, where: str) -> str:
    if value == "":
        raise SecretUnavailable(f"{where} is empty")
    if value.strip() == "":
        raise SecretUnavailable(f"{where} holds only whitespace")
    return value
