"""Benchmark: config load and re-validation on a 10,000-document repo (issue 2, item 10).

Measured in one run, on the same generated files:
  bare   - yaml.load_all(..., Loader=yaml.CSafeLoader) over every file (the bare stack)
  full   - a cold ConfigLoader.load_tree + ConfigValidator.validate (what a new revision costs)
  change - one file edited, then load_tree + validate again (median of the repeats): once a
           flow's description (cross-document facts unchanged: the incremental path), once
           a rule's status_context (the cross-document pass runs over all 10,000 documents)

Targets: full <= 3x bare; change <= 50 ms median (both kinds of edit). Usage:
  .venv/bin/python bench/config_load.py [--files 1000] [--docs-per-file 10] [--repeats 15]
"""

from __future__ import annotations

import argparse
import gc
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

from controller.configsync.validation import ConfigValidator
from controller.loader import ConfigLoader

HEADER = "apiVersion: meshgate.dev/v1alpha1\n"


def _flow(ws: str, name: str) -> str:
    return f"""{HEADER}kind: Flow
metadata:
  name: {name}
  workspace: {ws}
  labels: {{suite: smoke, team: {ws}}}
spec:
  description: Create an item, read it back, wait for it to settle.
  requires: [user-service]
  timeout: 2m
  vars:
    email: qa+${{run.id}}@example.test
  steps:
    - name: create
      request:
        service: user-service
        method: POST
        path: /api/users
        headers: {{Authorization: "Bearer ${{secrets.api_key}}"}}
        json: {{email: "${{email}}", name: Ann}}
      expect:
        - status: 201
        - json: $.id
          type: string
      capture:
        user_id: {{json: $.id}}
    - name: read back
      request:
        service: user-service
        path: /api/users/${{user_id}}
      retry: {{attempts: 3, on: [connect, 503], delay: 200ms}}
      expect:
        - status: 200
        - json: $.email
          eq: ${{email}}
        - header: content-type
          contains: application/json
    - name: settles
      request:
        service: user-service
        path: /api/users/${{user_id}}/status
      poll:
        until:
          - json: $.state
            in: [ACTIVE, FAILED]
        interval: 1s
        timeout: 30s
      expect:
        - json: $.state
          eq: ACTIVE
  finally:
    - name: delete
      when:
        - var: user_id
          exists: true
      request:
        service: user-service
        method: DELETE
        path: /api/users/${{user_id}}
      expect:
        - status: {{in: [204, 404]}}
"""


def _rule(ws: str, index: int) -> str:
    return f"""{HEADER}kind: TriggerRule
metadata:
  name: rule-{index}
  workspace: {ws}
spec:
  integration: argocd
  repository: "{ws}-svc-{index}-pr-*"
  branch_filter: "*"
  event_types: [sync]
  suite: suite-{index % 50}
  environment:
    template: preview
    context: "pr-${{event.pr_number}}"
  status_context: meshgate/{ws}/rule-{index}
"""


def _suite(ws: str, index: int, flows_per_workspace: int) -> str:
    refs = "\n".join(f"    - flow: flow-{(index * 3 + k) % flows_per_workspace}" for k in range(3))
    return f"""{HEADER}kind: Suite
metadata:
  name: suite-{index}
  workspace: {ws}
spec:
  description: Smoke suite {index}
  concurrency: 4
  timeout: 10m
  secrets:
    api_key: {{env: SHOP_API_KEY}}
  readiness:
    - service: user-service
      path: /healthz
      interval: 2s
      timeout: 2m
  flows:
{refs}
"""


def _fixed(ws: str) -> list[str]:
    return [
        f"""{HEADER}kind: Integration
metadata: {{name: argocd, workspace: {ws}}}
spec:
  provider: argocd
  config: {{url: "https://argocd.example.internal", app_filter: "*"}}
  secrets:
    token: {{env: ARGOCD_TOKEN}}
    webhook_token: {{env: ARGOCD_WEBHOOK_TOKEN}}
""",
        f"""{HEADER}kind: Integration
metadata: {{name: gitea, workspace: {ws}}}
spec:
  provider: gitea
  config: {{url: "https://gitea.example.internal"}}
  secrets:
    token: {{env: GITEA_TOKEN}}
    webhook_secret: {{file: /run/secrets/gitea-webhook}}
""",
        f"""{HEADER}kind: EnvironmentTemplate
metadata: {{name: preview, workspace: {ws}}}
spec:
  provisioner: static
  default: true
  routing_policy:
    user-service: "http://user-service.review-${{context}}.svc:8080"
    order-service: "http://order-service.staging.svc:8083"
""",
    ]


def generate(root: Path, files: int, docs_per_file: int) -> int:
    """Write ``files`` files of ``docs_per_file`` documents spread over 10 workspaces."""
    workspaces = [f"team-{n}" for n in range(10)]
    per_workspace = files * docs_per_file // len(workspaces)
    documents: dict[str, list[str]] = {ws: _fixed(ws) for ws in workspaces}
    for ws in workspaces:
        remaining = per_workspace - len(documents[ws])
        rules = remaining // 4
        suites = 50
        flows = remaining - rules - suites
        documents[ws] += [_flow(ws, f"flow-{i}") for i in range(flows)]
        documents[ws] += [_suite(ws, i, flows) for i in range(suites)]
        documents[ws] += [_rule(ws, i) for i in range(rules)]
    all_docs = [doc for ws in workspaces for doc in documents[ws]]
    for number in range(files):
        chunk = all_docs[number * docs_per_file : (number + 1) * docs_per_file]
        folder = root / f"part-{number // 100:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"file-{number:04d}.yaml").write_text("---\n".join(chunk))
    return len(all_docs)


def bare_parse(root: Path) -> float:
    started = time.perf_counter()
    for path in sorted(root.rglob("*.yaml")):
        list(yaml.load_all(path.read_text(), Loader=yaml.CSafeLoader))
    return time.perf_counter() - started


def full_load(root: Path) -> tuple[float, int, int]:
    loader, validator = ConfigLoader(), ConfigValidator()
    started = time.perf_counter()
    tree = loader.load_tree(root)
    problems = (*tree.problems, *validator.validate(tree.documents))
    elapsed = time.perf_counter() - started
    if problems:
        print("generated config is not valid:", *problems[:5], sep="\n  ", file=sys.stderr)
        raise SystemExit(1)
    return elapsed, len(tree.documents), tree.files


def one_file_changes(root: Path, repeats: int, *, kind: str, old: str, new: str) -> list[float]:
    """Edit one file of documents of ``kind`` (``old`` → ``new`` plus a counter), reload."""
    loader, validator = ConfigLoader(), ConfigValidator()
    validator.validate(loader.load_tree(root).documents)
    candidates = [p for p in sorted(root.rglob("*.yaml")) if f"kind: {kind}" in p.read_text()]
    target = candidates[len(candidates) // 2]
    original = target.read_text()
    timings = []
    for repeat in range(repeats):
        target.write_text(original.replace(old, f"{new}{repeat}", 1))
        started = time.perf_counter()
        tree = loader.load_tree(root)
        problems = (*tree.problems, *validator.validate(tree.documents))
        timings.append(time.perf_counter() - started)
        if problems or tree.parsed_files != 1:
            raise SystemExit(f"unexpected reload: {problems[:3]}, parsed {tree.parsed_files}")
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--docs-per-file", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="meshgate-bench-"))
    try:
        count = generate(workdir, args.files, args.docs_per_file)
        size = sum(p.stat().st_size for p in workdir.rglob("*.yaml"))
        print(f"repo: {count} documents in {args.files} files, {size / 1e6:.1f} MB")
        gc.collect()
        bare = min(bare_parse(workdir) for _ in range(3))
        full, documents, files = min((full_load(workdir) for _ in range(3)), key=lambda r: r[0])
        changes = one_file_changes(
            workdir, args.repeats, kind="Flow", old="description: ", new="description: v"
        )
        median_ms = statistics.median(changes) * 1000
        rule_changes = one_file_changes(
            workdir,
            args.repeats,
            kind="TriggerRule",
            old="status_context: ",
            new="status_context: x",
        )
        rule_median_ms = statistics.median(rule_changes) * 1000
        ratio = full / bare
        print(f"bare CSafeLoader parse     : {bare * 1000:8.1f} ms")
        print(
            f"full load + validate       : {full * 1000:8.1f} ms  ({ratio:.2f}x bare; target <= 3x)"
        )
        for label, timings, median in (
            ("one-file change, a flow   ", changes, median_ms),
            ("one-file change, rules    ", rule_changes, rule_median_ms),
        ):
            print(
                f"{label} : {median:8.1f} ms median  (min {min(timings) * 1000:.1f}, "
                f"max {max(timings) * 1000:.1f}; target <= 50 ms)"
            )
        ok = ratio <= 3 and max(median_ms, rule_median_ms) <= 50
        ok = ok and documents == count and files == args.files
        print("targets met" if ok else "TARGETS MISSED")
        return 0 if ok else 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
