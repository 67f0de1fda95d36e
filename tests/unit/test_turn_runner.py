"""TurnRunner with in-memory ports: behaviour that needs no servers at all."""

from __future__ import annotations

import json

from voicebot.adapters.scripted import ScriptedChatModel, ScriptedSynthesizer
from voicebot.errors import ServiceUnavailable
from voicebot.ports import Turn
from voicebot.services.chat import TurnOptions, TurnRunner

ANSWER = "첫 문장입니다. 둘째 문장입니다."


class MemoryHistory:
    def __init__(self) -> None:
        self.turns: list[Turn] = []

    async def recent(self, user_id: str, limit: int) -> list[Turn]:
        return [t for t in self.turns if t.user_id == user_id][-limit:]

    async def save(self, turn: Turn) -> None:
        self.turns.append(turn)

    async def clear(self, user_id: str) -> None:
        self.turns = [t for t in self.turns if t.user_id != user_id]


class RedisLostBus:
    """Every cancel check fails, as when Redis goes away in the middle of a turn."""

    async def cancel_requested(self, user_id: str, turn_id: str) -> tuple[bool, int | None]:
        raise ServiceUnavailable("Redis is unreachable.")


class RecordingPoster:
    def __init__(self) -> None:
        self.events: list[dict[str, object]] = []

    async def post(self, connection_id: str, data: bytes) -> bool:
        self.events.append(json.loads(data))
        return True


def runner(history: MemoryHistory, bus: object) -> TurnRunner:
    return TurnRunner(
        model=ScriptedChatModel(answer=ANSWER, tokens_per_second=200),
        synthesizer=ScriptedSynthesizer(),
        history=history,
        cancels=bus,  # type: ignore[arg-type]
        options=TurnOptions(system_prompt="test", voice="Seoyeon", language="ko-KR"),
    )


async def test_a_turn_finishes_when_its_cancel_flag_cannot_be_read() -> None:
    history, poster = MemoryHistory(), RecordingPoster()
    outcome = await runner(history, RedisLostBus()).run("u1", "t1", "안녕", poster, "c1")

    assert outcome.text == ANSWER and outcome.interrupted is False
    kinds = [e["type"] for e in poster.events]
    assert kinds.count("audio") == 2 and kinds[-1] == "done"
    assert [t.assistant_text for t in history.turns] == [ANSWER]


async def test_the_outbox_sends_speech_ahead_of_pending_text_and_merges_text() -> None:
    import asyncio

    from voicebot.contract.wire import AudioEvent, DeltaEvent, DoneEvent, SentenceEvent
    from voicebot.services.chat import Outbox

    class SlowPoster(RecordingPoster):
        async def post(self, connection_id: str, data: bytes) -> bool:
            await asyncio.sleep(0.01)  # a post in flight while more events queue up
            return await super().post(connection_id, data)

    poster = SlowPoster()
    outbox = Outbox(poster, "c1", on_gone=lambda: None)
    outbox.put(DeltaEvent(turnId="t", text="첫 "))
    await asyncio.sleep(0)  # the first delta is now in flight
    for piece in ("문장", "입니다."):
        outbox.put(DeltaEvent(turnId="t", text=piece))
    outbox.put(SentenceEvent(turnId="t", index=0, text="첫 문장입니다."))
    outbox.put(AudioEvent(turnId="t", index=0, data="", part=0, last=True))
    outbox.put(DoneEvent(turnId="t", text="첫 문장입니다.", interrupted=False, ledger={}))
    outbox.put(DeltaEvent(turnId="t", text=" 끝"))
    await outbox.close()

    assert [(e["type"], e.get("text")) for e in poster.events] == [
        ("delta", "첫 "),
        ("sentence", "첫 문장입니다."),
        ("audio", None),
        ("delta", "문장입니다. 끝"),
        ("done", "첫 문장입니다."),
    ]
