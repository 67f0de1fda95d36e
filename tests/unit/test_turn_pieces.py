"""TurnRunner with a synthesizer that streams (Riva's): each sentence's pieces go out as they
come, strictly after the previous sentence's, and a cancel or a failed stream ends them cleanly."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator

from tests.unit.test_turn_runner import MemoryHistory, RecordingPoster
from voicebot.adapters.scripted import ScriptedChatModel
from voicebot.services.chat import TurnOptions, TurnRunner

ANSWER = "첫 문장입니다. 둘째 문장입니다."


class Bus:
    def __init__(self) -> None:
        self.cancelled = False

    async def cancel_requested(self, user_id: str, turn_id: str) -> tuple[bool, int | None]:
        return self.cancelled, 0 if self.cancelled else None


class PieceSynth:
    """Streams ``count`` pieces per sentence, b"<sentence>:<n>"; sentence 0 waits on ``gate``
    before its last piece, so the later sentence is done first; closing is recorded."""

    def __init__(self, count: int = 3, fail_after: dict[str, int] | None = None) -> None:
        self.count = count
        self.fail_after = fail_after or {}
        self.gate = asyncio.Event()
        self.closed: list[str] = []
        self.finished: list[str] = []

    async def synthesize(self, text: str, voice: str, language: str) -> bytes:
        raise AssertionError("a streaming synthesizer's turn must stream")

    async def synthesize_pieces(self, text: str, voice: str, language: str) -> AsyncIterator[bytes]:
        try:
            for n in range(self.count):
                if n == self.fail_after.get(text):
                    raise RuntimeError("stream dropped")
                if text.startswith("첫") and n == self.count - 1:
                    await self.gate.wait()
                yield f"{text[:2]}:{n}".encode()
            self.finished.append(text)
        finally:
            self.closed.append(text)


def runner(synth: PieceSynth, bus: Bus) -> TurnRunner:
    return TurnRunner(
        model=ScriptedChatModel(answer=ANSWER, tokens_per_second=400),
        synthesizer=synth,
        history=MemoryHistory(),
        cancels=bus,  # type: ignore[arg-type]
        options=TurnOptions(system_prompt="t", voice="Seoyeon", language="ko-KR"),
    )


def audio(poster: RecordingPoster) -> list[dict[str, object]]:
    return [e for e in poster.events if e["type"] == "audio"]


def data(event: dict[str, object]) -> str:
    return base64.b64decode(str(event["data"])).decode()


async def test_pieces_go_out_in_sentence_order_numbered_through_each_sentence() -> None:
    synth, poster = PieceSynth(), RecordingPoster()
    turn = asyncio.create_task(runner(synth, Bus()).run("u1", "t1", "hi", poster, "c1"))
    # Sentence 0 has sent two pieces and waits; sentence 1 is all made but must wait its turn.
    while len(synth.finished) < 1 or len(audio(poster)) < 2:
        await asyncio.sleep(0.005)
    assert [data(e) for e in audio(poster)] == ["첫 :0", "첫 :1"]
    synth.gate.set()
    outcome = await turn

    assert outcome.error is None and len(outcome.sentences) == 2
    events = audio(poster)
    got = [(e["index"], e["piece"], e["part"], e["pieceLast"], e["last"]) for e in events]
    assert got == [
        *((0, n, n, True, False) for n in range(3)),
        (0, 3, 3, True, True),  # the empty part that ends the sentence
        *((1, n, n, True, False) for n in range(3)),
        (1, 3, 3, True, True),
    ]
    assert [data(e) for e in events] == [
        *("첫 :0", "첫 :1", "첫 :2", ""),
        *("둘째:0", "둘째:1", "둘째:2", ""),
    ]
    assert poster.events[-1]["type"] == "done"
    assert "firstAudio" in outcome.ledger


async def test_a_cancel_stops_the_stream_and_nothing_more_is_sent() -> None:
    synth, poster, bus = PieceSynth(), RecordingPoster(), Bus()
    turn = asyncio.create_task(runner(synth, bus).run("u1", "t1", "hi", poster, "c1"))
    while len(audio(poster)) < 2:
        await asyncio.sleep(0.005)
    bus.cancelled = True
    outcome = await turn

    assert outcome.interrupted
    assert [data(e) for e in audio(poster)] == ["첫 :0", "첫 :1"]
    # Sentence 0's stream was closed, never finished: the synthesis stopped.
    assert "첫 문장입니다." in synth.closed and "첫 문장입니다." not in synth.finished
    assert poster.events[-1]["type"] == "done"


async def test_a_stream_failing_part_way_ends_its_sentence_and_the_turn_goes_on() -> None:
    synth = PieceSynth(fail_after={"첫 문장입니다.": 1, "둘째 문장입니다.": 0})
    synth.gate.set()
    poster = RecordingPoster()
    outcome = await runner(synth, Bus()).run("u1", "t1", "hi", poster, "c1")

    assert outcome.error is None
    speech = [e for e in poster.events if e["type"] in ("audio", "error", "done")]
    # Sentence 0: its one piece, then the part that ends it, quietly. Sentence 1 sent nothing:
    # an error for it, as for any failed synthesis, and the page skips it.
    assert [(e["type"], e.get("index"), e.get("last")) for e in speech] == [
        ("audio", 0, False),
        ("audio", 0, True),
        ("error", None, None),
        ("done", None, None),
    ]
    error = next(e for e in poster.events if e["type"] == "error")
    assert str(error["message"]).startswith("Sentence 1:")


def test_a_large_piece_is_split_into_frames_numbered_on_through_the_sentence() -> None:
    from voicebot.contract.wire import MAX_WS_MESSAGE_BYTES
    from voicebot.protocol import encode_event, piece_events

    events = piece_events("t1", 0, bytes(200_000), piece=2, first_part=5, last=False)
    assert [(e.part, e.piece, e.pieceLast, e.last) for e in events] == [
        (5, 2, False, False),
        (6, 2, False, False),
        (7, 2, True, False),
    ]
    assert all(len(encode_event(e)) <= MAX_WS_MESSAGE_BYTES for e in events)
    assert b"".join(base64.b64decode(e.data) for e in events) == bytes(200_000)
