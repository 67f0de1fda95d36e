"""Korean-aware end of turn in the interpreter: the gate waits as long as the words heard so far
say (contract/endpointing.py), the posts carry the device's speech times and Transcribe's
stability, and the option off restores the fixed hangover."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from interp_fake_transcribe import FakeTranscribe
from interp_fakes import SpeechSpan

from interpreter.app import build_gate
from interpreter.config import Settings
from interpreter.events import FRAME_MS, AudioFrame, FinalTranscript, PartialTranscript
from interpreter.pipeline import TranscriptionPipeline
from interpreter.vad import GateEvent, UtteranceEnded, UtteranceStarted, VoiceGate
from voicebot.contract.endpointing import EndOfTurnConfig, EndOfTurnRule
from voicebot.contract.wire import TranscriptPost

RULE = EndOfTurnRule(EndOfTurnConfig(), "ko-KR")
VOICED = 20  # frames of speech, after 10 of silence


class Script:
    def __init__(self, voiced: list[bool]) -> None:
        self.voiced = iter(voiced)

    def is_speech(self, pcm: bytes) -> bool:
        return next(self.voiced, False)


def _pattern() -> list[bool]:
    return [False] * 10 + [True] * VOICED + [False] * 100


def _silence_before_close(gate: VoiceGate, text: str | None, *, heard_at: int) -> int:
    """Pushes the pattern; ``text`` is heard after frame ``heard_at``; returns the ms of silence
    after the last voiced frame when the gate closed."""
    pattern = _pattern()
    gate.classifier = Script(pattern)
    for index in range(len(pattern)):
        events = gate.push(AudioFrame(b"\0" * 960, index * FRAME_MS))
        if text is not None and index == heard_at:
            gate.hear(text)
        ended = [e for e in events if isinstance(e, UtteranceEnded)]
        if ended:
            assert ended[0].speech_end_ms == (10 + VOICED) * FRAME_MS
            return (index + 1 - 10 - VOICED) * FRAME_MS
    raise AssertionError("the gate never closed")


def _gate(rule: EndOfTurnRule | None = RULE) -> VoiceGate:
    return VoiceGate(Script([]), preroll_ms=150, hangover_ms=700, end_of_turn=rule)


LAST_VOICED = 10 + VOICED - 1


def test_a_sentence_final_ending_heard_after_the_speech_shortens_the_wait() -> None:
    assert _silence_before_close(_gate(), "산책 갈까요", heard_at=LAST_VOICED + 3) == 300


def test_a_connective_lengthens_the_wait() -> None:
    assert _silence_before_close(_gate(), "오늘 날씨가 좋은데", heard_at=LAST_VOICED + 3) == 1200
    # Lengthening needs no fresh text: heard during the speech, it still holds the gate open.
    assert _silence_before_close(_gate(), "밥을 먹고", heard_at=LAST_VOICED - 5) == 1200


def test_stale_complete_text_keeps_the_default() -> None:
    # "…요" heard before the last voiced frames: the speaker may have gone on; 700 ms as before.
    assert _silence_before_close(_gate(), "좋네요", heard_at=LAST_VOICED - 5) == 690


def test_unknown_endings_and_no_text_keep_the_default() -> None:
    assert _silence_before_close(_gate(), "오늘 날씨가", heard_at=LAST_VOICED + 3) == 690
    assert _silence_before_close(_gate(), None, heard_at=0) == 690


def test_without_the_rule_the_hangover_is_fixed_whatever_the_words() -> None:
    for text in ("산책 갈까요", "좋은데", "and"):
        assert _silence_before_close(_gate(None), text, heard_at=LAST_VOICED + 3) == 690
    disabled = EndOfTurnRule(EndOfTurnConfig(enabled=False), "ko-KR")
    assert _silence_before_close(_gate(disabled), "갈까요", heard_at=LAST_VOICED + 3) == 690


def test_text_of_a_closed_utterance_does_not_steer_the_next() -> None:
    gate = _gate()
    _silence_before_close(gate, "좋은데", heard_at=LAST_VOICED + 3)
    gate.hear("좋은데")  # a late partial of the closed utterance
    assert _silence_before_close(gate, None, heard_at=0) == 690


def test_the_gate_reports_where_speech_started_and_ended() -> None:
    pattern = _pattern()
    gate = VoiceGate(Script(pattern), preroll_ms=150, hangover_ms=300, trigger_ms=90)
    events: list[GateEvent] = []
    for index in range(len(pattern)):
        events += gate.push(AudioFrame(b"\0" * 960, index * FRAME_MS))
    started = [e for e in events if isinstance(e, UtteranceStarted)]
    ended = [e for e in events if isinstance(e, UtteranceEnded)]
    assert [e.speech_start_ms for e in started] == [10 * FRAME_MS]
    assert [e.speech_end_ms for e in ended] == [(10 + VOICED) * FRAME_MS]


def test_settings_turn_the_rule_on_by_default_and_off_by_flag_or_env(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from interpreter.__main__ import build_parser

    monkeypatch.delenv("VOICEBOT_ADAPTIVE_END_OF_TURN", raising=False)
    assert build_gate(Settings()).end_of_turn is not None
    off = Settings(**vars(build_parser().parse_args(["--no-adaptive-end-of-turn"])))
    assert off.adaptive_end_of_turn is False
    assert build_gate(off).end_of_turn is None
    monkeypatch.setenv("VOICEBOT_ADAPTIVE_END_OF_TURN", "false")
    assert build_gate(Settings()).end_of_turn is None
    tuned = Settings(complete_hangover_ms=400, incomplete_hangover_ms=1500, hangover_ms=800)
    config = tuned.end_of_turn()
    assert (config.completeMs, config.incompleteMs, config.minMs, config.maxMs) == (
        400,
        1500,
        400,
        1500,
    )


# ---- the posts ---------------------------------------------------------------------------------


class FixedSource:
    def __init__(self, pattern: list[bool]) -> None:
        self.pattern = pattern

    async def frames(self) -> AsyncIterator[AudioFrame]:
        for index in range(len(self.pattern)):
            yield AudioFrame(b"\0" * 960, index * FRAME_MS)


class StableStream:
    """Two partials (the first word stable in the second), a final at the end of audio."""

    def __init__(self) -> None:
        self.sent = 0
        self.queued: list[PartialTranscript | FinalTranscript] = []

    async def send(self, frame: AudioFrame) -> None:
        self.sent += 1
        if self.sent == 5:
            self.queued.append(PartialTranscript("오늘", "s", 0))
        if self.sent == 10:
            self.queued.append(PartialTranscript(" 오늘 날씨", "s", 3))
        if self.sent == 12:  # more of the same text became stable: worth a post
            self.queued.append(PartialTranscript("오늘 날씨", "s", 5))

    async def finish(self) -> None:
        self.queued.append(FinalTranscript("오늘 날씨가 좋네요", "s"))

    def events(self) -> AsyncIterator[PartialTranscript | FinalTranscript]:
        return self._events()

    async def _events(self) -> AsyncIterator[PartialTranscript | FinalTranscript]:
        import asyncio

        index = 0
        while True:
            while index < len(self.queued):
                event = self.queued[index]
                index += 1
                yield event
                if isinstance(event, FinalTranscript):
                    return
            await asyncio.sleep(0.001)


class StableRecognizer:
    async def open_stream(self) -> StableStream:
        return StableStream()


@pytest.mark.timeout(30)
async def test_posts_carry_stable_chars_and_the_device_speech_times() -> None:
    pattern = _pattern()
    posts: list[TranscriptPost] = []
    gate = VoiceGate(Script(pattern), preroll_ms=150, hangover_ms=300, trigger_ms=90)
    pipeline = TranscriptionPipeline(FixedSource(pattern), gate, StableRecognizer(), posts.append)
    await pipeline.run()

    assert [(p.text, p.stableChars, p.final) for p in posts] == [
        ("오늘", 0, False),
        ("오늘 날씨", 2, False),  # 3 stable characters of " 오늘 날씨" = 2 of the stripped text
        ("오늘 날씨", 5, False),
        ("오늘 날씨가 좋네요", None, True),
    ]
    final = posts[-1]
    assert final.speechStartedAt is not None and final.speechEndedAt is not None
    assert final.recognizedAt is not None
    # 20 voiced frames = 600 ms between the first voiced audio and the end of the last.
    assert final.speechEndedAt - final.speechStartedAt == VOICED * FRAME_MS
    # (recognizedAt is the wall clock; this source is not paced, so it is not compared.)
    assert all(p.speechStartedAt == final.speechStartedAt for p in posts)
    body = final.body()
    assert "stableChars" not in body and {"speechStartedAt", "speechEndedAt"} <= set(body)


@pytest.mark.timeout(60)
async def test_transcribe_stable_items_become_stable_chars(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    two_utterances_wav: tuple[Path, list[SpeechSpan]],
) -> None:
    from interpreter.recognizers.transcribe import TranscribeRecognizer
    from interpreter.sources import WavFileSource
    from interpreter.vad import WebRtcSpeechClassifier

    texts = ["안녕하세요 오늘 날씨가 좋네요", "내일 다시 만나요"]
    fake = FakeTranscribe(tmp_path, texts, partial_every_bytes=6400, stable_items=True).start()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", fake.secret_key)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    try:
        recognizer = TranscribeRecognizer(
            region=fake.region, endpoint=fake.url, ca_file=fake.cert_path
        )
        wav, _ = two_utterances_wav
        posts: list[TranscriptPost] = []
        gate = VoiceGate(WebRtcSpeechClassifier(2), end_of_turn=RULE)
        pipeline = TranscriptionPipeline(
            WavFileSource(wav, realtime=False), gate, recognizer, posts.append, lang="ko-KR"
        )
        await pipeline.run()
    finally:
        fake.stop()

    partials = [p for p in posts if not p.final]
    assert partials, "the fake sends partials"
    for post in partials:
        words = post.text.split()
        # Every word but the last is stable: the stable prefix ends where the last word starts.
        assert post.stableChars == len(" ".join(words[:-1]))
    assert all(p.stableChars is None for p in posts if p.final)
    assert sorted(p.text for p in posts if p.final) == sorted(texts)
