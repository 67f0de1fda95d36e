"""TranscriptRelay on in-memory ports: who gets a transcript, once, in order."""

from __future__ import annotations

import pytest

from voicebot.contract.wire import TranscriptPost
from voicebot.errors import ApiError
from voicebot.services.relay import DeliveryPolicy, TranscriptRelay

from .memory_ports import MemoryBus, MemoryPoster


def post(seq: int, text: str, *, final: bool = False, utterance: str = "utt1") -> TranscriptPost:
    return TranscriptPost(utteranceId=utterance, seq=seq, text=text, final=final, lang="ko-KR")


def relay(bus: MemoryBus, poster: MemoryPoster) -> TranscriptRelay:
    return TranscriptRelay(stream=bus, registry=bus, deliveries=bus, poster=poster)


async def test_publish_delivers_to_every_connection_of_that_user_only() -> None:
    bus, poster = MemoryBus(), MemoryPoster()
    await bus.register("u1", "c1")
    await bus.register("u1", "c2")
    await bus.register("u2", "c3")

    result = await relay(bus, poster).publish("u1", post(0, "안녕하세요"))

    assert result.delivered == 2
    expected = {
        "type": "transcript",
        "id": result.event_id,
        "utteranceId": "utt1",
        "seq": 0,
        "text": "안녕하세요",
        "final": False,
        "lang": "ko-KR",
    }
    assert poster.received["c1"] == [expected]
    assert poster.received["c2"] == [expected]
    assert "c3" not in poster.received


async def test_publish_without_connections_keeps_the_event_but_delivers_nothing() -> None:
    bus, poster = MemoryBus(), MemoryPoster()

    result = await relay(bus, poster).publish("u1", post(0, "안녕"))

    assert result.delivered == 0 and result.event_id
    assert [e.id for e in await bus.events_after("u1", "0")] == [result.event_id]
    assert poster.attempts == []


async def test_a_repeated_seq_answers_the_first_id_and_delivers_nothing() -> None:
    bus, poster = MemoryBus(), MemoryPoster()
    await bus.register("u1", "c1")
    service = relay(bus, poster)

    first = await service.publish("u1", post(0, "안녕"))
    again = await service.publish("u1", post(0, "안녕"))

    assert again.event_id == first.event_id
    assert again.delivered == 0
    assert len(poster.received["c1"]) == 1


async def test_a_stale_seq_is_accepted_but_not_relayed() -> None:
    bus, poster = MemoryBus(), MemoryPoster()
    await bus.register("u1", "c1")
    service = relay(bus, poster)
    await service.publish("u1", post(2, "안녕하세"))

    stale = await service.publish("u1", post(1, "안녕"))

    assert stale.delivered == 0
    assert stale.event_id == ""
    assert [m["seq"] for m in poster.received["c1"]] == [2]
    assert [e.seq for e in await bus.events_after("u1", "")] == [2]


async def test_a_final_closes_the_utterance_with_409_utterance_closed() -> None:
    bus, poster = MemoryBus(), MemoryPoster()
    service = relay(bus, poster)
    final = await service.publish("u1", post(1, "안녕하세요.", final=True))

    with pytest.raises(ApiError) as raised:
        await service.publish("u1", post(2, "안녕하세요. 또"))

    assert raised.value.status == 409
    assert raised.value.code == "utterance_closed"
    # Repeating the final itself is still a repeat, not a conflict; other utterances are open.
    assert (await service.publish("u1", post(1, "안녕하세요.", final=True))).event_id == (
        final.event_id
    )
    assert (await service.publish("u1", post(0, "새 말", utterance="utt2"))).event_id


async def test_a_gone_connection_is_unregistered_and_not_counted() -> None:
    bus, poster = MemoryBus(), MemoryPoster(gone={"c2"})
    await bus.register("u1", "c1")
    await bus.register("u1", "c2")
    bus.age("c2", 60_000)  # open for a minute: Gone means gone

    result = await relay(bus, poster).publish("u1", post(0, "안녕"))

    assert result.delivered == 1
    assert await bus.connections("u1") == ["c1"]
    assert await bus.owner("c2") is None


class OpeningPoster(MemoryPoster):
    """API Gateway before $connect has returned: Gone for the first ``gone_for`` posts."""

    def __init__(self, gone_for: int) -> None:
        super().__init__()
        self.gone_for = gone_for

    async def post(self, connection_id: str, data: bytes) -> bool:
        if self.gone_for > 0:
            self.gone_for -= 1
            self.attempts.append(connection_id)
            return False
        return await super().post(connection_id, data)


async def test_a_page_registered_a_moment_ago_is_waited_for_not_forgotten() -> None:
    bus, poster = MemoryBus(), OpeningPoster(gone_for=2)
    await bus.register("u1", "c1")  # $connect registered it and has not returned yet

    result = await relay(bus, poster).publish("u1", post(0, "안녕"))

    assert result.delivered == 1
    assert [e["text"] for e in poster.received["c1"]] == ["안녕"]
    assert poster.attempts == ["c1"] * 3
    assert await bus.connections("u1") == ["c1"]  # still registered: it hears the next one


async def test_a_page_that_never_opens_is_forgotten_after_the_wait() -> None:
    bus, poster = MemoryBus(), MemoryPoster(gone={"c1"})
    await bus.register("u1", "c1")

    result = await relay(bus, poster).publish("u1", post(0, "안녕"))

    assert result.delivered == 0
    assert await bus.connections("u1") == []
    assert len(poster.attempts) == 5  # the first post, then at 50, 100, 200 and 400 ms


async def test_resume_replays_the_retained_events_after_an_id_in_order() -> None:
    bus, poster = MemoryBus(), MemoryPoster()
    service = relay(bus, poster)
    ids = [(await service.publish("u1", post(i, f"말 {i}"))).event_id for i in range(4)]
    await bus.register("u1", "c1")

    sent = await service.resume("u1", "c1", ids[0])

    assert sent == 3
    assert [m["id"] for m in poster.received["c1"]] == ids[1:]
    assert [m["seq"] for m in poster.received["c1"]] == [1, 2, 3]


async def test_resume_after_an_unknown_id_replays_everything_retained() -> None:
    bus, poster = MemoryBus(), MemoryPoster()
    service = relay(bus, poster)
    ids = [(await service.publish("u1", post(i, f"말 {i}"))).event_id for i in range(2)]

    assert await service.resume("u1", "c1", "not-a-stream-id") == 2
    assert [m["id"] for m in poster.received["c1"]] == ids


async def test_resume_sends_each_event_once_per_connection() -> None:
    bus, poster = MemoryBus(), MemoryPoster()
    service = relay(bus, poster)
    missed = await service.publish("u1", post(0, "하나"))  # before the page connected
    await bus.register("u1", "c1")
    live = await service.publish("u1", post(1, "하나 둘"))  # c1 gets this one live

    assert await service.resume("u1", "c1", "0") == 1  # only the missed one is new to c1
    assert await service.resume("u1", "c1", "0") == 0  # a second resume sends nothing again
    assert [m["id"] for m in poster.received["c1"]] == [live.event_id, missed.event_id]


async def test_resume_to_a_gone_connection_unregisters_it() -> None:
    bus, poster = MemoryBus(), MemoryPoster()
    service = relay(bus, poster)
    await service.publish("u1", post(0, "하나"))
    await bus.register("u1", "c1")
    poster.gone.add("c1")

    assert await service.resume("u1", "c1", "0") == 0
    assert await bus.owner("c1") is None


class FlakyPoster(MemoryPoster):
    """A peer that throttles the next ``failures`` posts to each connection in ``flaky``."""

    def __init__(self, failures: int, flaky: set[str]) -> None:
        super().__init__()
        self.left = {c: failures for c in flaky}

    async def post(self, connection_id: str, data: bytes) -> bool:
        if self.left.get(connection_id, 0) > 0:
            self.left[connection_id] -= 1
            raise RuntimeError("LimitExceededException")  # any failure but Gone
        return await super().post(connection_id, data)


def flaky_relay(bus: MemoryBus, poster: MemoryPoster) -> TranscriptRelay:
    policy = DeliveryPolicy(attempts=3, backoff_ms=1)
    return TranscriptRelay(stream=bus, registry=bus, deliveries=bus, poster=poster, policy=policy)


async def test_a_post_that_fails_twice_is_retried_and_delivered_live() -> None:
    bus, poster = MemoryBus(), FlakyPoster(2, {"c1"})
    await bus.register("u1", "c1")

    result = await flaky_relay(bus, poster).publish("u1", post(0, "안녕"))

    assert result.delivered == 1
    assert [m["text"] for m in poster.received["c1"]] == ["안녕"]


async def test_a_post_that_keeps_failing_is_not_counted_and_stays_replayable() -> None:
    bus, poster = MemoryBus(), FlakyPoster(3, {"c2"})
    await bus.register("u1", "c1")
    await bus.register("u1", "c2")
    service = flaky_relay(bus, poster)

    result = await service.publish("u1", post(0, "안녕"))

    assert result.delivered == 1
    assert poster.closed == ["c2"]  # closed so that the page reconnects and resumes
    assert await bus.connections("u1") == ["c1"]
    await bus.register("u1", "c3")  # the page, back
    assert await service.resume("u1", "c3", "0") == 1
    assert await service.resume("u1", "c3", "0") == 0
    assert [m["text"] for m in poster.received["c3"]] == ["안녕"]


async def test_a_repeat_reaches_the_pages_that_never_got_the_first_post() -> None:
    bus, poster = MemoryBus(), MemoryPoster()
    service = relay(bus, poster)
    first = await service.publish("u1", post(0, "안녕", final=True))  # stored; no page yet
    await bus.register("u1", "c1")

    again = await service.publish("u1", post(0, "안녕", final=True))
    once_more = await service.publish("u1", post(0, "안녕", final=True))

    assert (again.event_id, again.delivered) == (first.event_id, 1)
    assert once_more.delivered == 0
    assert [m["id"] for m in poster.received["c1"]] == [first.event_id]
