"""Benchmark: Gitea webhook intake against the bare stack (issue 3, scope item 8).

Measured in one run, with the very same pre-built requests (signed 4 KB Gitea push bodies,
each with its own delivery id and commit, so none is a duplicate), at the same concurrency, on
loopback, each phase bounded in time:

  bare - a Starlette app with one route, ``POST /api/v1/webhooks/gitea``, that reads the body
         and answers 202, under uvicorn with meshgate's own options (the bare stack: what HTTP
         parsing, routing and body reading cost before meshgate does anything)
  real - ``meshgate serve`` on a generated config of one Gitea integration, one suite and
         10,000 trigger rules (the payload's repository matches a handful of them), with
         SQLite in a fresh data directory: whatever the endpoint does (today: signature
         check, parse, matching against the rules, and one write transaction for the
         delivery, its decisions and its queued runs)

and, unless ``--no-yardsticks``, the two designs issue 3 calibrated its target with (43% and
29% of bare "on this machine"): *signed*, a signature check plus JSON parsing, and *durable*,
a straightforward durable design (one committed SQLite insert per delivery); see
``bench/intake_servers.py``. Their ratios are printed beside the issue's, so a run shows
where the target stands on the machine it ran on.

Every server runs as a subprocess, so the load generator (a small keep-alive HTTP/1.1 client on
asyncio streams, cheaper per request than httpx) does not share their event loop. Afterwards
the SQLite file is opened with ``sqlite3`` and every 202 must have its row. Each server's CPU
time is read from ``/proc`` around its phases: all its threads, and its main thread (the
event loop) alone, per answer; so a run also shows how much of the loop a request costs and
how busy the loop was.

Targets: real >= 35% of bare's requests/s (202 answers per second), real p99 <= 50 ms, rows in
``deliveries`` == 202 answers (each answer's ``delivery`` id present). Exit 1 if one is missed
(or if any request was not answered 202). Usage:
  .venv/bin/python bench/intake.py [--seconds 10] [--concurrency 32] [--rules 10000]
      [--rounds 1] [--keep] [--meshgate PATH] [--no-yardsticks]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import fnmatch
import hashlib
import hmac
import http.client
import json
import math
import os
import platform
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from intake_servers import DESIGNS, HOST, ROUTE  # beside this script, so on sys.path

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURE = REPO_ROOT.parent / "shared/fixtures/gitea/assembled/webhook-push-branch.json"
WEBHOOK_SECRET = "bench-webhook-secret-" + "s" * 20
WORKSPACE = "bench"
HEADER = "apiVersion: meshgate.dev/v1alpha1\n"
# Stands for each body's commit sha in the template; replaced before signing.
SHA_PLACEHOLDER = "deadbeef" * 5
TARGET_RATIO = 0.35
SERVERS = Path(__file__).resolve().parent / "intake_servers.py"
DESIGN_LABELS = {
    "bare": "bare Starlette route",
    "signed": "yardstick: signature check + JSON parsing",
    "durable": "yardstick: straightforward durable design",
}
# What issue 3 says these designs measured (ratio to bare) when it set TARGET_RATIO.
ISSUE_YARDSTICKS = {"signed": 0.43, "durable": 0.29}
TARGET_P99_MS = 50.0
# Upper bound on the real endpoint's rate used to size the pool of unique requests.
POOL_RATE = 5000


# --- the generated config repo -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rule:
    number: int
    repository: str
    event: str
    branch: str


def rule_set(count: int) -> list[Rule]:
    """``count`` rules: half exact repositories, half globs (prefix, suffix, a few ``?``)."""
    exact = count // 2
    rest = count - exact
    few = min(10, rest)
    prefix = (rest - few) // 2
    repositories: list[str] = []
    for n in range(exact):
        org, svc = n % 100, n // 100
        repositories.append(f"org-{org}/svc-{svc}" + ("-api" if svc % 2 else ""))
    repositories += [f"org-?{digit}/*" for digit in range(few)]
    repositories += [f"org-{org}/svc-*" for org in range(prefix)]
    repositories += [f"*/svc-{svc}-api" for svc in range(rest - few - prefix)]
    return [
        Rule(
            number=n,
            repository=repository,
            event="push" if n % 2 == 0 else "pull_request",
            branch="main" if n % 3 else "*",
        )
        for n, repository in enumerate(repositories)
    ]


def matching(rules: Sequence[Rule], repository: str, event: str, branch: str) -> list[Rule]:
    """The rules a ``event`` on ``branch`` of ``repository`` matches (fnmatch, case-sensitive)."""
    return [
        rule
        for rule in rules
        if fnmatch.fnmatchcase(repository, rule.repository)
        and rule.event == event
        and fnmatch.fnmatchcase(branch, rule.branch)
    ]


def choose_repository(rules: Sequence[Rule]) -> str:
    """An exact rule's repository that 1 to 5 rules match by repository (as in real life)."""
    exact = [rule.repository for rule in rules if not set(rule.repository) & set("*?[")]
    preferred = [name for name in ("org-42/svc-17-api", "org-7/svc-3-api") if name in exact]
    for name in [*preferred, *reversed(exact)]:
        by_repository = [r for r in rules if fnmatch.fnmatchcase(name, r.repository)]
        if len(by_repository) <= 5 and matching(by_repository, name, "push", "main"):
            return name
    raise SystemExit("no repository matches 1 to 5 of the generated rules; use more --rules")


def _rule_yaml(rule: Rule) -> str:
    return f"""{HEADER}kind: TriggerRule
metadata:
  name: rule-{rule.number}
  workspace: {WORKSPACE}
spec:
  integration: gitea
  repository: "{rule.repository}"
  branch_filter: "{rule.branch}"
  event_types: [{rule.event}]
  suite: bench-contract
  status_context: bench/rule-{rule.number}
"""


INTEGRATION_YAML = f"""{HEADER}kind: Integration
metadata:
  name: gitea
  workspace: {WORKSPACE}
spec:
  provider: gitea
  config:
    url: https://gitea.bench.internal
  secrets:
    token: {{env: BENCH_GITEA_TOKEN}}
    webhook_secret: {{env: BENCH_WEBHOOK_SECRET}}
"""

SUITE_YAML = f"""{HEADER}kind: Suite
metadata:
  name: bench-contract
  workspace: {WORKSPACE}
spec:
  description: The service keeps its HTTP contract.
  vars:
    email_domain: example.test
  defaults:
    timeout: {{connect: 2s, read: 10s, write: 10s, pool: 5s}}
    headers:
      Accept: application/json
  concurrency: 2
  timeout: 5m
  flows:
    - selector:
        match_labels:
          suite: bench-contract
---
{HEADER}kind: Flow
metadata:
  name: bench-auth
  workspace: {WORKSPACE}
  labels:
    suite: bench-contract
spec:
  description: Requests without a valid API key are refused and leak nothing.
  requires: [user-service]
  steps:
    - name: wrong api key is refused
      request:
        service: user-service
        path: /api/users
        headers:
          X-Api-Key: wrong-${{uuid()}}
      expect:
        - status: 401
        - body:
            not_contains: stack
"""


def write_config(root: Path, rules: Sequence[Rule], files: int = 100) -> None:
    (root / "integrations").mkdir(parents=True)
    (root / "integrations/gitea.yaml").write_text(INTEGRATION_YAML)
    (root / "suites").mkdir()
    (root / "suites/bench-contract.yaml").write_text(SUITE_YAML)
    (root / "rules").mkdir()
    per_file = max(1, math.ceil(len(rules) / files))
    for start in range(0, len(rules), per_file):
        chunk = rules[start : start + per_file]
        path = root / f"rules/rules-{start // per_file:03d}.yaml"
        path.write_text("---\n".join(_rule_yaml(rule) for rule in chunk))


def validate_config(meshgate: Path, root: Path) -> tuple[str, float]:
    started = time.perf_counter()
    done = subprocess.run(
        [str(meshgate), "validate", str(root)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    elapsed = time.perf_counter() - started
    last = done.stdout.strip().splitlines()[-1:] or [""]
    if done.returncode != 0 or not last[0].startswith("valid:"):
        print(done.stdout[-3000:], done.stderr[-3000:], sep="\n", file=sys.stderr)
        raise SystemExit(f"generated config is not valid (meshgate validate: {done.returncode})")
    return last[0], elapsed


# --- the requests ------------------------------------------------------------------------

# Dropped, in this order, until the compact template fits the body size (padding fills the rest).
_DROPPABLE: tuple[tuple[str, ...], ...] = (
    ("pusher",),
    ("repository", "internal_tracker"),
    ("repository", "permissions"),
    ("repository", "languages_url"),
    ("sender", "avatar_url"),
    ("sender", "html_url"),
    ("repository", "owner", "avatar_url"),
    ("repository", "owner", "html_url"),
)


def _compact(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def body_template(fixture: Path, repository: str, size: int) -> bytes:
    """The fixture's push, made a push of ``repository`` with one commit, exactly ``size`` bytes
    of compact JSON, with ``SHA_PLACEHOLDER`` wherever the pushed commit's sha goes."""
    payload = json.loads(fixture.read_text())
    owner, name = repository.split("/")
    web = f"https://gitea.bench.internal/{repository}"
    commit = copy.deepcopy(payload["commits"][0])
    commit["id"] = SHA_PLACEHOLDER
    commit["url"] = f"{web}/commit/{SHA_PLACEHOLDER}"
    payload["ref"] = "refs/heads/main"
    payload["after"] = SHA_PLACEHOLDER
    payload["compare_url"] = f"{web}/compare/{payload['before']}...{SHA_PLACEHOLDER}"
    payload["commits"] = [commit]
    payload["total_commits"] = 1
    payload["head_commit"] = copy.deepcopy(commit)
    repo = payload["repository"]
    repo.update(
        name=name,
        full_name=repository,
        description="",
        html_url=web,
        url=f"https://gitea.bench.internal/api/v1/repos/{repository}",
        clone_url=f"{web}.git",
        ssh_url=f"git@gitea.bench.internal:{repository}.git",
    )
    repo["owner"]["login"] = owner
    repo["owner"]["full_name"] = owner
    for path in _DROPPABLE:
        if len(_compact(payload)) <= size:
            break
        parent = payload
        for key in path[:-1]:
            parent = parent.get(key, {})
        parent.pop(path[-1], None)
    missing = size - len(_compact(payload))
    if missing < 0:
        raise SystemExit(f"cannot fit the push payload into {size} bytes")
    filler = "The service behind the benchmark; this text pads the payload. "
    repo["description"] = (filler * (missing // len(filler) + 1))[:missing]
    body = _compact(payload)
    if len(body) != size or body.count(SHA_PLACEHOLDER.encode()) != 6:
        raise SystemExit("the payload template came out wrong")
    return body


@dataclass(slots=True)
class Pool:
    """Pre-encoded requests (head + body) and the delivery id each carries."""

    requests: list[bytes]
    delivery_ids: list[str]
    body_size: int


def build_pool(template: bytes, count: int, secret: str) -> Pool:
    nonce = uuid.uuid4().hex
    key = secret.encode()
    requests: list[bytes] = []
    delivery_ids: list[str] = []
    placeholder = SHA_PLACEHOLDER.encode()
    for index in range(count):
        sha = hashlib.sha1(f"{nonce}-{index}".encode()).hexdigest().encode()
        body = template.replace(placeholder, sha)
        signature = hmac.new(key, body, hashlib.sha256).hexdigest()
        delivery = str(uuid.uuid4())
        head = (
            f"POST {ROUTE} HTTP/1.1\r\n"
            f"Host: {HOST}\r\n"
            "User-Agent: Go-http-client/1.1\r\n"
            f"Content-Length: {len(body)}\r\n"
            "Content-Type: application/json\r\n"
            f"X-Gitea-Delivery: {delivery}\r\n"
            "X-Gitea-Event: push\r\n"
            "X-Gitea-Event-Type: push\r\n"
            f"X-Gitea-Signature: {signature}\r\n"
            "\r\n"
        )
        requests.append(head.encode() + body)
        delivery_ids.append(delivery)
    return Pool(requests=requests, delivery_ids=delivery_ids, body_size=len(template))


# --- the load generator ------------------------------------------------------------------


class ProtocolError(Exception):
    pass


@dataclass(slots=True)
class Cursor:
    """Hands out request indexes: each at most once (``cycle=False``: the real endpoint would
    dedupe a repeat) or round-robin; never more than ``limit`` in all."""

    size: int
    limit: int
    cycle: bool
    next: int = 0

    def take(self) -> int | None:
        if self.next >= self.limit or (not self.cycle and self.next >= self.size):
            return None
        index = self.next
        self.next += 1
        return index % self.size

    @property
    def exhausted(self) -> bool:
        return not self.cycle and self.next >= self.size


@dataclass(slots=True)
class Phase:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    accepted: list[tuple[int, bytes]] = field(default_factory=list)  # (request index, body)
    elapsed: float = 0.0
    stopped_early: bool = False
    cpu: float = 0.0  # CPU seconds the server spent in the phase: all its threads
    main_thread_cpu: float = 0.0  # ... and its main thread (the event loop) alone

    @property
    def answered(self) -> int:
        return sum(self.statuses.values())

    @property
    def rate(self) -> float:
        """202 answers per second."""
        return self.statuses[202] / self.elapsed if self.elapsed else 0.0


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 "):
        raise ProtocolError(f"unexpected status line {head[:40]!r}")
    status = int(head[9:12])
    length, close = 0, False
    for line in head[:-4].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection":
            close = value.strip().lower() == b"close"
        elif name == b"transfer-encoding":
            raise ProtocolError("chunked responses are not expected")
    body = await reader.readexactly(length) if length else b""
    return status, body, close


async def _worker(
    port: int,
    pool: Pool,
    cursor: Cursor,
    deadline: float,
    phase: Phase,
    *,
    keep_accepted: bool,
    request_timeout: float,
) -> None:
    streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    try:
        while time.perf_counter() < deadline:
            if streams is None:
                try:
                    async with asyncio.timeout(request_timeout):
                        streams = await asyncio.open_connection(HOST, port)
                except (OSError, TimeoutError) as exc:
                    phase.errors[f"connect: {type(exc).__name__}"] += 1
                    await asyncio.sleep(0.05)
                    continue
            index = cursor.take()
            if index is None:
                phase.stopped_early = True
                return
            reader, writer = streams
            started = time.perf_counter()
            try:
                async with asyncio.timeout(request_timeout):
                    writer.write(pool.requests[index])
                    await writer.drain()
                    status, body, close = await _read_response(reader)
            except (OSError, TimeoutError, asyncio.IncompleteReadError, ProtocolError) as exc:
                phase.errors[type(exc).__name__] += 1
                writer.close()
                streams = None
                continue
            phase.latencies.append(time.perf_counter() - started)
            phase.statuses[status] += 1
            if status == 202 and keep_accepted:
                phase.accepted.append((index, body))
            if close:
                writer.close()
                streams = None
    finally:
        if streams is not None:
            streams[1].close()


async def load(
    port: int,
    pool: Pool,
    cursor: Cursor,
    *,
    seconds: float,
    concurrency: int,
    keep_accepted: bool,
    request_timeout: float = 10.0,
) -> Phase:
    """``concurrency`` keep-alive connections sending back to back for ``seconds``."""
    phase = Phase()
    started = time.perf_counter()
    deadline = started + seconds
    workers = [
        _worker(
            port,
            pool,
            cursor,
            deadline,
            phase,
            keep_accepted=keep_accepted,
            request_timeout=request_timeout,
        )
        for _ in range(concurrency)
    ]
    async with asyncio.timeout(seconds + 2 * request_timeout + 5):
        await asyncio.gather(*workers)
    phase.elapsed = time.perf_counter() - started
    return phase


def merged(phases: Sequence[Phase]) -> Phase:
    total = Phase()
    for phase in phases:
        total.latencies += phase.latencies
        total.statuses.update(phase.statuses)
        total.errors.update(phase.errors)
        total.accepted += phase.accepted
        total.elapsed += phase.elapsed
        total.stopped_early |= phase.stopped_early
        total.cpu += phase.cpu
        total.main_thread_cpu += phase.main_thread_cpu
    return total


@dataclass(slots=True)
class Target:
    """A server under load: its name, port and cursor, and its phases (warm-up first)."""

    name: str
    label: str
    port: int
    cursor: Cursor
    pid: int = 0
    phases: list[Phase] = field(default_factory=list)

    @property
    def measured(self) -> Phase:
        """The phases after the warm-up, merged (a new value each time)."""
        return merged(self.phases[1:])


def measure(targets: Sequence[Target], pool: Pool, args: argparse.Namespace) -> None:
    """A warm-up phase each, then ``--rounds`` rounds of every target in turn (each
    ``seconds / rounds``); a round stops early once a target's unique requests ran out."""

    def phase(target: Target, seconds: float) -> None:
        before = cpu_times(target.pid)
        result = asyncio.run(
            load(
                target.port,
                pool,
                target.cursor,
                seconds=seconds,
                concurrency=args.concurrency,
                keep_accepted=not target.cursor.cycle,
            )
        )
        after = cpu_times(target.pid)
        result.cpu, result.main_thread_cpu = after[0] - before[0], after[1] - before[1]
        target.phases.append(result)

    for target in targets:
        phase(target, args.warmup)
    share = args.seconds / args.rounds
    for _ in range(args.rounds):
        if any(target.cursor.exhausted for target in targets):
            break
        for target in targets:
            phase(target, share)


def cpu_times(pid: int) -> tuple[float, float]:
    """CPU seconds (user + system) of process ``pid`` and of its main thread, from Linux's
    ``/proc``; zeros where there is none."""
    ticks = os.sysconf("SC_CLK_TCK")

    def read(path: str) -> float:
        try:
            fields = Path(path).read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime

    return read(f"/proc/{pid}/stat"), read(f"/proc/{pid}/task/{pid}/stat")


# --- the servers -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def http_get(port: int, path: str) -> int:
    connection = http.client.HTTPConnection(HOST, port, timeout=2)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


class Server:
    """A server subprocess with its output in a log file; stopped (then killed) on exit."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        self._log_file: TextIO = log.open("w")
        self.process = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
        )

    def wait_ready(self, port: int, path: str, timeout: float) -> float:
        started = time.monotonic()
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._fail(f"exited with status {self.process.returncode} before it was ready")
            with contextlib.suppress(OSError, http.client.HTTPException):
                if http_get(port, path) == 200:
                    return time.monotonic() - started
            time.sleep(0.2)
        self._fail(f"not ready within {timeout:g} s ({path} never answered 200)")
        raise AssertionError  # unreachable: _fail raises

    def _fail(self, why: str) -> None:
        self._log_file.flush()
        output = self.log.read_text(errors="replace")[-5000:]
        print(f"--- {self.name} server output (last 5000 characters) ---", file=sys.stderr)
        print(output or "(nothing)", file=sys.stderr)
        raise SystemExit(f"{self.name} server {why}")

    def stop(self, timeout: float = 20.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log_file.close()


@contextlib.contextmanager
def running(name: str, command: list[str], env: dict[str, str], log: Path) -> Iterator[Server]:
    server = Server(name, command, env, log)
    try:
        yield server
    finally:
        server.stop()


def meshgate_executable() -> Path:
    beside = Path(sys.executable).parent / "meshgate"
    return beside if beside.exists() else REPO_ROOT / ".venv/bin/meshgate"


def server_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESHGATE_")}
    return {**env, **extra}


# --- checking rows and reporting ---------------------------------------------------------


@dataclass(slots=True)
class RowCheck:
    rows: int
    accepted: int
    missing_row_ids: int
    missing_delivery_ids: int
    repeated_ids: int
    duplicates: int
    # Informational, when the schema has them: runs queued for the accepted deliveries, and
    # the mean size of a delivery's stored match report.
    runs: int | None = None
    decisions_bytes: float | None = None

    @property
    def ok(self) -> bool:
        return (
            self.rows == self.accepted
            and not self.missing_row_ids
            and not self.missing_delivery_ids
            and not self.repeated_ids
            and not self.duplicates
        )


def check_rows(database: Path, pool: Pool, phases: Sequence[Phase]) -> RowCheck:
    accepted = [item for phase in phases for item in phase.accepted]
    answers = [json.loads(body) for _, body in accepted]
    row_ids = [answer["delivery"] for answer in answers]
    connection = sqlite3.connect(database)
    try:
        stored = dict(connection.execute("SELECT id, delivery_id FROM deliveries").fetchall())
        tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master")}
        columns = {row[1] for row in connection.execute("PRAGMA table_info(deliveries)")}
        runs = decisions_bytes = None
        if "runs" in tables:
            runs = connection.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        if "decisions" in columns:
            query = "SELECT AVG(LENGTH(CAST(decisions AS BLOB))) FROM deliveries"
            decisions_bytes = connection.execute(query).fetchone()[0]
    finally:
        connection.close()
    stored_delivery_ids = set(stored.values())
    return RowCheck(
        runs=runs,
        decisions_bytes=decisions_bytes,
        rows=len(stored),
        accepted=len(accepted),
        missing_row_ids=sum(1 for row_id in row_ids if row_id not in stored),
        missing_delivery_ids=sum(
            1 for index, _ in accepted if pool.delivery_ids[index] not in stored_delivery_ids
        ),
        repeated_ids=len(row_ids) - len(set(row_ids)),
        duplicates=sum(1 for answer in answers if answer.get("duplicate")),
    )


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass(frozen=True, slots=True)
class Summary:
    answered: int
    rate: float
    p50: float
    p90: float
    p99: float
    max: float
    statuses: str
    cpu_per_answer: float  # µs of server CPU (all threads) per answer
    main_thread_per_answer: float  # µs of the main thread's CPU per answer
    main_thread_busy: float  # share of the phase the main thread was on a CPU

    @classmethod
    def of(cls, phase: Phase) -> Summary:
        ordered = sorted(phase.latencies)
        statuses = ", ".join(f"{code}: {n}" for code, n in sorted(phase.statuses.items()))
        if phase.errors:
            statuses += ", " + ", ".join(f"{name}: {n}" for name, n in phase.errors.items())
        return cls(
            answered=phase.answered,
            rate=phase.rate,
            p50=percentile(ordered, 0.50) * 1000,
            p90=percentile(ordered, 0.90) * 1000,
            p99=percentile(ordered, 0.99) * 1000,
            max=(ordered[-1] if ordered else math.nan) * 1000,
            statuses=statuses or "none",
            cpu_per_answer=phase.cpu / phase.answered * 1e6 if phase.answered else math.nan,
            main_thread_per_answer=(
                phase.main_thread_cpu / phase.answered * 1e6 if phase.answered else math.nan
            ),
            main_thread_busy=phase.main_thread_cpu / phase.elapsed if phase.elapsed else math.nan,
        )

    def row(self, label: str) -> str:
        return (
            f"| {label} | {self.answered} | {self.rate:,.0f} | {self.p50:.1f} | {self.p90:.1f} "
            f"| {self.p99:.1f} | {self.max:.1f} | {self.cpu_per_answer:.0f} "
            f"| {self.main_thread_per_answer:.0f} ({self.main_thread_busy:.0%} busy) "
            f"| {self.statuses} |"
        )


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}"


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


# --- main --------------------------------------------------------------------------------


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured phase, per server")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured warm-up, seconds")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="alternate bare and real this many times (seconds / rounds each): on a shared "
        "machine, load that comes and goes then weighs on both alike",
    )
    parser.add_argument("--rules", type=int, default=10_000)
    parser.add_argument("--body-size", type=int, default=4096)
    parser.add_argument(
        "--pool",
        type=int,
        default=0,
        help="unique requests to build (default: enough for "
        f"{POOL_RATE} requests/s over warm-up and measured phase)",
    )
    parser.add_argument("--start-timeout", type=float, default=120.0)
    parser.add_argument("--fixture", type=Path, default=FIXTURE)
    parser.add_argument(
        "--meshgate",
        type=Path,
        default=meshgate_executable(),
        help="the meshgate command to run (default: the one beside this Python)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (config, DB, logs)")
    parser.add_argument(
        "--no-yardsticks",
        dest="yardsticks",
        action="store_false",
        help="skip the two designs issue 3 calibrates its target with (intake_servers.py)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.concurrency <= 1000 or not 1 <= args.rounds <= 100:
        parser.error("need 1 <= --concurrency <= 1000 and 1 <= --rounds <= 100")
    if args.seconds <= 0 or args.warmup < 0:
        parser.error("need --seconds > 0 and --warmup >= 0")
    if args.rules < 20:
        parser.error("--rules must be at least 20")
    if not args.fixture.is_file():
        parser.error(f"fixture {args.fixture} not found (../shared must sit beside the repo)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    workdir = Path(tempfile.mkdtemp(prefix="meshgate-bench-intake-"))
    try:
        return _bench(args, workdir)
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _bench(args: argparse.Namespace, workdir: Path) -> int:
    meshgate = args.meshgate
    config_dir, data_dir = workdir / "config", workdir / "data"
    rules = rule_set(args.rules)
    repository = choose_repository(rules)
    write_config(config_dir, rules)
    validated, validate_seconds = validate_config(meshgate, config_dir)
    by_repository = [r for r in rules if fnmatch.fnmatchcase(repository, r.repository)]
    matched = matching(rules, repository, "push", "main")
    print(f"config: {validated} ({validate_seconds:.1f} s to validate)")
    print(
        f"payload: push to main of {repository}; its repository matches "
        f"{len(by_repository)} rules ({', '.join(r.repository for r in by_repository)}), "
        f"{len(matched)} of them for a push to main"
    )

    template = body_template(args.fixture, repository, args.body_size)
    count = args.pool or int((args.seconds + args.warmup) * POOL_RATE) + 1000
    started = time.perf_counter()
    pool = build_pool(template, count, WEBHOOK_SECRET)
    print(
        f"requests: {count} unique signed push deliveries of {pool.body_size} bytes "
        f"(built in {time.perf_counter() - started:.1f} s)"
    )

    size = len(pool.requests)
    designs = DESIGNS if args.yardsticks else DESIGNS[:1]
    comparisons = [
        Target(
            name=design,
            label=DESIGN_LABELS[design],
            port=free_port(),
            # bare and signed store nothing, so they may cycle through the pool
            cursor=Cursor(size=size, limit=size * 50, cycle=design != "durable"),
        )
        for design in designs
    ]
    real = Target(
        name="meshgate",
        label=f"meshgate `{ROUTE}`",
        port=free_port(),
        cursor=Cursor(size=size, limit=size, cycle=False),
    )
    real_cmd = [
        str(meshgate),
        "serve",
        "--config-repo",
        str(config_dir),
        "--data-dir",
        str(data_dir),
        "--host",
        HOST,
        "--port",
        str(real.port),
        "--log-level",
        "warning",
    ]
    # The runner and the status poster are off: this measures intake; the queued runs are
    # counted, not executed, and no status leaves for the (fictional) Gitea of the config.
    env = server_env(
        {
            "BENCH_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "BENCH_GITEA_TOKEN": "x",
            "MESHGATE_RUNNER_CONCURRENCY": "0",
            "MESHGATE_STATUS_CONCURRENCY": "0",
        }
    )
    servers_env = server_env({"BENCH_WEBHOOK_SECRET": WEBHOOK_SECRET})
    with contextlib.ExitStack() as stack:
        real_server = stack.enter_context(
            running("meshgate", real_cmd, env, workdir / "meshgate.log")
        )
        started_servers = []
        for target in comparisons:
            command = [
                sys.executable,
                str(SERVERS),
                target.name,
                str(target.port),
                str(workdir / target.name),
            ]
            log = workdir / f"{target.name}.log"
            started_servers.append(
                stack.enter_context(running(target.name, command, servers_env, log))
            )
        ready_after = real_server.wait_ready(real.port, "/readyz", args.start_timeout)
        for target, server in zip(comparisons, started_servers, strict=True):
            server.wait_ready(target.port, "/readyz", args.start_timeout)
            target.pid = server.process.pid
        real.pid = real_server.process.pid
        print(
            f"servers: meshgate pid {real_server.process.pid}, ready {ready_after:.1f} s after "
            f"start; {', '.join(t.name for t in comparisons)}; "
            f"loading in {args.rounds} round(s) ...",
            flush=True,
        )
        measure([*comparisons, real], pool, args)
    rows = check_rows(data_dir / "meshgate.db", pool, real.phases)
    runs = {target.name: target.measured for target in [*comparisons, real]}
    bare_run, real_run = runs["bare"], runs["meshgate"]
    real_summary = Summary.of(real_run)
    ratio = real_run.rate / bare_run.rate if bare_run.rate else 0.0
    clean = all(
        not phase.errors and set(phase.statuses) <= {202}
        for target in [*comparisons, real]
        for phase in target.phases
    )
    checks = [
        (ratio >= TARGET_RATIO, f"real / bare requests/s = {ratio:.2f} (target >= {TARGET_RATIO})"),
        (
            real_summary.p99 <= TARGET_P99_MS,
            f"real p99 = {real_summary.p99:.1f} ms (target <= {TARGET_P99_MS:g} ms)",
        ),
        (
            rows.ok,
            f"rows in deliveries = {rows.rows}, 202 answers = {rows.accepted} "
            f"(ids not found: {rows.missing_row_ids}, delivery ids not found: "
            f"{rows.missing_delivery_ids}, repeated ids: {rows.repeated_ids}, "
            f"duplicates: {rows.duplicates})",
        ),
        (clean, "every request answered 202, no connection errors"),
    ]
    if rows.runs is not None:
        expected = rows.accepted * len(matched)
        print(f"note: {rows.runs} runs queued ({expected} = 202s x rules matched, if none dedupe)")
    if rows.decisions_bytes is not None:
        print(
            f"note: stored match report (deliveries.decisions): {rows.decisions_bytes:,.0f} B mean"
        )
    if real_run.stopped_early:
        print(f"note: the real run used up the {count} unique requests; raise --pool")

    date = datetime.now(UTC).date().isoformat()
    print()
    print(f"### Results ({date}, {machine()})")
    print()
    print(
        f"{args.rules:,} trigger rules (the payload matches {len(matched)}), signed "
        f"{pool.body_size}-byte Gitea pushes, {args.concurrency} keep-alive connections on "
        f"loopback, {args.warmup:g} s warm-up then {args.seconds:g} s measured per server"
        f"{f' in {args.rounds} alternating rounds' if args.rounds > 1 else ''}, "
        f"SQLite (WAL); meshgate ready {ready_after:.1f} s after start."
    )
    print()
    print(
        "| endpoint | answers | 202/s | p50 ms | p90 ms | p99 ms | max ms "
        "| server CPU µs/answer | event loop CPU µs/answer | statuses |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for target in [*comparisons, real]:
        print(Summary.of(runs[target.name]).row(target.label))
    print()
    for ok, text in checks:
        print(f"- {_verdict(ok)}: {text}")
    for target in comparisons[1:]:
        rate = runs[target.name].rate
        print(
            f"- {target.label} / bare = {rate / bare_run.rate if bare_run.rate else 0.0:.2f} "
            f"(issue 3 states {ISSUE_YARDSTICKS[target.name]:.2f}); meshgate / it = "
            f"{real_run.rate / rate if rate else 0.0:.2f}"
        )
    if args.yardsticks:
        durable = runs["durable"].rate
        margin = TARGET_RATIO / ISSUE_YARDSTICKS["durable"]
        print(
            f"- the target asks {margin:.2f}x the straightforward design's rate where issue 3 "
            f"measured it; here that is {margin * durable:,.0f}/s, and meshgate did "
            f"{real_run.rate:,.0f}/s ({real_run.rate / durable / margin:.0%} of it)"
        )
    ok = all(ok for ok, _ in checks)
    print()
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
