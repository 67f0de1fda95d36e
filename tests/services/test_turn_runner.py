"""TurnRunner on in-memory ports: the events a page sees and the turn that is remembered."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from voicebot.adapters.scripted import ScriptedChatModel, ScriptedSynthesizer
from voicebot.errors import ProviderError, ProviderThrottled, ServiceUnavailable
from voicebot.ports import ChatModel, Synthesizer, Turn
from voicebot.services.chat import TurnOptions, TurnOutcome, TurnRunner

from .memory_ports import ListChatModel, MemoryBus, MemoryHistory, MemoryPoster, MemorySynthesizer

SENTENCES = ["첫 문장입니다.", "둘째 문장입니다.", "셋째 문장입니다."]
ANSWER = " ".join(SENTENCES)
PIECES = [s + " " for s in SENTENCES[:-1]] + [SENTENCES[-1]]


def make_runner(
    model: ChatModel,
    *,
    history: MemoryHistory | None = None,
    bus: MemoryBus | None = None,
    synthesizer: Synthesizer | None = None,
) -> TurnRunner:
    return TurnRunner(
        model=model,
        synthesizer=synthesizer or MemorySynthesizer(),
        history=history or MemoryHistory(),
        cancels=bus or MemoryBus(),
        options=TurnOptions(system_prompt="짧게 답하세요.", voice="Seoyeon", language="ko-KR"),
    )


async def run(runner: TurnRunner, poster: MemoryPoster, text: str = "안녕") -> TurnOutcome:
    # A turn that never ends is a failure, not a hung test run.
    return await asyncio.wait_for(runner.run("u1", "t1", text, poster, "c1"), timeout=10)


def kinds(events: list[dict[str, Any]]) -> list[str]:
    return [str(e["type"]) for e in events]


async def test_events_come_as_deltas_sentence_before_its_audio_and_done_last() -> None:
    poster, history = MemoryPoster(), MemoryHistory()
    model = ScriptedChatModel(answer=ANSWER, tokens_per_second=400, chars_per_token=2)

    outcome = await run(
        make_runner(model, history=history, synthesizer=ScriptedSynthesizer()), poster
    )

    events = poster.received["c1"]
    assert all(e["turnId"] == "t1" for e in events)
    assert "".join(e["text"] for e in events if e["type"] == "delta") == ANSWER
    sentence_at = {e["index"]: i for i, e in enumerate(events) if e["type"] == "sentence"}
    audio = [(i, e) for i, e in enumerate(events) if e["type"] == "audio"]
    assert [events[sentence_at[k]]["text"] for k in sorted(sentence_at)] == SENTENCES
    assert {e["index"] for _, e in audio} == {0, 1, 2}
    assert all(sentence_at[e["index"]] < i for i, e in audio)  # sentence i before audio i
    assert [e["index"] for _, e in audio] == sorted(e["index"] for _, e in audio)
    assert all(e["last"] for _, e in audio)  # short audio: one part per sentence
    assert kinds(events).count("done") == 1 and events[-1]["type"] == "done"
    assert events[-1]["text"] == ANSWER and events[-1]["interrupted"] is False
    assert {"received", "firstToken", "firstSentence", "firstAudio", "done"} <= set(
        events[-1]["ledger"]
    )
    assert outcome.stored and outcome.error is None and outcome.sentences == SENTENCES
    assert [(t.turn_id, t.user_text, t.assistant_text) for t in history.turns] == [
        ("t1", "안녕", ANSWER)
    ]


async def test_the_model_is_given_the_system_prompt_history_and_the_new_text() -> None:
    history = MemoryHistory()
    await history.save(Turn("u1", "t0", "이름이 뭐예요?", "저는 봇입니다.", False, 1))
    await history.save(Turn("u1", "tx", "대답 없음", "", True, 2))  # no answer: left out
    await history.save(Turn("u2", "ty", "남의 말", "남의 답", False, 3))
    model = ListChatModel(["네."])

    await run(make_runner(model, history=history), MemoryPoster(), "다시 말해 주세요")

    assert [(m.role, m.text) for m in model.calls[0]] == [
        ("system", "짧게 답하세요."),
        ("user", "이름이 뭐예요?"),
        ("assistant", "저는 봇입니다."),
        ("user", "다시 말해 주세요"),
    ]


async def test_a_cancel_before_the_start_sends_only_an_interrupted_done() -> None:
    bus, poster, history = MemoryBus(), MemoryPoster(), MemoryHistory()
    await bus.request_cancel("u1", "t1", None)
    model = ListChatModel(PIECES)

    outcome = await run(make_runner(model, history=history, bus=bus), poster)

    assert model.calls == []
    assert kinds(poster.received["c1"]) == ["done"]
    assert poster.received["c1"][0]["interrupted"] is True
    assert poster.received["c1"][0]["text"] == ""
    assert outcome.interrupted and not outcome.stored
    assert history.turns == []


async def test_a_cancel_mid_stream_stops_the_turn_and_stores_only_what_was_heard() -> None:
    bus, poster, history, synth = MemoryBus(), MemoryPoster(), MemoryHistory(), MemorySynthesizer()

    async def cancel_after_two_sentences() -> None:
        await bus.request_cancel("u1", "t1", 1)  # the page played one segment

    model = ListChatModel(PIECES[:2], after={1: cancel_after_two_sentences}, endless=True)

    outcome = await run(make_runner(model, history=history, bus=bus, synthesizer=synth), poster)

    events = poster.received["c1"]
    assert model.closed  # the model's stream was stopped, not drained
    assert events[-1]["type"] == "done" and events[-1]["interrupted"] is True
    assert outcome.interrupted and outcome.stored
    assert [t.assistant_text for t in history.turns] == [SENTENCES[0]]
    assert history.turns[0].interrupted is True
    # Nothing is said after the cancel: at most the sentences the model had finished.
    assert all(e["index"] < 2 for e in events if e["type"] in ("sentence", "audio"))


async def test_a_cancel_without_heard_stores_the_text_generated_until_it_was_seen() -> None:
    bus, history = MemoryBus(), MemoryHistory()

    async def cancel() -> None:
        await bus.request_cancel("u1", "t1", None)

    model = ListChatModel(PIECES[:2], after={1: cancel}, endless=True)

    outcome = await run(make_runner(model, history=history, bus=bus), MemoryPoster())

    assert outcome.interrupted
    assert [t.assistant_text for t in history.turns] == [outcome.text]
    assert outcome.text.startswith(PIECES[0] + PIECES[1])


async def test_a_cancel_while_audio_is_being_made_stops_the_remaining_audio() -> None:
    bus, history = MemoryBus(), MemoryHistory()
    never = asyncio.Event()

    class SlowAfterFirst(MemorySynthesizer):
        async def synthesize(self, text: str, voice: str, language: str) -> bytes:
            if "첫" not in text:
                await never.wait()  # the later sentences' audio would never come
            return await super().synthesize(text, voice, language)

    class StopsAfterFirstAudio(MemoryPoster):
        async def post(self, connection_id: str, data: bytes) -> bool:
            sent = await super().post(connection_id, data)
            if self.received[connection_id][-1]["type"] == "audio":
                await bus.request_cancel("u1", "t1", 1)  # the page played segment 0, then stopped
            return sent

    poster = StopsAfterFirstAudio()
    runner = make_runner(
        ListChatModel(PIECES), history=history, bus=bus, synthesizer=SlowAfterFirst()
    )
    outcome = await run(runner, poster)

    events = poster.received["c1"]
    assert [e["index"] for e in events if e["type"] == "audio"] == [0]
    assert events[-1]["type"] == "done" and events[-1]["interrupted"] is True
    assert events[-1]["text"] == ANSWER  # the model had finished: all of it was generated
    assert outcome.interrupted
    assert [t.assistant_text for t in history.turns] == [SENTENCES[0]]


@pytest.mark.parametrize(
    ("failure", "code"),
    [
        (ProviderError("model failed", retryable=True), "provider_error"),
        (ProviderError("model refused", retryable=False), "provider_error"),
        (ProviderThrottled("slow down"), "throttled"),
        (ServiceUnavailable("gone"), "service_unavailable"),
        (RuntimeError("an untranslated vendor error"), "provider_error"),
    ],
)
async def test_a_model_failure_sends_its_error_code_then_done(
    failure: BaseException, code: str
) -> None:
    poster, history = MemoryPoster(), MemoryHistory()
    model = ListChatModel(PIECES[:1], fail=failure)

    outcome = await run(make_runner(model, history=history), poster)

    events = poster.received["c1"]
    errors = [e for e in events if e["type"] == "error"]
    assert [(e["code"], e["turnId"]) for e in errors] == [(code, "t1")]
    assert kinds(events)[-2:] == ["error", "done"]
    assert events[-1]["text"] == PIECES[0] and events[-1]["interrupted"] is False
    # The sentence that was complete before the failure is still spoken.
    assert [e["index"] for e in events if e["type"] == "audio"] == [0]
    assert outcome.error == code
    assert [t.assistant_text for t in history.turns] == [PIECES[0]]


async def test_a_model_that_fails_before_any_text_stores_no_turn() -> None:
    poster, history = MemoryPoster(), MemoryHistory()

    outcome = await run(
        make_runner(ListChatModel([], fail=ProviderThrottled("busy")), history=history), poster
    )

    assert kinds(poster.received["c1"]) == ["error", "done"]
    assert not outcome.stored and history.turns == []


async def test_a_synthesizer_failure_for_one_sentence_errors_that_sentence_only() -> None:
    def fail_second(text: str) -> BaseException | None:
        return ProviderError("voice failed", retryable=True) if "둘째" in text else None

    poster = MemoryPoster()
    synth = MemorySynthesizer(fail=fail_second)

    outcome = await run(make_runner(ListChatModel(PIECES), synthesizer=synth), poster)

    events = poster.received["c1"]
    errors = [e for e in events if e["type"] == "error"]
    assert len(errors) == 1
    assert errors[0]["code"] == "provider_error" and errors[0]["message"].startswith("Sentence 1:")
    assert [e["index"] for e in events if e["type"] == "audio"] == [0, 2]
    assert events[-1]["type"] == "done" and events[-1]["interrupted"] is False
    assert events[-1]["text"] == ANSWER
    # The turn itself did not fail: its outcome carries no error and it is remembered.
    assert outcome.error is None and outcome.stored
    assert [c[0] for c in synth.calls] == SENTENCES


async def test_a_throttled_synthesizer_reports_throttled_for_that_sentence() -> None:
    synth = MemorySynthesizer(fail=lambda text: ProviderThrottled("busy") if "첫" in text else None)
    poster = MemoryPoster()

    await run(make_runner(ListChatModel(PIECES), synthesizer=synth), poster)

    errors = [e for e in poster.received["c1"] if e["type"] == "error"]
    assert [(e["code"], e["message"].split(":")[0]) for e in errors] == [
        ("throttled", "Sentence 0")
    ]


async def test_a_history_that_cannot_save_leaves_the_turn_unstored_but_done_is_sent() -> None:
    poster, history = MemoryPoster(), MemoryHistory()
    history.fail_save = True

    outcome = await run(make_runner(ListChatModel(PIECES), history=history), poster)

    events = poster.received["c1"]
    assert events[-1]["type"] == "done" and events[-1]["text"] == ANSWER
    assert kinds(events).count("audio") == 3
    assert outcome.stored is False and history.turns == []


async def test_a_history_that_cannot_be_read_ends_the_turn_with_service_unavailable() -> None:
    poster, history = MemoryPoster(), MemoryHistory()
    history.fail_recent = True
    model = ListChatModel(PIECES)

    outcome = await run(make_runner(model, history=history), poster)

    assert model.calls == []
    assert kinds(poster.received["c1"]) == ["error", "done"]
    assert poster.received["c1"][0]["code"] == "service_unavailable"
    assert outcome.error == "service_unavailable" and not outcome.stored


async def test_a_gone_connection_stops_the_turn() -> None:
    poster = MemoryPoster(gone={"c1"})
    synth = MemorySynthesizer()
    model = ListChatModel(PIECES[:1], endless=True)

    outcome = await run(make_runner(model, synthesizer=synth), poster)

    assert model.closed  # the model was stopped, although it would have gone on forever
    assert poster.attempts == ["c1"]  # the first post found the page gone; nothing more was tried
    assert outcome.interrupted is True
