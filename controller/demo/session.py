"""``meshgate demo``: real runs in the dashboard within seconds, on a fresh machine.

What it does, all on loopback:

1. starts the stand-in shop (user, product and order services; the order service rejects
   every order, so one flow fails and the others pass);
2. copies the example config repo into the data directory, points its staging routes at the
   stand-ins and its secrets at values made up for this session;
3. starts meshgate on it (SQLite in the data directory, the runner on, commit statuses off:
   there is no Gitea to post them to);
4. sends itself a signed Gitea push to ``shop/user-service`` (its contract tests pass) and
   the TestMesh Argo CD body for a sync of ``order-service`` on staging (its checkout smoke
   test fails at "order is confirmed");
5. prints the dashboard's address and serves until interrupted.

Nothing here is used by ``meshgate serve``; the stand-ins are the ones the tests use.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import re
import secrets
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import uvicorn

from controller.app import build_controller
from controller.clients.meshgate_api import MeshgateAPI
from controller.demo.shop import ShopState, shop_apps
from controller.errors import SettingsError
from controller.settings import Secret, Settings

DEMO_COMMIT = "c0ffee" * 6 + "c0de"
STAGING_APP = "order-service"


def example_config() -> Path:
    """The example config repo shipped in the wheel (``controller/_example``), else the
    source tree's."""
    packaged = resources.files("controller") / "_example"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "example-config-repo"


async def run_demo(
    *,
    port: int,
    data_dir: Path,
    say: Callable[[str], None],
    stop: asyncio.Event | None = None,
) -> None:
    """Run the demo until ``stop`` is set (or the task is cancelled)."""
    stop = stop or asyncio.Event()
    webhook_secret, argocd_token, api_token, shop_key = (secrets.token_hex(16) for _ in range(4))
    shop = ShopState(api_key=shop_key, polls_until_final=1, final_status="REJECTED")
    async with _shop(shop) as routes:
        config = _prepare_config(data_dir / "config", routes)
        settings = Settings(
            config_repo=str(config),
            data_dir=data_dir,
            port=port,
            poll_interval=timedelta(minutes=10),
            runner_concurrency=2,
            status_concurrency=0,
            api_tokens=(Secret(api_token),),
        )
        environ = {
            "GITEA_WEBHOOK_SECRET": webhook_secret,
            "ARGOCD_WEBHOOK_TOKEN": argocd_token,
            "SHOP_API_KEY": shop_key,
        }
        controller = await build_controller(settings, environ=environ)
        try:
            async with (
                _served(controller.app, port=port, lifespan="on") as base_url,
                MeshgateAPI(base_url) as api,
            ):
                await api.wait_until_ready(within=30)
                runs = [
                    f"{base_url}/runs/{run}"
                    for run in await _send_webhooks(api, webhook_secret, argocd_token)
                ]
                say(
                    f"meshgate demo: dashboard at {base_url}/ ; runs {', '.join(runs)} are "
                    "starting (one passes, one fails at 'order is confirmed').\n"
                    f"  API token for re-runs in this session: {api_token}\n"
                    f"  data in {data_dir}; press Ctrl-C to stop."
                )
                await stop.wait()
        finally:
            await controller.close()


def _prepare_config(destination: Path, routes: dict[str, str]) -> Path:
    if destination.exists():
        shutil.rmtree(destination)
    shutil.copytree(example_config(), destination)
    staging = destination / "environments" / "staging.yaml"
    text = staging.read_text()
    for service, url in routes.items():
        text = re.sub(rf"({re.escape(service)}): http://\S+", rf"\1: {url}", text)
    staging.write_text(text)
    argocd = destination / "integrations" / "argocd-staging.yaml"
    argocd.write_text(
        re.sub(
            r"webhook_token: \{file: [^}]+\}",
            "webhook_token: {env: ARGOCD_WEBHOOK_TOKEN}",
            argocd.read_text(),
        )
    )
    return destination


async def _send_webhooks(api: MeshgateAPI, webhook_secret: str, argocd_token: str) -> list[int]:
    push = json.dumps(gitea_push()).encode()
    signature = hmac.new(webhook_secret.encode(), push, hashlib.sha256).hexdigest()
    sync = json.dumps(
        {
            "app_name": STAGING_APP,
            "revision": DEMO_COMMIT,
            "repository": "https://gitea.shop.internal/shop/order-service.git",
            "status": "Synced",
            "health": "Healthy",
        }
    ).encode()
    gitea_headers = {
        "Content-Type": "application/json",
        "X-Gitea-Event": "push",
        "X-Gitea-Delivery": str(uuid.uuid4()),
        "X-Gitea-Signature": signature,
    }
    argocd_headers = {"Content-Type": "application/json", "Authorization": f"Bearer {argocd_token}"}
    return [
        *await api.deliver("/api/v1/webhooks/gitea", push, gitea_headers),
        *await api.deliver("/api/v1/webhooks/argocd", sync, argocd_headers),
    ]


def gitea_push() -> dict[str, Any]:
    """A Gitea push of one commit to ``shop/user-service`` main (gitea.md §3), trimmed to
    what meshgate reads."""
    owner = {"id": 1, "login": "shop", "username": "shop"}
    return {
        "ref": "refs/heads/main",
        "before": "0ff1ce" * 6 + "0ff1",
        "after": DEMO_COMMIT,
        "compare_url": "",
        "commits": [
            {
                "id": DEMO_COMMIT,
                "message": "Demo: a change to the user service\n",
                "url": f"https://gitea.shop.internal/shop/user-service/commit/{DEMO_COMMIT}",
                "author": {"name": "Demo", "email": "demo@example.test", "username": "demo"},
            }
        ],
        "head_commit": {"id": DEMO_COMMIT, "message": "Demo: a change to the user service\n"},
        "repository": {
            "id": 42,
            "name": "user-service",
            "full_name": "shop/user-service",
            "owner": owner,
            "html_url": "https://gitea.shop.internal/shop/user-service",
            "clone_url": "https://gitea.shop.internal/shop/user-service.git",
            "default_branch": "main",
        },
        "pusher": owner,
        "sender": owner,
    }


@contextlib.asynccontextmanager
async def _shop(state: ShopState) -> AsyncIterator[dict[str, str]]:
    apps = shop_apps(state)
    async with contextlib.AsyncExitStack() as stack:
        routes = {
            name: await stack.enter_async_context(_served(app, port=0))
            for name, app in apps.items()
        }
        yield routes


@contextlib.asynccontextmanager
async def _served(
    app: Any, *, port: int, lifespan: Literal["on", "off"] = "off"
) -> AsyncIterator[str]:
    """Serve ``app`` on 127.0.0.1 (``port`` 0: any free one); yields its base URL."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
    except OSError as exc:
        listener.close()
        raise SettingsError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}") from exc
    config = uvicorn.Config(app, log_config=None, lifespan=lifespan, server_header=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        async with asyncio.timeout(10):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
        listener.close()
