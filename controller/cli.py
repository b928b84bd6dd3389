"""The ``meshgate`` command: ``serve`` and ``validate``.

This is the CLI's composition root: the only place that reads ``os.environ`` (handing it to
settings) and configures logging.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import socket
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

import uvicorn

from controller import __version__
from controller.app import build_controller
from controller.configsync.validation import ConfigValidator
from controller.errors import MeshgateError, SettingsError
from controller.loader import ConfigLoader
from controller.models.problems import Problem
from controller.settings import Settings, load_settings

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
    serve.set_defaults(handler=_serve)

    validate = commands.add_parser(
        "validate", help="check a config repo folder; exit 1 when anything is wrong"
    )
    validate.add_argument("path", help="the config repo folder")
    validate.add_argument("--config-path", default="", help="subfolder holding the documents")
    validate.add_argument("--format", choices=("text", "json"), default="text")
    validate.set_defaults(handler=_validate)
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
        )
    }
    try:
        settings = load_settings(os.environ, flags)
    except MeshgateError as exc:
        print(f"meshgate serve: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if settings.log_level != "debug":
        logging.getLogger("apscheduler").setLevel(logging.WARNING)  # a line per tick otherwise
    log.info("starting meshgate %s with %s", __version__, settings.describe())
    try:
        asyncio.run(_run_server(settings, os.environ))
    except MeshgateError as exc:
        print(f"meshgate serve: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


async def _run_server(settings: Settings, environ: Mapping[str, str]) -> None:
    listener = _listen(settings.host, settings.port)
    try:
        controller = await build_controller(settings, environ=environ)
        try:
            config = uvicorn.Config(
                controller.app,
                host=settings.host,
                port=settings.port,
                log_config=None,
                lifespan="on",
                server_header=False,
            )
            await uvicorn.Server(config).serve(sockets=[listener])
        finally:
            await controller.close()
    finally:
        listener.close()


def _listen(host: str, port: int) -> socket.socket:
    """Bind before anything starts: uvicorn reports a taken port by exiting the process."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise SettingsError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return listener


def _validate(args: argparse.Namespace) -> int:
    root = Path(args.path)
    if not root.is_dir():
        print(f"meshgate validate: {args.path}: not a directory", file=sys.stderr)
        return 2
    tree = ConfigLoader().load_tree(root, args.config_path.strip("/"))
    semantic = ConfigValidator().validate(tree.documents)
    problems = sorted((*tree.problems, *semantic), key=Problem.sort_key)
    config_root = root / args.config_path.strip("/") if args.config_path else root
    if args.format == "json":
        _print_json(sys.stdout, config_root, tree.files, len(tree.documents), problems)
    else:
        _print_text(sys.stdout, config_root, tree.files, len(tree.documents), problems)
    return 1 if problems else 0


def _print_text(
    out: TextIO, root: Path, files: int, documents: int, problems: Sequence[Problem]
) -> None:
    for problem in problems:
        out.write(problem.render(_display_path(root, problem.path)) + "\n")
    summary = f"{documents} documents in {files} files"
    if problems:
        out.write(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in {summary}\n")
    else:
        out.write(f"valid: {summary}\n")


def _print_json(
    out: TextIO, root: Path, files: int, documents: int, problems: Sequence[Problem]
) -> None:
    report = {
        "valid": not problems,
        "root": str(root),
        "files": files,
        "documents": documents,
        "problems": [
            {**problem.to_dict(), "file": _display_path(root, problem.path)} for problem in problems
        ],
    }
    json.dump(report, out, indent=2)
    out.write("\n")


def _display_path(root: Path, relative: str) -> str:
    return str(root / relative) if relative else str(root)
