"""TranscriptRelay: accept a device's transcript, keep it replayable, deliver it to the pages."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ..errors import ApiError
from ..ports import ConnectionPoster, StoredEvent, TranscriptBus
from ..protocol import TranscriptPost, encode_event, transcript_event


@dataclass(frozen=True)
class PublishResult:
    event_id: str
    delivered: int


class TranscriptRelay:
    def __init__(self, bus: TranscriptBus, poster: ConnectionPoster) -> None:
        self._bus = bus
        self._poster = poster

    async def publish(self, user_id: str, post: TranscriptPost) -> PublishResult:
        body = transcript_event("", post.utteranceId, post.seq, post.text, post.final, post.lang)
        del body["id"]  # the stream assigns it
        result = await self._bus.append(user_id, post.utteranceId, post.seq, post.final, body)
        if result.status == "closed":
            raise ApiError(409, "utterance_closed", "This utterance already has its final text.")
        if result.status != "new" or result.event_id is None:
            # A repeat answers with the first event's id; a stale seq is accepted but not relayed.
            return PublishResult(event_id=result.event_id or "", delivered=0)
        stored = StoredEvent(event_id=result.event_id, event=body)
        targets = await self._bus.connections(user_id)
        delivered = await self._deliver(user_id, stored, targets)
        return PublishResult(event_id=result.event_id, delivered=delivered)

    async def resume(self, user_id: str, connection_id: str, after: str) -> int:
        """Send this connection the retained events after ``after``, in order; return how many."""
        sent = 0
        for stored in await self._bus.events_after(user_id, after):
            sent += await self._deliver(user_id, stored, [connection_id])
        return sent

    async def _deliver(self, user_id: str, stored: StoredEvent, connection_ids: list[str]) -> int:
        # The claim makes delivery at-most-once per connection even when a resume and a live
        # post race for the same event.
        claimed = await self._bus.claim_delivery(user_id, stored.event_id, connection_ids)
        if not claimed:
            return 0
        data = encode_event({"type": "transcript", "id": stored.event_id, **stored.event})
        sent = await asyncio.gather(*(self._poster.post(c, data) for c in claimed))
        for connection_id, ok in zip(claimed, sent, strict=True):
            if not ok:  # the page is gone; forget the connection
                await self._bus.unregister(connection_id)
        return sum(sent)
