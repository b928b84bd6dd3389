"""The status poster with real storage and the fake Gitea: what it does with each kind of
answer (gitea.md §4), and what it does not send."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from controller.clients.gitea import GiteaClient
from controller.models.comments import DesiredComment
from controller.models.statuses import DesiredStatus, StatusTarget, run_rank
from controller.secretrefs import SecretResolver
from controller.settings import Secret
from controller.statuses.access import GiteaAccess
from controller.statuses.poster import StatusPoster
from controller.statuses.retry_policy import PosterSettings
from controller.storage import Storage
from tests.support.config import snapshot_of
from tests.support.fake_gitea import FakeGitea, gitea_integration
from tests.support.server import serving

pytestmark = pytest.mark.anyio
TOKEN = "gitea-token-for-poster-tests-c41d"
SHA = "c" * 40
TARGET = StatusTarget("shop", "gitea", "alice/demo", SHA)
QUICK = PosterSettings(
    concurrency=4, first_delay=timedelta(milliseconds=10), max_delay=timedelta(milliseconds=50)
)


@dataclass
class Poster:
    poster: StatusPoster
    storage: Storage
    gitea: FakeGitea
    url: str


@contextlib.asynccontextmanager
async def poster(tmp_path: Path, settings: PosterSettings = QUICK) -> AsyncIterator[Poster]:
    gitea = FakeGitea(token=TOKEN)
    async with (
        serving(gitea) as url,
        await Storage.open(f"sqlite+aiosqlite:///{tmp_path / 'meshgate.db'}") as storage,
    ):
        snapshot = snapshot_of(gitea_integration(url))
        access = GiteaAccess(
            config=lambda: snapshot,
            secrets=SecretResolver(
                environ={"GITEA_TOKEN": TOKEN, "GITEA_WEBHOOK_SECRET": "whsec-0123456789"}
            ),
        )
        posting = StatusPoster(
            storage=storage,
            access=access,
            public_url="http://mg",
            owner="test",
            settings=settings,
        )
        try:
            yield Poster(posting, storage, gitea, url)
        finally:
            await posting.aclose()
    assert gitea.violations == []


def status(state: str, run: int, *, final: bool, description: str = "") -> DesiredStatus:
    return DesiredStatus(
        target=TARGET,
        context="meshgate/smoke",
        state=state,  # type: ignore[arg-type]
        description=description or f"{state} {run}",
        target_url=f"http://mg/runs/{run}",
        rank=run_rank(run, final=final),
        run_id=run,
    )


async def desire(p: Poster, *statuses: DesiredStatus) -> None:
    await p.storage.desire_statuses(statuses, now=datetime.now(UTC))


async def drain_until_settled(p: Poster, rounds: int = 200) -> None:
    """Drain until nothing is due any more (retries included), as the loop would."""
    for _ in range(rounds):
        await p.poster.drain()
        if not await p.storage.list_statuses(delivery="pending"):
            return
        earliest = await p.storage.next_status_attempt(now=datetime.now(UTC))
        if earliest is not None:
            wait = (earliest - datetime.now(UTC)).total_seconds()
            if wait > 0:
                await asyncio.sleep(min(wait, 0.2))
    raise AssertionError("the outbox did not settle")


async def test_the_latest_desired_state_is_posted_and_nothing_more(tmp_path: Path) -> None:
    async with poster(tmp_path) as p:
        await desire(p, status("pending", 1, final=False), status("success", 1, final=True))
        await drain_until_settled(p)
        assert p.gitea.statuses_of("alice/demo", SHA) == ["success"]
        await p.poster.drain()
        assert len(p.gitea.status_posts()) == 1


async def test_a_state_already_shown_is_not_posted_again(tmp_path: Path) -> None:
    async with poster(tmp_path) as p:
        await desire(p, status("success", 1, final=True, description="same"))
        await drain_until_settled(p)
        same = status("success", 1, final=True, description="same")
        await desire(p, dataclasses.replace(same, rank=same.rank + 4))
        await drain_until_settled(p)
        assert len(p.gitea.status_posts()) == 1
        (entry,) = await p.storage.list_statuses()
        assert (entry.version, entry.posted_version) == (2, 2)


async def test_an_unknown_commit_is_tried_a_few_times_then_dead(tmp_path: Path) -> None:
    async with poster(tmp_path) as p:
        p.gitea.known_shas = set()
        await desire(p, status("success", 1, final=True))
        await drain_until_settled(p)
        (entry,) = await p.storage.list_statuses(delivery="dead")
        assert entry.attempts == QUICK.server_error_attempts
        assert "500" in entry.last_error
        assert len(p.gitea.status_posts()) == QUICK.server_error_attempts


async def test_retry_after_is_honoured(tmp_path: Path) -> None:
    async with poster(tmp_path) as p:
        p.gitea.fail(429, times=1, retry_after="30")
        await desire(p, status("pending", 1, final=False))
        before = datetime.now(UTC)
        await p.poster.drain()
        (entry,) = await p.storage.list_statuses(delivery="pending")
        assert entry.next_attempt_at - before >= timedelta(seconds=29)
        assert "429" in entry.last_error


async def test_a_dropped_connection_is_retried_until_posted(tmp_path: Path) -> None:
    async with poster(tmp_path) as p:
        p.gitea.fail(None, times=2)
        await desire(p, status("failure", 1, final=True))
        await drain_until_settled(p)
        assert p.gitea.statuses_of("alice/demo", SHA) == ["failure"]
        assert [r.answered for r in p.gitea.status_posts()] == [None, None, 201]


async def test_a_budget_spent_on_an_outage_dead_letters_the_status(tmp_path: Path) -> None:
    short = PosterSettings(
        concurrency=2,
        first_delay=timedelta(milliseconds=10),
        max_delay=timedelta(milliseconds=20),
        retry_for=timedelta(milliseconds=300),
    )
    async with poster(tmp_path, short) as p:
        p.gitea.fail(503)
        await desire(p, status("success", 1, final=True))
        await drain_until_settled(p)
        (entry,) = await p.storage.list_statuses(delivery="dead")
        assert entry.attempts >= 3
        assert "503" in entry.last_error


async def test_posts_run_concurrently_up_to_the_limit(tmp_path: Path) -> None:
    async with poster(tmp_path) as p:
        p.gitea.latency = 0.05
        await desire(
            p,
            *(
                DesiredStatus(
                    target=StatusTarget("shop", "gitea", "alice/demo", f"{n:040x}"),
                    context="meshgate/smoke",
                    state="success",
                    description="ok",
                    target_url=f"http://mg/runs/{n}",
                    rank=run_rank(n, final=True),
                    run_id=n,
                )
                for n in range(1, 21)
            ),
        )
        await p.poster.drain()
        assert len(p.gitea.status_posts()) == 20
        assert p.gitea.most_in_flight == QUICK.concurrency


def review_comment(body: str, rank: int) -> DesiredComment:
    return DesiredComment(
        "shop", "gitea", "alice/demo", 12, f"<!-- meshgate:test -->\n{body}", rank
    )


async def test_a_comment_is_created_once_then_edited_in_place(tmp_path: Path) -> None:
    async with poster(tmp_path) as p:
        await p.storage.desire_comment(review_comment("first", 1), now=datetime.now(UTC))
        await p.poster.drain()
        await p.storage.desire_comment(review_comment("second", 2), now=datetime.now(UTC))
        await p.poster.drain()
        (written,) = p.gitea.comments[("alice/demo", 12)]
        assert written["body"].endswith("second")
        (post,) = await p.storage.list_comments()
        assert post.comment_id == written["id"]


async def test_a_comment_whose_id_was_lost_is_found_by_its_marker(tmp_path: Path) -> None:
    async with poster(tmp_path) as p:
        async with GiteaClient(base_url=p.url) as person:
            await person.create_comment("alice/demo", 12, "a person's comment", token=Secret(TOKEN))
            await person.create_comment(
                "alice/demo",
                12,
                "<!-- meshgate:test -->\nfrom before the database was lost",
                token=Secret(TOKEN),
            )
        await p.storage.desire_comment(review_comment("now", 1), now=datetime.now(UTC))
        await p.poster.drain()
        bodies = [c["body"] for c in p.gitea.comments[("alice/demo", 12)]]
        assert bodies == ["a person's comment", "<!-- meshgate:test -->\nnow"]


async def test_a_deleted_comment_is_written_anew(tmp_path: Path) -> None:
    async with poster(tmp_path) as p:
        await p.storage.desire_comment(review_comment("first", 1), now=datetime.now(UTC))
        await p.poster.drain()
        p.gitea.comments[("alice/demo", 12)].clear()
        await p.storage.desire_comment(review_comment("second", 2), now=datetime.now(UTC))
        await p.poster.drain()
        (written,) = p.gitea.comments[("alice/demo", 12)]
        assert written["body"].endswith("second")


async def test_a_comment_waits_out_an_outage(tmp_path: Path) -> None:
    async with poster(tmp_path) as p:
        p.gitea.fail(503, times=3)
        await p.storage.desire_comment(review_comment("first", 1), now=datetime.now(UTC))
        for _ in range(100):
            await p.poster.drain()
            if p.gitea.comments[("alice/demo", 12)]:
                break
            await asyncio.sleep(0.05)
        (written,) = p.gitea.comments[("alice/demo", 12)]
        assert written["body"].endswith("first")
