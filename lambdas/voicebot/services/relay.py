"""TranscriptRelay: accept a device's transcript, keep it replayable, deliver it to the pages.

Delivery is driven by the stream, not by whether this post was the first: a repeat of a stored
post (the device retrying after a 503 whose command ran anyway) is delivered to the pages that
have not had it yet. A delivery is recorded only after its post succeeded; a post that fails
with anything but Gone is retried with backoff and, if it still fails, left replayable, and the
connection is closed so that the page reconnects and resumes it. Gone from a page registered a
moment ago (its $connect has not returned yet) is waited out; Gone from any other forgets it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import KW_ONLY, dataclass

from ..contract.wire import TranscriptEvent, TranscriptPost
from ..errors import ApiError, ServiceUnavailable
from ..ports import ConnectionPoster, ConnectionRegistry, DeliveryLedger, TranscriptStream
from ..protocol import encode_event
from .preemption import PreemptiveAnswers

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PublishResult:
    event_id: str
    delivered: int


@dataclass(frozen=True)
class DeliveryPolicy:
    """How hard one post is tried (ConnectionsSettings.delivery_*)."""

    attempts: int = 4
    backoff_ms: int = 100
    # API Gateway answers 410 Gone to a post for a connection whose $connect has not returned
    # yet, and $connect registers the page before it returns. A page registered less than this
    # long ago that answers Gone is waited for (posts at 50, 100, 200, 400 ms) rather than
    # forgotten, which would leave it open and deaf until its next ping.
    opening_ms: int = 1_000


async def post_with_retry(
    poster: ConnectionPoster, connection_id: str, data: bytes, policy: DeliveryPolicy
) -> bool | None:
    """True when sent, False when the connection is gone, None when every attempt failed."""
    for attempt in range(policy.attempts):
        if attempt:
            ceiling = policy.backoff_ms * 2 ** (attempt - 1) / 1000
            await asyncio.sleep(ceiling / 2 + random.random() * ceiling / 2)  # noqa: S311 (jitter)
        try:
            return await poster.post(connection_id, data)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # throttled, 5xx, a timeout: the next attempt may succeed
            logger.warning(
                "post to connection failed",
                extra={"attempt": attempt + 1, "error": type(exc).__name__},
            )
    return None


@dataclass(frozen=True)
class TranscriptRelay:
    """The ports it uses; ``preemption`` may start an answer to a partial (services/preemption)."""

    stream: TranscriptStream
    registry: ConnectionRegistry
    deliveries: DeliveryLedger
    poster: ConnectionPoster
    _: KW_ONLY
    preemption: PreemptiveAnswers | None = None
    policy: DeliveryPolicy = DeliveryPolicy()
    resume_max_events: int = 200

    async def publish(self, user_id: str, post: TranscriptPost) -> PublishResult:
        result = await self.stream.append(user_id, post)
        if result.status == "closed":
            raise ApiError(409, "utterance_closed", "This utterance already has its final text.")
        if result.status == "stale" or result.event_id is None:
            return PublishResult(event_id="", delivered=0)  # accepted, not stored, not relayed
        if result.status == "repeat":
            # The first post may have been stored after its caller was told 503 (a Redis stall
            # outlasting the timeout): the pages that never got it get it now, the others not.
            stored = await self.stream.event(user_id, result.event_id)
            if stored is None:  # trimmed from the stream since: nothing left to deliver
                return PublishResult(event_id=result.event_id, delivered=0)
            targets = await self.registry.connections(user_id)
            delivered = await self._deliver(user_id, stored, targets)
            return PublishResult(event_id=result.event_id, delivered=delivered)
        event = TranscriptEvent(id=result.event_id, **post.body())
        targets = await self.registry.connections(user_id)
        delivered = await self._deliver(user_id, event, targets)
        if self.preemption is not None:
            await self._consider_answering(user_id, post)
        return PublishResult(event_id=result.event_id, delivered=delivered)

    async def _consider_answering(self, user_id: str, post: TranscriptPost) -> None:
        """After the pages have the transcript: maybe start answering it before its final."""
        assert self.preemption is not None
        try:
            await self.preemption.observe(user_id, post)
        except ServiceUnavailable:
            # The transcript is stored and delivered; the answer will simply wait for the chat.
            logger.warning("preemptive answer not started: a backing service is unavailable")

    async def resume(self, user_id: str, connection_id: str, after: str) -> int:
        """Send this connection the retained events after ``after``, in order; return how many.

        At most ``resume_max_events`` are read; a page that got that many resumes again from
        the last one it got.
        """
        sent = 0
        for event in await self.stream.events_after(user_id, after, self.resume_max_events):
            sent += await self._deliver(user_id, event, [connection_id])
        return sent

    async def _deliver(
        self, user_id: str, event: TranscriptEvent, connection_ids: list[str]
    ) -> int:
        # The lease makes delivery at-most-once per connection even when a resume and a live
        # post race for the same event; it is confirmed only once the post succeeded.
        claimed = await self.deliveries.claim_delivery(user_id, event.id, connection_ids)
        if not claimed:
            return 0
        data = encode_event(event)
        results = list(
            await asyncio.gather(
                *(post_with_retry(self.poster, c, data, self.policy) for c in claimed)
            )
        )
        opening = [
            i
            for i, (c, ok) in enumerate(zip(claimed, results, strict=True))
            if ok is False and await self._still_opening(user_id, c)
        ]
        if opening:
            retried = await asyncio.gather(
                *(self._post_once_open(claimed[i], data) for i in opening)
            )
            for i, ok in zip(opening, retried, strict=True):
                results[i] = ok
        sent = [c for c, ok in zip(claimed, results, strict=True) if ok]
        failed = [c for c, ok in zip(claimed, results, strict=True) if ok is None]
        await self.deliveries.confirm_delivery(user_id, event.id, sent)
        if failed:
            await self.deliveries.release_delivery(user_id, event.id, failed)
        for connection_id, ok in zip(claimed, results, strict=True):
            if ok is False:  # the page is gone; forget the connection
                await self.registry.unregister(connection_id)
            elif ok is None:
                await self._drop(connection_id)
        return len(sent)

    async def _still_opening(self, user_id: str, connection_id: str) -> bool:
        age = await self.registry.registered_for_ms(user_id, connection_id)
        return age is not None and age < self.policy.opening_ms

    async def _post_once_open(self, connection_id: str, data: bytes) -> bool | None:
        """Post to a page whose $connect may not have returned yet, until it is open or the
        wait is over (then it is gone indeed: False)."""
        delay_ms, waited_ms = 50, 0
        while waited_ms + delay_ms <= self.policy.opening_ms:
            await asyncio.sleep(delay_ms / 1000)
            waited_ms += delay_ms
            ok = await post_with_retry(self.poster, connection_id, data, self.policy)
            if ok is not False:
                return ok
            delay_ms *= 2
        return False

    async def _drop(self, connection_id: str) -> None:
        """A page whose post kept failing is closed and forgotten: it reconnects and resumes
        from the last event it got, which is before this one, so it gets it then, once. (Left
        open, a later event could reach it and its resume would start after the gap.)"""
        await self.registry.unregister(connection_id)
        try:
            await self.poster.close(connection_id)
        except Exception:  # it may be gone already; it gets nothing more from us either way
            logger.warning("could not close a failing connection", exc_info=True)
