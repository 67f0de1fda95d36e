"""The Riva recognizer adapter over the real nvidia-riva-client and a local Riva gRPC server."""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path
from typing import TypeVar

import grpc
import pytest
from riva_fake_server import Failure, FakeRiva, RivaServer

from interpreter.events import FRAME_SAMPLES, AudioFrame, FinalTranscript, PartialTranscript
from interpreter.events import TranscriptEvent as InterpreterEvent
from interpreter.recognizers.riva import RecognizerFault, RivaOptions, RivaRecognizer

pytestmark = pytest.mark.timeout(20)

E = TypeVar("E", bound=InterpreterEvent)


def word_frames(*words: int, frames_per_word: int = 10) -> list[AudioFrame]:
    """30 ms frames: each word is ``frames_per_word`` frames of one constant sample value."""
    frames: list[AudioFrame] = []
    for word in words:
        pcm = struct.pack("<h", word) * FRAME_SAMPLES
        frames += [AudioFrame(pcm, 30 * len(frames)) for _ in range(frames_per_word)]
    return frames


async def recognize(
    recognizer: RivaRecognizer, frames: list[AudioFrame], *, pause: asyncio.Event | None = None
) -> list[InterpreterEvent]:
    """Send the frames as the pipeline does (reader running alongside), then finish."""
    stream = await recognizer.open_stream()
    events: list[InterpreterEvent] = []

    async def read() -> None:
        async for event in stream.events():
            events.append(event)

    reader = asyncio.create_task(read())
    for index, frame in enumerate(frames):
        await stream.send(frame)
        if pause is not None and index == len(frames) // 2:
            await pause.wait()
        await asyncio.sleep(0)
    await stream.finish()
    await asyncio.wait_for(reader, 10)
    return events


def of_kind(kind: type[E], events: list[InterpreterEvent]) -> list[E]:
    return [event for event in events if isinstance(event, kind)]


def options(server: RivaServer, **overrides: object) -> RivaOptions:
    values: dict[str, object] = {"url": server.url, "reconnect_delay_s": 0.05, **overrides}
    return RivaOptions(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("chunk_ms", [80, 160, 560, 1120])
async def test_config_and_audio_arrive_as_sent_in_chunks_of_the_chosen_duration(
    riva: RivaServer, chunk_ms: int
) -> None:
    recognizer = RivaRecognizer(
        options(
            riva,
            chunk_ms=chunk_ms,
            language="en-US",
            api_key="nvapi-secret",
            function_id="fn-123",
            model="nemotron-asr-streaming",
        )
    )
    frames = word_frames(1, 2, 3)  # 900 ms
    await recognize(recognizer, frames)

    (call,) = riva.servicer.calls
    assert call.config is not None
    assert call.config.interim_results is True
    config = call.config.config
    assert (config.sample_rate_hertz, config.audio_channel_count) == (16_000, 1)
    assert config.language_code == "en-US"
    assert config.enable_automatic_punctuation is True
    assert config.encoding == 1  # LINEAR_PCM
    assert config.model == "nemotron-asr-streaming"
    assert {len(chunk) for chunk in call.chunks} == {chunk_ms * 32}
    sent = b"".join(frame.pcm for frame in frames)
    assert call.audio == sent + bytes(len(call.audio) - len(sent))  # the last chunk is padded
    assert len(call.audio) - len(sent) < chunk_ms * 32
    assert call.metadata["authorization"] == "Bearer nvapi-secret"
    assert call.metadata["function-id"] == "fn-123"


async def test_interim_and_final_results_become_the_same_events_as_other_recognizers(
    riva: RivaServer,
) -> None:
    # 240 ms words in 80 ms chunks: each word is 3 chunks; an end-of-speech every 2 words.
    riva.servicer.final_every_chunks = 6
    recognizer = RivaRecognizer(options(riva, chunk_ms=80))
    events = await recognize(recognizer, word_frames(1, 2, 3, 4, frames_per_word=8))

    finals = of_kind(FinalTranscript, events)
    assert finals == [FinalTranscript("w1 w2", "0"), FinalTranscript("w3 w4", "1")]
    partials = of_kind(PartialTranscript, events)
    assert partials == [
        PartialTranscript("w1", "0"),
        # Riva's stable ("w1 ") and unstable ("w2") interim results make one hypothesis.
        PartialTranscript("w1 w2", "0"),
        PartialTranscript("w3", "1"),
        PartialTranscript("w3 w4", "1"),
    ]
    # Within a segment, partials come first and nothing follows its final.
    assert events.index(finals[0]) < events.index(partials[2])


async def test_an_error_mid_utterance_is_reported_and_the_stream_reconnects_losing_nothing(
    riva: RivaServer,
) -> None:
    riva.servicer.failures = {0: Failure(after_chunks=5, code=grpc.StatusCode.INTERNAL)}
    faults: list[RecognizerFault] = []
    recognizer = RivaRecognizer(options(riva, chunk_ms=160), on_fault=faults.append)
    frames = word_frames(1, 2, 3, 4)
    events = await recognize(recognizer, frames)

    assert faults == [RecognizerFault("INTERNAL", "stream dropped", 1, gave_up=False)]
    first, second = riva.servicer.calls
    assert len(first.chunks) == 5
    # Nothing had been finalized: the new stream starts again from the utterance's first chunk.
    sent = b"".join(frame.pcm for frame in frames)
    assert second.audio[: len(sent)] == sent
    finals = of_kind(FinalTranscript, events)
    assert finals == [FinalTranscript("w1 w2 w3 w4", "0")]


async def test_a_drop_after_a_final_resends_only_the_audio_not_yet_finalized(
    riva: RivaServer,
) -> None:
    riva.servicer.final_every_chunks = 3  # one word per segment (3 chunks of 80 ms)
    riva.servicer.failures = {0: Failure(after_chunks=5)}
    faults: list[RecognizerFault] = []
    recognizer = RivaRecognizer(options(riva, chunk_ms=80), on_fault=faults.append)
    frames = word_frames(1, 2, 3, 4, frames_per_word=8)
    events = await recognize(recognizer, frames)

    assert [fault.code for fault in faults] == ["UNAVAILABLE"]
    first, second = riva.servicer.calls
    assert second.chunks[:2] == first.chunks[3:5]  # chunks 0-2 were final; 3 and 4 are resent
    assert first.audio[: 3 * 80 * 32] + second.audio == b"".join(frame.pcm for frame in frames)
    assert of_kind(FinalTranscript, events) == [
        FinalTranscript("w1", "0"),
        FinalTranscript("w2", "1"),
        FinalTranscript("w3", "2"),
        FinalTranscript("w4", "3"),
    ]


async def test_a_server_that_stays_down_ends_with_the_last_partial_as_final(
    riva: RivaServer,
) -> None:
    riva.servicer.fail_every_call = Failure(after_chunks=3)
    faults: list[RecognizerFault] = []
    recognizer = RivaRecognizer(
        options(riva, chunk_ms=80, max_reconnects=2), on_fault=faults.append
    )
    events = await recognize(recognizer, word_frames(1, 2, 3))

    assert [(fault.attempt, fault.gave_up) for fault in faults] == [
        (1, False),
        (2, False),
        (3, True),
    ]
    assert len(riva.servicer.calls) == 3
    partials = of_kind(PartialTranscript, events)
    assert events[-1] == FinalTranscript(partials[-1].text, partials[-1].segment)


async def test_a_restarted_server_gets_the_utterance_again_over_a_new_connection() -> None:
    first = RivaServer(FakeRiva())
    faults: list[RecognizerFault] = []
    recognizer = RivaRecognizer(
        RivaOptions(url=first.url, chunk_ms=80, reconnect_delay_s=0.1, max_reconnects=6),
        on_fault=faults.append,
    )
    halfway = asyncio.Event()
    frames = word_frames(1, 2, 3, 4)
    task = asyncio.create_task(recognize(recognizer, frames, pause=halfway))
    while sum(len(call.chunks) for call in first.servicer.calls) < 3:
        await asyncio.sleep(0.01)
    first.stop()  # the connection drops: in-flight calls end, nothing listens on the port
    second = RivaServer(FakeRiva(), port=first.port)
    try:
        halfway.set()
        events = await task
    finally:
        second.stop()

    assert faults and not faults[-1].gave_up
    finals = of_kind(FinalTranscript, events)
    assert finals == [FinalTranscript("w1 w2 w3 w4", "0")]


async def test_tls_with_a_given_root_certificate(tls_files: tuple[Path, Path]) -> None:
    server = RivaServer(FakeRiva(), tls=tls_files)
    try:
        recognizer = RivaRecognizer(
            RivaOptions(url=f"localhost:{server.port}", ssl_cert=tls_files[1], api_key="k")
        )
        events = await recognize(recognizer, word_frames(7))
    finally:
        server.stop()
    assert events[-1] == FinalTranscript("w7", "0")
    assert server.servicer.calls[0].metadata["authorization"] == "Bearer k"
