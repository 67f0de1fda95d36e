"""Overlapping requests through the twin never read each other's events.

Regression: Powertools' REST resolver keeps the current event on a class attribute, so two calls
running at once in one process could each handle the other's request — one transcript relayed
twice, another lost. The handlers now route per call; this test drives many concurrent posts from
many users and checks that every page gets exactly its own user's transcripts, once each.
"""

from __future__ import annotations

import asyncio
import contextlib

import httpx

from tests.local.conftest import RunningStack, new_session
from tests.local.local_ws import collect, open_page

USERS = 10
POSTS_PER_USER = 20


async def test_concurrent_posts_of_many_users_each_reach_only_their_own_page_once(
    scripted_stack: RunningStack,
) -> None:
    with scripted_stack.client() as http:
        sessions = [new_session(http) for _ in range(USERS)]
    pages = [await open_page(scripted_stack.ws_url, s["token"]) for s in sessions]

    async with httpx.AsyncClient(base_url=scripted_stack.base_url, timeout=30) as client:
        # A device posts a few at a time (the interpreter: one); more than USER_MAX_IN_FLIGHT at
        # once from one user is answered 429 rate_limited by design (docs/PROTOCOL.md).
        per_user = [asyncio.Semaphore(4) for _ in range(USERS)]

        async def post(user: int, n: int) -> None:
            body = {"utteranceId": f"u{n}", "seq": 0, "text": f"user{user}-{n}", "final": True}
            token = sessions[user]["deviceToken"]
            async with per_user[user]:
                response = await client.post(
                    "/api/transcripts", json=body, headers={"Authorization": f"Bearer {token}"}
                )
            assert response.status_code == 202, response.text
            assert response.json()["delivered"] == 1

        await asyncio.gather(*(post(u, n) for n in range(POSTS_PER_USER) for u in range(USERS)))

    for user, page in enumerate(pages):
        seen: list[str] = []

        def all_arrived(event: dict[str, object], seen: list[str] = seen) -> bool:
            seen.append(str(event.get("text")))
            return len(seen) == POSTS_PER_USER

        await collect(page, all_arrived, timeout=10.0)
        assert sorted(seen) == sorted(f"user{user}-{n}" for n in range(POSTS_PER_USER))
        with contextlib.suppress(TimeoutError):  # and nothing more: no duplicates
            extra = await asyncio.wait_for(page.recv(), 0.3)
            raise AssertionError(f"unexpected extra event {extra!r}")
        await page.close()
