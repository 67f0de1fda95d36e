"""Posts transcripts to ``POST {api}/api/transcripts``: in order, retried, never losing a final.

One worker sends the outbox head first (so the page sees each utterance in ``seq`` order) and
retries transient failures (connection errors, timeouts, 429, 5xx) with capped exponential
backoff for as long as it takes. The outbox is bounded for partials only: a queued partial is
dropped as soon as a newer transcript of its utterance is queued (the API would replace it
anyway), and when the outbox is still full the oldest partial goes. Finals are never dropped.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque

import httpx

from voicebot.contract.wire import TranscriptPost

log = logging.getLogger(__name__)


class ApiAuthError(RuntimeError):
    """The API refused the device token; retrying cannot help."""


class ApiUnavailableError(RuntimeError):
    """The API could not be reached (or is not a Voicebot API) when the interpreter started."""


class TranscriptPublisher:
    def __init__(
        self,
        api_url: str,
        token: str,
        *,
        max_pending: int = 100,
        backoff_initial_s: float = 0.25,
        backoff_max_s: float = 5.0,
        request_timeout_s: float = 5.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._base = api_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}
        self._max_pending = max_pending
        self._backoff_initial = backoff_initial_s
        self._backoff_max = backoff_max_s
        self._client = client or httpx.AsyncClient(timeout=request_timeout_s)
        self._outbox: deque[TranscriptPost] = deque()
        self._in_flight: TranscriptPost | None = None
        self._has_work = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._failing = False
        self.sent = 0
        self.dropped_partials = 0

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
        """Queue a transcript; never blocks, so the audio path never waits on the network."""
        superseded = [p for p in self._outbox if p.utteranceId == post.utteranceId and not p.final]
        for stale in superseded:
            self._outbox.remove(stale)
        self.dropped_partials += len(superseded)
        if len(self._outbox) >= self._max_pending:
            oldest_partial = next((p for p in self._outbox if not p.final), None)
            if oldest_partial is not None:
                self._outbox.remove(oldest_partial)
                self.dropped_partials += 1
            else:
                log.warning("%d finals waiting for the API; keeping them all", len(self._outbox))
        self._outbox.append(post)
        self._idle.clear()
        self._has_work.set()

    async def drain(self, timeout_s: float) -> bool:
        """Wait until everything queued was delivered; False if that took longer than timeout_s."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

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
                await self._deliver(self._in_flight)
                self._in_flight = None
        finally:
            await self._client.aclose()

    async def _deliver(self, post: TranscriptPost) -> None:
        delay = self._backoff_initial
        while True:
            problem = await self._attempt(post)
            if problem is None:
                return
            if not post.final and self._is_superseded(post):
                return  # a newer transcript of this utterance is queued: no point retrying this one
            if not self._failing:
                self._failing = True
                log.warning(
                    "API unavailable (%s); retrying, %d transcripts waiting", problem, self.pending
                )
            # Jitter spreads the retries of many devices after an outage; no secret involved.
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311
            delay = min(delay * 2, self._backoff_max)

    async def _attempt(self, post: TranscriptPost) -> str | None:
        """One POST. None when the post is done with; otherwise why it should be retried."""
        try:
            response = await self._client.post(
                f"{self._base}/api/transcripts", json=post.body(), headers=self._headers
            )
        except httpx.TransportError as exc:
            return repr(exc)
        status = response.status_code
        if status in (401, 403):
            raise ApiAuthError(
                f"The API refused the device token (HTTP {status}: {_error_message(response)}). "
                "Get a fresh deviceToken from POST /api/sessions and pass it with --token or "
                "VOICEBOT_DEVICE_TOKEN."
            )
        if status == 429 or status >= 500 or status == 408:
            return f"HTTP {status}"
        if self._failing:
            self._failing = False
            log.warning("API reachable again")
        if status in (200, 201, 202):
            self.sent += 1
        elif status == 409:
            # utterance_closed: the final is already there (say, our earlier try got through
            # but its answer was lost). The post has nothing left to do.
            log.debug("409 for %s seq %d: %s", post.utteranceId, post.seq, _error_message(response))
        else:
            # 400/413 and the like: the same request would fail the same way again.
            log.error("API rejected a transcript (HTTP %d): %s", status, _error_message(response))
        return None

    def _is_superseded(self, post: TranscriptPost) -> bool:
        return any(p.utteranceId == post.utteranceId for p in self._outbox)


def _error_message(response: httpx.Response) -> str:
    try:
        error = response.json().get("error", {})
        return f"{error.get('code')}: {error.get('message')}"
    except (ValueError, AttributeError):
        return response.text[:200]
