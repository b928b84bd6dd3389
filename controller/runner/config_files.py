"""Files of a config revision that flows read at run time (JSON Schemas of ``schema:`` checks).

Paths are relative to the config root, as flows write them (``json-schemas/user.json``); a
path that leaves the root (``..``, an absolute path, a symlink out) is refused, so a flow
cannot read the controller's files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MAX_FILE_BYTES = 1 << 20


class ConfigFiles:
    def __init__(self, root: Path) -> None:
        self._root = root.resolve()

    def load_json(self, path: str) -> Any:
        """The parsed JSON file at ``path``; raises ``LookupError`` with the reason."""
        target = (self._root / path).resolve()
        if self._root not in target.parents:
            raise LookupError(f"{path!r} is outside the config repo")
        try:
            if target.stat().st_size > MAX_FILE_BYTES:
                raise LookupError(f"{path!r} is larger than {MAX_FILE_BYTES} bytes")
            return json.loads(target.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise LookupError(f"{path!r} cannot be read: {exc}") from None
        except ValueError as exc:
            raise LookupError(f"{path!r} is not JSON: {exc}") from None


def no_config_files(path: str) -> Any:
    """The loader of a run that has no config folder to read from."""
    raise LookupError(f"{path!r}: no config files are available to this run")
