"""TranscriptRelay: accept a device's transcript, keep it replayable, deliver it to the pages."""

from __future__ import annotations

import asyncio
import logging
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
class TranscriptRelay:
    """The ports it uses; ``preemption`` may start an answer to a partial (services/preemption)."""

    stream: TranscriptStream
    registry: ConnectionRegistry
    deliveries: DeliveryLedger
    poster: ConnectionPoster
    _: KW_ONLY
    preemption: PreemptiveAnswers | None = None

    async def publish(self, user_id: str, post: TranscriptPost) -> PublishResult:
        result = await self.stream.append(user_id, post)
        if result.status == "closed":
            raise ApiError(409, "utterance_closed", "This utterance already has its final text.")
        if result.status != "new" or result.event_id is None:
            # A repeat answers with the first event's id; a stale seq is accepted but not relayed.
            return PublishResult(event_id=result.event_id or "", delivered=0)
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
        """Send this connection the retained events after ``after``, in order; return how many."""
        sent = 0
        for event in await self.stream.events_after(user_id, after):
            sent += await self._deliver(user_id, event, [connection_id])
        return sent

    async def _deliver(
        self, user_id: str, event: TranscriptEvent, connection_ids: list[str]
    ) -> int:
        # The claim makes delivery at-most-once per connection even when a resume and a live
        # post race for the same event.
        claimed = await self.deliveries.claim_delivery(user_id, event.id, connection_ids)
        if not claimed:
            return 0
        data = encode_event(event)
        sent = await asyncio.gather(*(self.poster.post(c, data) for c in claimed))
        for connection_id, ok in zip(claimed, sent, strict=True):
            if not ok:  # the page is gone; forget the connection
                await self.registry.unregister(connection_id)
        return sum(sent)
