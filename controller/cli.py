"""The ``meshgate`` command: ``serve``, ``validate``, ``explain`` and ``run``.

This is the CLI's composition root: the only place that reads ``os.environ`` (handing it to
settings) and configures logging.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from controller import __version__
from controller.clients.meshgate_api import explain_remotely
from controller.configsync.folder import folder_snapshot, load_folder, write_report
from controller.demo.session import run_demo
from controller.errors import MeshgateError, SettingsError
from controller.flows.junit import render_junit
from controller.intake.explain import explain
from controller.intake.explain_text import format_explanation
from controller.logs import configure_logging
from controller.matcher.service import Matcher
from controller.runner.local import LocalRun, PreparedRun, run_locally
from controller.runner.progress import ConsoleProgress
from controller.serving import serve
from controller.settings import load_settings

log = logging.getLogger("controller")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    result: int = args.handler(args)
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="meshgate", description="GitOps-native test controller for Argo CD and Gitea."
    )
    parser.add_argument("--version", action="version", version=f"meshgate {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the controller (HTTP API, webhooks, jobs)")
    serve.add_argument("--host", help="address to listen on (MESHGATE_HOST, default 127.0.0.1)")
    serve.add_argument("--port", help="port to listen on (MESHGATE_PORT, default 5016)")
    serve.add_argument("--config-repo", help="Git URL or local folder (MESHGATE_CONFIG_REPO)")
    serve.add_argument("--config-branch", help="branch to follow (MESHGATE_CONFIG_BRANCH)")
    serve.add_argument("--config-path", help="subfolder with the documents (MESHGATE_CONFIG_PATH)")
    serve.add_argument("--poll-interval", help="e.g. 30s (MESHGATE_POLL_INTERVAL)")
    serve.add_argument("--data-dir", help="local state directory (MESHGATE_DATA_DIR)")
    serve.add_argument("--database-url", help="SQLAlchemy URL (MESHGATE_DATABASE_URL)")
    serve.add_argument("--log-level", help="debug, info, warning, error (MESHGATE_LOG_LEVEL)")
    serve.add_argument("--log-format", help="text or json lines (MESHGATE_LOG_FORMAT)")
    serve.set_defaults(handler=_serve)

    demo = commands.add_parser(
        "demo",
        help="see real runs in the dashboard: the example config against stand-in services",
        description="Start stand-in shop services on loopback, serve the example config with "
        "its staging routes pointed at them, send a signed Gitea push and an Argo CD sync to "
        "itself, and print the dashboard's address. Ctrl-C stops it.",
    )
    demo.add_argument("--port", type=int, default=5016, help="port to listen on (default 5016)")
    demo.add_argument(
        "--data-dir", default=".meshgate-demo", help="its state (default ./.meshgate-demo)"
    )
    demo.set_defaults(handler=_demo)

    validate = commands.add_parser(
        "validate", help="check a config repo folder; exit 1 when anything is wrong"
    )
    validate.add_argument("path", help="the config repo folder")
    validate.add_argument("--config-path", default="", help="subfolder holding the documents")
    validate.add_argument("--format", choices=("text", "json"), default="text")
    validate.set_defaults(handler=_validate)

    explain = commands.add_parser(
        "explain",
        help="show which trigger rules a webhook payload starts, and why the others do not",
        description="Evaluate a webhook body against the config without side effects. "
        "Exit 0 when at least one run would be queued, 1 when none, 2 on bad input.",
    )
    explain.add_argument("file", help="the webhook body (JSON); - reads standard input")
    explain.add_argument("--source", required=True, choices=("argocd", "gitea"))
    explain.add_argument(
        "--event", default="", help="Gitea event (X-Gitea-Event); inferred when omitted"
    )
    explain.add_argument(
        "--config",
        help="config repo folder (default: MESHGATE_CONFIG_REPO when it is a folder, "
        "else ./example-config-repo)",
    )
    explain.add_argument("--config-path", default="", help="subfolder holding the documents")
    explain.add_argument(
        "--server", help="ask a running meshgate about its live config, e.g. http://localhost:5016"
    )
    explain.add_argument("--workspace", help="only this workspace's integrations")
    explain.add_argument("--integration", help="only this integration")
    explain.add_argument("--rule", help="only this rule")
    explain.add_argument("--format", choices=("text", "json"), default="text")
    explain.set_defaults(handler=_explain)

    run = commands.add_parser(
        "run",
        help="run a suite now against services you name (local development)",
        description="Run SUITE from a config folder with live progress; nothing is stored. "
        "Exit 0 when every flow passed, 1 otherwise, 2 when the run cannot start.",
    )
    run.add_argument("suite", help="the suite's name")
    run.add_argument(
        "--config",
        help="config repo folder (default: MESHGATE_CONFIG_REPO when it is a folder, "
        "else ./example-config-repo)",
    )
    run.add_argument("--config-path", default="", help="subfolder holding the documents")
    run.add_argument("--workspace", help="the suite's workspace (needed when several have it)")
    run.add_argument("--template", help="EnvironmentTemplate to route by (default: the default)")
    run.add_argument("--context", help="environment context (${context} in routing policies)")
    run.add_argument(
        "--route",
        action="append",
        default=[],
        metavar="SERVICE=URL",
        help="send SERVICE to URL, e.g. user-service=http://localhost:8080 (repeatable)",
    )
    run.add_argument("--junit", metavar="FILE", help="write a JUnit XML report to FILE")
    run.add_argument("--json", metavar="FILE", help="write the full result as JSON to FILE")
    run.set_defaults(handler=_run)
    return parser


def _serve(args: argparse.Namespace) -> int:
    flags = {
        name: getattr(args, name)
        for name in (
            "host",
            "port",
            "config_repo",
            "config_branch",
            "config_path",
            "poll_interval",
            "data_dir",
            "database_url",
            "log_level",
            "log_format",
        )
    }
    try:
        settings = load_settings(os.environ, flags)
    except MeshgateError as exc:
        print(f"meshgate serve: {exc}", file=sys.stderr)
        return 2
    configure_logging(
        level=settings.log_level,
        log_format="json" if settings.log_format == "json" else "text",
    )
    log.info("starting meshgate %s with %s", __version__, settings.describe())
    try:
        asyncio.run(serve(settings, os.environ))
    except MeshgateError as exc:
        print(f"meshgate serve: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


def _demo(args: argparse.Namespace) -> int:
    logging.basicConfig(level="WARNING", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    data_dir = Path(args.data_dir)
    for stale in data_dir.glob("meshgate.db*"):
        stale.unlink()  # each demo starts from an empty history
    try:
        asyncio.run(
            run_demo(port=args.port, data_dir=data_dir, say=lambda text: print(text, flush=True))
        )
    except MeshgateError as exc:
        print(f"meshgate demo: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


def _validate(args: argparse.Namespace) -> int:
    root = Path(args.path)
    if not root.is_dir():
        print(f"meshgate validate: {args.path}: not a directory", file=sys.stderr)
        return 2
    loaded = load_folder(root, args.config_path)
    write_report(sys.stdout, loaded, as_json=args.format == "json")
    return 1 if loaded.problems else 0


def _explain(args: argparse.Namespace) -> int:
    name = "<stdin>" if args.file == "-" else args.file
    try:
        body = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as exc:
        print(f"meshgate explain: {name}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    options = {"workspace": args.workspace, "integration": args.integration, "rule": args.rule}
    try:
        json.loads(body)
    except ValueError as exc:
        where = f":{exc.lineno}:{exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        print(f"{name}{where}: not valid JSON: {exc}", file=sys.stderr)
        return 2
    try:
        if args.server:
            report = explain_remotely(
                args.server, source=args.source, body=body, event=args.event, **options
            )
        else:
            report = _explain_locally(args, body, options)
    except MeshgateError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 2
    if args.format == "json":
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_explanation(report))
    would_queue = any(verdict["would_queue"] for verdict in report["integrations"])
    return 0 if would_queue else 1


def _explain_locally(
    args: argparse.Namespace, body: bytes, options: Mapping[str, str | None]
) -> dict[str, Any]:
    settings = load_settings(os.environ, {"config_repo": args.config})
    if settings.config_source_kind != "folder":
        raise SettingsError("MESHGATE_CONFIG_REPO is a Git URL: use --config FOLDER or --server")
    snapshot, _ = folder_snapshot(Path(settings.config_repo), args.config_path)
    explanation = explain(
        snapshot=snapshot,
        matcher=Matcher(),
        source=args.source,
        body=body,
        gitea_event=args.event,
        **options,
    )
    return explanation.to_dict()


def _run(args: argparse.Namespace) -> int:
    routes = {}
    for text in args.route:
        service, sep, url = text.partition("=")
        if not sep or not service or not url:
            print(f"meshgate run: --route {text!r}: expected SERVICE=URL", file=sys.stderr)
            return 2
        routes[service.strip()] = url.strip()
    settings = load_settings(os.environ, {"config_repo": args.config})
    if settings.config_source_kind != "folder":
        print(
            "meshgate run: MESHGATE_CONFIG_REPO is a Git URL: use --config FOLDER", file=sys.stderr
        )
        return 2
    request = LocalRun(
        config=Path(settings.config_repo),
        suite=args.suite,
        config_path=args.config_path,
        workspace=args.workspace,
        template=args.template,
        context=args.context,
        routes=routes,
    )
    progress = ConsoleProgress(sys.stdout, tty=sys.stdout.isatty())

    def started(prepared: PreparedRun) -> None:
        plan, info = prepared.plan, prepared.info
        header = (
            f"meshgate run {plan.suite.name} (workspace {plan.suite.workspace}, "
            f"environment {info.environment}, run {info.run_id})"
        )
        progress.start(plan, header, [*prepared.warnings])

    try:
        prepared, result = asyncio.run(
            run_locally(
                request, environ=os.environ, listeners=progress.listeners(), on_prepared=started
            )
        )
    except MeshgateError as exc:
        print(f"meshgate run: {exc}", file=sys.stderr)
        return 2
    progress.summary(result)
    granularity = prepared.plan.junit_granularity
    outputs = []
    if args.junit:
        outputs.append((args.junit, render_junit(result, prepared.info, granularity=granularity)))
    if args.json:
        outputs.append((args.json, json.dumps(result.to_dict(), indent=2).encode() + b"\n"))
    for name, content in outputs:
        try:
            Path(name).write_bytes(content)
        except OSError as exc:
            print(f"meshgate run: cannot write {name}: {exc.strerror or exc}", file=sys.stderr)
            return 2
        print(f"wrote {name}")
    return 0 if result.status == "passed" else 1
