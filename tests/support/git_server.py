"""A real smart-HTTP Git server on 127.0.0.1, and a working repo that pushes to it.

``GitServer`` serves the bare repos under its root with ``git http-backend`` run as a CGI by a
stdlib ``ThreadingHTTPServer`` (optional HTTP basic auth). It can be stopped and started again
on the same port (remote unreachable), made to answer every request with an HTTP error, or made
to stall (requests hang until resumed). ``WorkRepo`` drives the ``git`` CLI with a fixed
identity and a private ``HOME``, so no user or system config leaks in.
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import IO
from urllib.parse import quote, unquote

GIT = shutil.which("git") or "git"
GIT_USER = "meshgate-bot"  # credentials of the ``git_server`` fixture
GIT_PASSWORD = "pw-Zq7xK3vT9mW2"  # distinctive, so tests can assert it never leaks
_BASE_ENV = {
    "PATH": os.environ.get("PATH", os.defpath),
    "LC_ALL": "C",
    "LANGUAGE": "C",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_ASKPASS": "",
}


def git_env(home: Path, **extra: str) -> dict[str, str]:
    """A minimal, hermetic environment for the ``git`` CLI."""
    return {**_BASE_ENV, "HOME": str(home), **extra}


def run_git(*args: str, cwd: Path, env: dict[str, str], timeout: float = 30.0) -> str:
    """Run git, return stdout (stripped); raise with git's stderr on failure."""
    done = subprocess.run(
        [GIT, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed ({done.returncode}): {done.stderr}")
    return done.stdout.strip()


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # without the query string, e.g. "/config.git/info/refs"
    query: str
    user: str | None  # authenticated user, None when anonymous or rejected
    status: int


class GitServer:
    """Smart-HTTP Git server on 127.0.0.1 serving ``root/repos/*.git``."""

    def __init__(self, root: Path, *, auth: tuple[str, str] | None = None) -> None:
        self.root = root
        self.repos = root / "repos"
        self.home = root / "home"
        self.repos.mkdir(parents=True, exist_ok=True)
        self.home.mkdir(parents=True, exist_ok=True)
        self.auth = auth
        self.fail_status: int | None = None  # answer every request with this HTTP status
        self.port = 0
        self._requests: list[Request] = []
        self._lock = threading.Lock()
        self._running = threading.Event()  # cleared while stalled
        self._running.set()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> GitServer:
        """Listen (again) on the same port as before, or on a free one the first time."""
        if self._httpd is not None:
            return self
        httpd = _HTTPServer(("127.0.0.1", self.port), _Handler)
        httpd.owner = self
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="git-server"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening (connections are refused); waits for in-flight requests."""
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        self.resume()
        httpd.shutdown()
        httpd.server_close()  # joins the request threads (daemon_threads is False)
        thread.join()
        self._httpd = self._thread = None

    @property
    def running(self) -> bool:
        return self._httpd is not None

    def __enter__(self) -> GitServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stall(self) -> None:
        """Hold every new request until ``resume()`` (or ``stop()``): a hanging remote."""
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    # -- repos and URLs ----------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def create_repo(self, name: str, *, branch: str = "main") -> Path:
        """Create an empty bare repo served as ``url_for(name)``."""
        path = self.repos / _repo_name(name)
        run_git(
            "init", "--quiet", "--bare", f"--initial-branch={branch}", str(path),
            cwd=self.root, env=git_env(self.home),
        )  # fmt: skip
        return path

    def url_for(
        self,
        name: str,
        *,
        credentials: tuple[str, str] | None = None,
        anonymous: bool = False,
    ) -> str:
        """URL of a repo; carries ``credentials``, else the server's own unless ``anonymous``."""
        userinfo = ""
        creds = credentials or (None if anonymous else self.auth)
        if creds is not None:
            userinfo = f"{quote(creds[0], safe='')}:{quote(creds[1], safe='')}@"
        return f"http://{userinfo}127.0.0.1:{self.port}/{_repo_name(name)}"

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._requests)

    def _record(self, request: Request) -> None:
        with self._lock:
            self._requests.append(request)


def _repo_name(name: str) -> str:
    return name if name.endswith(".git") else f"{name}.git"


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins request threads: nothing leaks
    owner: GitServer

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a client hanging up is not news
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.0"  # one request per connection; body ends at close

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        owner = self.server.owner
        owner._running.wait()
        path, _, query = self.path.partition("?")
        allowed, user = self._authenticate(owner.auth)
        # Recorded before a short reply goes out: a client that has read it must find it in
        # ``requests``. A backend reply ends when the connection closes, after this method.
        if not allowed:
            owner._record(Request(self.command, path, query, user, 401))
            self._discard_body()
            self._reply(401, {"WWW-Authenticate": 'Basic realm="git"'})
        elif owner.fail_status is not None:
            owner._record(Request(self.command, path, query, user, owner.fail_status))
            self._discard_body()
            self._reply(owner.fail_status, {})
        else:
            status = self._run_backend(path, query, user or "anonymous", owner)
            owner._record(Request(self.command, path, query, user, status))

    do_POST = do_GET

    def _authenticate(self, auth: tuple[str, str] | None) -> tuple[bool, str | None]:
        """(allowed, authenticated user name)."""
        if auth is None:
            return True, None
        scheme, _, encoded = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False, None
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return False, None
        ok = hmac.compare_digest(user, auth[0]) & hmac.compare_digest(password, auth[1])
        return (True, user) if ok else (False, None)

    def _reply(self, status: int, headers: dict[str, str]) -> None:
        with contextlib.suppress(OSError):
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

    def _discard_body(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            remaining = int(self.headers.get("Content-Length") or 0)
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 65536))
                if not chunk:
                    break
                remaining -= len(chunk)

    def _run_backend(self, path: str, query: str, user: str, owner: GitServer) -> int:
        env = git_env(
            owner.home,
            GIT_PROJECT_ROOT=str(owner.repos),
            GIT_HTTP_EXPORT_ALL="1",
            GATEWAY_INTERFACE="CGI/1.1",
            SERVER_PROTOCOL="HTTP/1.0",
            REQUEST_METHOD=self.command,
            PATH_INFO=unquote(path),
            QUERY_STRING=query,
            CONTENT_TYPE=self.headers.get("Content-Type", ""),
            REMOTE_ADDR=self.client_address[0],
            REMOTE_USER=user,  # http-backend allows pushes from an authenticated user
        )
        for name, value in self.headers.items():
            key = "HTTP_" + name.upper().replace("-", "_")
            if key not in ("HTTP_AUTHORIZATION", "HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                env[key] = value  # e.g. HTTP_GIT_PROTOCOL (v2), HTTP_CONTENT_ENCODING (gzip)
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        if not chunked and self.headers.get("Content-Length"):
            env["CONTENT_LENGTH"] = self.headers["Content-Length"]
        with (
            tempfile.TemporaryFile() as errors,
            subprocess.Popen(
                [GIT, "http-backend"],
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
            ) as cgi,
        ):
            assert cgi.stdin is not None
            assert cgi.stdout is not None
            feeder = threading.Thread(target=self._feed, args=(cgi.stdin, chunked), daemon=True)
            feeder.start()
            try:
                return self._relay(cgi.stdout)
            except OSError:  # the client went away (e.g. killed on timeout)
                cgi.kill()
                return 499
            finally:
                feeder.join()

    def _feed(self, stdin: IO[bytes], chunked: bool) -> None:
        """Stream the request body into the CGI's stdin, then close it."""
        try:
            if chunked:
                while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                    stdin.write(self.rfile.read(size))
                    self.rfile.readline()  # CRLF after the chunk
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
            else:
                remaining = int(self.headers.get("Content-Length") or 0)
                while remaining > 0 and (chunk := self.rfile.read(min(remaining, 65536))):
                    stdin.write(chunk)
                    remaining -= len(chunk)
        except (OSError, ValueError):
            pass
        finally:
            with contextlib.suppress(OSError):
                stdin.close()

    def _relay(self, stdout: IO[bytes]) -> int:
        """Turn the CGI's headers into an HTTP response and stream its body."""
        status, headers = 200, []
        while (line := stdout.readline().rstrip(b"\r\n")) != b"":
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            else:
                headers.append((name.strip(), value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        shutil.copyfileobj(stdout, self.wfile, 65536)
        self.wfile.flush()
        return status


class WorkRepo:
    """A working clone that commits with a fixed identity and pushes to ``remote_url``."""

    def __init__(self, path: Path, remote_url: str, *, branch: str = "main") -> None:
        self.path = path
        self.branch = branch
        self.home = path.with_name(path.name + ".home")
        self.home.mkdir(parents=True, exist_ok=True)
        self._clock = 1_700_000_000  # fixed, increasing commit dates: reproducible shas
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "--quiet", f"--initial-branch={branch}")
        self.git("remote", "add", "origin", remote_url)

    def git(self, *args: str) -> str:
        """Run ``git`` in the working tree and return its stdout (stripped)."""
        stamp = f"@{self._clock} +0000"
        env = git_env(
            self.home,
            GIT_AUTHOR_NAME="Meshgate Test",
            GIT_AUTHOR_EMAIL="test@meshgate.invalid",
            GIT_AUTHOR_DATE=stamp,
            GIT_COMMITTER_NAME="Meshgate Test",
            GIT_COMMITTER_EMAIL="test@meshgate.invalid",
            GIT_COMMITTER_DATE=stamp,
        )
        return run_git(*args, cwd=self.path, env=env)

    def write(self, path: str, text: str) -> Path:
        target = self.path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        return target

    def symlink(self, path: str, target: str) -> Path:
        link = self.path / path
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(target)
        return link

    def remove(self, path: str) -> None:
        self.git("rm", "-r", "--quiet", "--", path)

    def commit(self, message: str) -> str:
        """Stage everything and commit (empty commits allowed); return the full sha."""
        self._clock += 60
        self.git("add", "--all")
        self.git("commit", "--quiet", "--allow-empty", "--no-verify", "-m", message)
        return self.git("rev-parse", "HEAD")

    def reset_hard(self, revision: str) -> None:
        """Move the branch (e.g. to ``HEAD~1``) to rewrite history before ``push(force=True)``."""
        self.git("reset", "--hard", "--quiet", revision)

    def push(self, *, force: bool = False, branch: str | None = None) -> None:
        """Push HEAD to ``branch`` (default: the repo's branch) on the remote."""
        ref = f"HEAD:refs/heads/{branch or self.branch}"
        self.git("push", "--quiet", *(["--force"] if force else []), "origin", ref)

    def delete_remote_branch(self, name: str) -> None:
        self.git("push", "--quiet", "origin", "--delete", name)

    @property
    def head(self) -> str:
        return self.git("rev-parse", "HEAD")
