"""Acceptance 2: speech, silence, speech → two utterances, and the silence is not streamed."""

from __future__ import annotations

from pathlib import Path

import pytest
from interp_fakes import ScriptedRecognizer, SpeechSpan

from interpreter.events import FRAME_MS, AudioFrame
from interpreter.pipeline import TranscriptionPipeline
from interpreter.sources import WavFileSource
from interpreter.vad import UtteranceEnded, UtteranceStarted, VoiceGate, WebRtcSpeechClassifier
from voicebot.contract.wire import TranscriptPost

PREROLL_MS = 300
HANGOVER_MS = 600
TRIGGER_MS = 90  # VoiceGate's default run of voiced frames that opens an utterance
# webrtcvad hears a frame or two of the synthesizer's fade-out as voiced: allow that much.
SLACK_MS = 4 * FRAME_MS


async def _run(wav: Path, recognizer: ScriptedRecognizer) -> list[TranscriptPost]:
    posts: list[TranscriptPost] = []
    gate = VoiceGate(WebRtcSpeechClassifier(2), preroll_ms=PREROLL_MS, hangover_ms=HANGOVER_MS)
    pipeline = TranscriptionPipeline(
        WavFileSource(wav, realtime=False), gate, recognizer, posts.append, lang="ko-KR"
    )
    await pipeline.run()
    return posts


@pytest.mark.timeout(30)
async def test_speech_silence_speech_opens_exactly_two_recognizer_streams(
    two_utterances_wav: tuple[Path, list[SpeechSpan]],
) -> None:
    wav, _ = two_utterances_wav
    recognizer = ScriptedRecognizer()
    posts = await _run(wav, recognizer)

    assert len(recognizer.streams) == 2
    finals = [p for p in posts if p.final]
    assert [p.text.split()[0] for p in finals] == ["발화1", "발화2"]
    assert len({p.utteranceId for p in finals}) == 2


@pytest.mark.timeout(30)
async def test_a_slow_final_is_not_overtaken_by_the_next_utterance(
    two_utterances_wav: tuple[Path, list[SpeechSpan]],
) -> None:
    # The file is read faster than real time, so the second utterance has ended long before
    # the first one's final (5 s late) arrives: without ordering, "발화2" would be posted first.
    wav, _ = two_utterances_wav
    recognizer = ScriptedRecognizer(final_delays_s=(5.0, 0.0))
    posts = await _run(wav, recognizer)

    first, second = recognizer.streams
    assert first.finals_at and second.finals_at, "both utterances were streamed"
    spoken = [p.text.split()[0] for p in posts]
    assert spoken == sorted(spoken) and spoken[0] == "발화1" and spoken[-1] == "발화2"
    finals = [p for p in posts if p.final]
    assert [p.text.split()[0] for p in finals] == ["발화1", "발화2"]
    # The first utterance's final came before any result of the second, and ids follow speech.
    first_final = posts.index(finals[0])
    assert all(p.text.startswith("발화1") for p in posts[: first_final + 1])
    ids = list(dict.fromkeys(p.utteranceId for p in posts))
    assert ids == sorted(ids, key=lambda i: int(i.rsplit("-", 1)[1]))


@pytest.mark.timeout(30)
async def test_no_frame_of_the_silence_reaches_the_recognizer_beyond_the_hangover(
    two_utterances_wav: tuple[Path, list[SpeechSpan]],
) -> None:
    wav, (first, second) = two_utterances_wav
    recognizer = ScriptedRecognizer()
    await _run(wav, recognizer)

    sent = [frame.start_ms for stream in recognizer.streams for frame in stream.frames]
    quiet_from = first.end_ms + HANGOVER_MS + SLACK_MS
    quiet_until = second.start_ms - PREROLL_MS - TRIGGER_MS - SLACK_MS
    assert quiet_until - quiet_from > 1000, "the recording must have a real gap to test"
    in_silence = [t for t in sent if quiet_from < t + FRAME_MS and t < quiet_until]
    assert in_silence == []
    # And the speech itself was streamed, with its pre-roll.
    first_stream = recognizer.streams[0].frames
    assert first_stream[0].start_ms <= first.start_ms - PREROLL_MS + SLACK_MS
    assert first_stream[-1].start_ms >= first.end_ms


def test_the_gate_streams_exactly_hangover_ms_after_the_last_voiced_frame() -> None:
    class Script:
        def __init__(self, voiced: list[bool]) -> None:
            self.voiced = iter(voiced)

        def is_speech(self, pcm: bytes) -> bool:
            return next(self.voiced)

    pattern = [False] * 20 + [True] * 10 + [False] * 40
    gate = VoiceGate(Script(pattern), preroll_ms=150, hangover_ms=300, trigger_ms=90)
    events = []
    for index in range(len(pattern)):
        events += gate.push(AudioFrame(b"\0" * 960, index * FRAME_MS))

    frames = [e.start_ms // FRAME_MS for e in events if isinstance(e, AudioFrame)]
    assert isinstance(events[0], UtteranceStarted)
    assert isinstance(events[-1], UtteranceEnded)
    # 5 pre-roll frames before the first voiced one (20), 10 hangover frames after the last (29).
    assert frames == list(range(15, 40))


def test_a_long_monologue_is_cut_into_streams_of_at_most_max_utterance_ms() -> None:
    class AlwaysSpeech:
        def is_speech(self, pcm: bytes) -> bool:
            return True

    gate = VoiceGate(AlwaysSpeech(), preroll_ms=0, max_utterance_ms=3000)
    events = []
    for index in range(400):  # 12 s of speech
        events += gate.push(AudioFrame(b"\0" * 960, index * FRAME_MS))
    events += gate.flush()
    starts = sum(isinstance(e, UtteranceStarted) for e in events)
    ends = sum(isinstance(e, UtteranceEnded) for e in events)
    assert starts == ends == 4
    assert sum(isinstance(e, AudioFrame) for e in events) == 400  # nothing lost at the cuts
