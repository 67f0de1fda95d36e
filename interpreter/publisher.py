"""Posts transcripts to ``POST {api}/api/transcripts``: in order, retried, no final lost silently.

One worker sends the outbox head first (so the page sees each utterance in ``seq`` order).

- Finals are written to the durable outbox (``interpreter.outbox``) before they are queued and
  deleted once the API has answered for them, so a crash or a restart loses none; what an
  earlier run left is sent first, with its own ids, which the API de-duplicates.
- The outbox is bounded (``max_pending``, ``--queue-size``): a queued partial is dropped as soon
  as a newer transcript of its utterance is queued (the API would replace it anyway); when the
  outbox is still full the oldest partial goes, and only when it holds nothing but finals is the
  oldest final dropped, with an error in the log and in ``dropped_finals``.
- The API unreachable (connection refused or reset, connect timeout) is an outage: retried with
  capped exponential backoff and jitter for as long as it lasts. An answer that may be repeatable
  (429, 5xx, 408, a read timeout) is retried the same way ``max_attempts`` times; then the post
  is reported and set aside (a final stays in the outbox file and is sent again at the next
  start, counted in ``parked``; a partial is dropped), so one poisoned post never blocks the
  queue. Other 4xx are reported and dropped at once: the same request would fail the same way.
- 401/403: the device token is renewed (``POST /api/sessions/device``) and the post sent again;
  only when the API refuses to renew it does delivery stop with ``ApiAuthError``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
from collections import deque
from dataclasses import dataclass
from typing import Literal

import httpx

from voicebot.contract.wire import TranscriptPost

from .outbox import DurableOutbox
from .tokens import DeviceCredentials, error_text

log = logging.getLogger(__name__)


class ApiAuthError(RuntimeError):
    """The API refused the device token and would not renew it; retrying cannot help."""


class ApiUnavailableError(RuntimeError):
    """The API could not be reached (or is not a Voicebot API) when the interpreter started."""


@dataclass(eq=False)
class _Queued:
    post: TranscriptPost
    row: int | None = None  # its row in the durable outbox (finals only)


# What one POST came to: done with, retry (outage: unbounded; answer: counted), or refused token.
_Outcome = Literal["done", "outage", "answer", "auth"]


class TranscriptPublisher:
    def __init__(
        self,
        api_url: str,
        token: str | DeviceCredentials,
        *,
        max_pending: int = 1000,
        max_attempts: int = 8,
        backoff_initial_s: float = 0.25,
        backoff_max_s: float = 5.0,
        request_timeout_s: float = 5.0,
        client: httpx.AsyncClient | None = None,
        outbox: DurableOutbox | None = None,
    ) -> None:
        self._base = api_url.rstrip("/")
        self.credentials = (
            token if isinstance(token, DeviceCredentials) else DeviceCredentials(token)
        )
        self._max_pending = max_pending
        self._max_attempts = max_attempts
        self._backoff_initial = backoff_initial_s
        self._backoff_max = backoff_max_s
        self._client = client or httpx.AsyncClient(timeout=request_timeout_s)
        self._store = outbox
        self._outbox: deque[_Queued] = deque()
        self._in_flight: _Queued | None = None
        self._has_work = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._failing = False
        self._last_status = ""  # what the last failed attempt came to, for the logs
        self._refused_token = ""
        self.sent = 0
        self.dropped_partials = 0
        self.dropped_finals = 0
        self.rejected = 0  # 4xx other than 401/403/408/409/429: reported and dropped
        self.parked = 0  # finals set aside after max_attempts; in the outbox file for next start
        self.restored = 0  # finals an earlier run left, sent first
        if outbox is not None:
            self._restore(outbox)

    def _restore(self, outbox: DurableOutbox) -> None:
        for row, post in outbox.pending():
            self._outbox.append(_Queued(post, row))
        self.restored = len(self._outbox)
        if self.restored:
            log.warning(
                "%d final transcripts left by an earlier run; sending them first", self.restored
            )
            self._idle.clear()
            self._has_work.set()
        others = outbox.others()
        if others:
            log.warning(
                "%d final transcripts of another device token wait in %s; they are not sent "
                "with this one",
                others,
                outbox.path,
            )

    @property
    def pending(self) -> int:
        return len(self._outbox) + (self._in_flight is not None)

    async def check_reachable(self) -> None:
        """Fail fast on a wrong URL or a stopped API instead of queueing forever."""
        url = f"{self._base}/api/health"
        try:
            response = await self._client.get(url)
        except httpx.HTTPError as exc:
            raise ApiUnavailableError(f"Cannot reach the Voicebot API at {url}: {exc!r}") from exc
        if response.status_code != 200:
            raise ApiUnavailableError(
                f"{url} answered HTTP {response.status_code}; is --api the API's base URL "
                "(the local stack's http://127.0.0.1:PORT or the CloudFront URL)?"
            )

    def submit(self, post: TranscriptPost) -> None:
        """Queue a transcript; never waits on the network (a final waits for its disk write)."""
        superseded = [
            q for q in self._outbox if q.post.utteranceId == post.utteranceId and not q.post.final
        ]
        for stale in superseded:
            self._outbox.remove(stale)
        self.dropped_partials += len(superseded)
        if len(self._outbox) >= self._max_pending:
            self._make_room()
        queued = _Queued(post)
        if post.final and self._store is not None:
            try:
                queued.row = self._store.put(post)
            except sqlite3.Error as exc:  # a full or failing disk: still deliver it from memory
                log.error(
                    "could not write a final transcript to the outbox file (%s); it is kept in "
                    "memory only and would not survive a crash",
                    exc,
                )
        self._outbox.append(queued)
        self._idle.clear()
        self._has_work.set()

    def _make_room(self) -> None:
        oldest_partial = next((q for q in self._outbox if not q.post.final), None)
        if oldest_partial is not None:
            self._outbox.remove(oldest_partial)
            self.dropped_partials += 1
            if self.dropped_partials == 1 or self.dropped_partials % 100 == 0:
                log.warning(
                    "outbox full (%d transcripts waiting for the API): dropping the oldest "
                    "partials (%d so far); finals are kept",
                    len(self._outbox),
                    self.dropped_partials,
                )
            return
        oldest = self._outbox.popleft()
        self._forget(oldest)
        self.dropped_finals += 1
        log.error(
            "outbox full of finals (%d, --queue-size): DROPPED the oldest final transcript "
            "(utterance %s seq %d: %r); %d finals dropped so far",
            self._max_pending,
            oldest.post.utteranceId,
            oldest.post.seq,
            oldest.post.text[:80],
            self.dropped_finals,
        )

    async def drain(self, timeout_s: float) -> bool:
        """Wait until everything queued was delivered; False if that took longer than timeout_s."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    async def keep_token_fresh(self) -> None:
        """Renew the device token before it expires (a task beside ``run``)."""
        await self.credentials.keep_fresh(self._client, self._base)

    async def run(self) -> None:
        """The delivery worker. Returns only by raising ``ApiAuthError`` (or being cancelled)."""
        try:
            while True:
                await self._has_work.wait()
                if not self._outbox:
                    self._has_work.clear()
                    self._idle.set()
                    continue
                self._in_flight = self._outbox.popleft()
                if await self._deliver(self._in_flight.post):
                    self._forget(self._in_flight)
                self._in_flight = None
        finally:
            await self._client.aclose()

    def _forget(self, queued: _Queued) -> None:
        if queued.row is not None and self._store is not None:
            self._store.delete(queued.row)

    async def _deliver(self, post: TranscriptPost) -> bool:
        """True when the post is done with; False when it was set aside (kept on disk)."""
        delay = self._backoff_initial
        answers = 0
        while True:
            outcome = await self._attempt(post)
            if outcome == "done":
                return True
            if outcome == "auth":
                renewal = await self.credentials.refresh(
                    self._client, self._base, self._refused_token
                )
                if renewal == "refreshed":
                    continue
                if renewal == "refused":
                    raise ApiAuthError(
                        f"The API refused the device token ({self._last_status}) and would not "
                        "renew it. Get a fresh deviceToken from POST /api/sessions and pass it "
                        "with --token or VOICEBOT_DEVICE_TOKEN."
                    )
                outcome = "outage"  # the renewal could not reach the API
            if not post.final and self._is_superseded(post):
                return True  # a newer transcript of this utterance is queued: no point retrying
            if outcome == "answer":
                answers += 1
                if answers >= self._max_attempts:
                    self._set_aside(post, answers)
                    return not post.final
            if not self._failing:
                self._failing = True
                log.warning(
                    "API unavailable (%s); retrying, %d transcripts waiting",
                    self._last_status,
                    self.pending,
                )
            # Jitter spreads the retries of many devices after an outage; no secret involved.
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311
            delay = min(delay * 2, self._backoff_max)

    def _set_aside(self, post: TranscriptPost, attempts: int) -> None:
        if post.final:
            self.parked += 1
            log.error(
                "the API kept failing a final transcript (%s, %d attempts): set aside in the "
                "outbox file, sent again at the next start (utterance %s seq %d); %d set aside",
                self._last_status,
                attempts,
                post.utteranceId,
                post.seq,
                self.parked,
            )
        else:
            self.dropped_partials += 1
            log.warning(
                "the API kept failing a partial transcript (%s, %d attempts): dropped",
                self._last_status,
                attempts,
            )

    async def _attempt(self, post: TranscriptPost) -> _Outcome:
        """One POST, and what it came to."""
        token = self.credentials.token
        try:
            response = await self._client.post(
                f"{self._base}/api/transcripts",
                json=post.body(),
                headers={"Authorization": f"Bearer {token}"},
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError) as exc:
            self._last_status = repr(exc)
            return "outage"
        except httpx.TransportError as exc:  # read/write timeouts: the API got it, perhaps
            self._last_status = repr(exc)
            return "answer"
        status = response.status_code
        self._last_status = f"HTTP {status}: {error_text(response)}"
        if status in (401, 403):
            self._refused_token = token
            return "auth"
        if status == 429 or status >= 500 or status == 408:
            return "answer"
        if self._failing:
            self._failing = False
            log.warning("API reachable again")
        if status in (200, 201, 202):
            self.sent += 1
        elif status == 409:
            # utterance_closed: the final is already there (say, our earlier try got through
            # but its answer was lost). The post has nothing left to do.
            log.debug("409 for %s seq %d: %s", post.utteranceId, post.seq, error_text(response))
        else:
            # 400/413 and the like: the same request would fail the same way again.
            self.rejected += 1
            log.error("API rejected a transcript (HTTP %d): %s", status, error_text(response))
        return "done"

    def _is_superseded(self, post: TranscriptPost) -> bool:
        return any(q.post.utteranceId == post.utteranceId for q in self._outbox)
