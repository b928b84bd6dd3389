"""The one exception hierarchy of meshgate.

Adapters translate third-party exceptions into these classes (chaining the cause), so the
layers above never catch a library's exception type. The split that matters to callers is
``TemporaryError`` (try again later, nothing about the request is wrong) versus
``PermanentError`` (retrying the same thing will fail the same way until something changes).
"""

from __future__ import annotations


class MeshgateError(Exception):
    """Root of every error meshgate raises on purpose."""


class TemporaryError(MeshgateError):
    """A dependency is unavailable right now; the same operation may succeed later."""


class PermanentError(MeshgateError):
    """The operation cannot succeed as asked; retrying without a change is pointless."""


class BadRequest(PermanentError):
    """Input that cannot be understood (malformed JSON, wrong field types): HTTP 400."""


class Unauthenticated(PermanentError):
    """Missing or wrong credentials (webhook signature, token): HTTP 401."""


class Forbidden(PermanentError):
    """Authenticated or not, this is not allowed here (e.g. no API token is configured): 403."""


class SettingsError(PermanentError):
    """A setting (environment variable or flag) has an unusable value."""


class ConfigSourceUnavailable(TemporaryError):
    """The config repo cannot be reached (network, remote down, timeout)."""


class ConfigSourceError(PermanentError):
    """The config repo answered, but not with something we can use (missing branch, bad URL)."""


class StorageUnavailable(TemporaryError):
    """The database cannot be reached or is locked beyond the busy timeout."""


class StorageError(PermanentError):
    """The database refused an operation (constraint, schema mismatch)."""


class Conflict(PermanentError):
    """The request is valid but the thing is not in a state that allows it (HTTP 409)."""


class NotFound(PermanentError):
    """A requested object does not exist."""
