"""Where a Git repository lives, whichever way its URL is spelled.

The same Gitea repository reaches meshgate as ``https://gitea.example/shop/app.git`` (a
webhook's ``clone_url``), ``ssh://git@gitea.example:2222/shop/app`` (a config repo setting),
or ``git@gitea.example:shop/app.git`` (scp-like, an Argo CD Application). ``RepoAddress``
reduces each to host and ``owner/repo`` path so they compare equal. Ports and user names are
dropped: Gitea serves one repository over HTTP and SSH on different ports, and user names are
credentials, not identity. Comparison ignores case, as Gitea does for owner and repo names.
The path is the last two segments, ``owner/repo``: Gitea has no nested groups, and one served
below a sub-path (``https://host/gitea/owner/repo``) has no such prefix over SSH.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

_SCP_LIKE = re.compile(r"^(?:[^@/\s]+@)?(?P<host>[^:/\s]+):(?!//)(?P<path>.+)$")


@dataclass(frozen=True, slots=True)
class RepoAddress:
    host: str
    path: str

    @classmethod
    def parse(cls, url: str) -> RepoAddress | None:
        """The address of an https, http, ssh, git or scp-like URL; ``None`` for anything
        else (a local path, ``file://``, text that is not a URL)."""
        text = url.strip()
        if "://" in text:
            try:
                parts = urlsplit(text)
                host = parts.hostname
            except ValueError:
                return None
            if parts.scheme.lower() not in ("http", "https", "ssh", "git") or not host:
                return None
            path = parts.path
        else:
            found = _SCP_LIKE.match(text)
            if found is None:
                return None
            host, path = found["host"], found["path"]
        segments = [s for s in path.removesuffix("/").removesuffix(".git").split("/") if s]
        if len(segments) < 2:
            return None
        return cls(host.lower(), "/".join(segments[-2:]).lower())

    def __str__(self) -> str:
        return f"{self.host}/{self.path}"
