"""Acceptance 1: the real amazon-transcribe client, driven by ``python -m interpreter``, against a
local Transcribe streaming endpoint (HTTP/2 over TLS with ALPN h2, AWS event-stream framing).

Audio events must arrive SigV4-signed (request ``Authorization`` plus a ``:chunk-signature`` chain
verified with the secret key), partial and final results must flow back, and the interpreter must
post them in order to the transcripts API.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from interp_fake_api import FakeTranscriptsApi
from interp_fake_transcribe import FakeTranscribe
from interp_fakes import SpeechSpan

REPO = Path(__file__).resolve().parents[2]
TEXTS = ["안녕하세요 오늘 날씨가 좋네요", "내일 다시 만나요"]
AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=AKIDTEST/\d{8}/us-east-1/transcribe/aws4_request, "
    r"SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=[0-9a-f]{64}$"
)


@pytest.fixture
def fake_transcribe(tmp_path: Path) -> Iterator[FakeTranscribe]:
    fake = FakeTranscribe(tmp_path, TEXTS, partial_every_bytes=6400).start()
    yield fake
    fake.stop()


def _interpreter_env(tmp_path: Path, fake: FakeTranscribe, token: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VOICEBOT_"))}
    env.update(
        HOME=str(tmp_path),  # no ~/.aws profile of the person running the tests
        AWS_ACCESS_KEY_ID="AKIDTEST",
        AWS_SECRET_ACCESS_KEY=fake.secret_key,
        AWS_REGION=fake.region,
        AWS_EC2_METADATA_DISABLED="true",
        VOICEBOT_DEVICE_TOKEN=token,
    )
    return env


@pytest.fixture
def interpreter_run(
    tmp_path: Path,
    fake_transcribe: FakeTranscribe,
    transcripts_api: FakeTranscriptsApi,
    two_utterances_wav: tuple[Path, list[SpeechSpan]],
) -> subprocess.CompletedProcess[str]:
    wav, _ = two_utterances_wav
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "interpreter",
            "--wav",
            str(wav),
            "--fast",
            "--quiet",
            "--api",
            transcripts_api.url,
            "--recognizer",
            "transcribe",
            "--transcribe-endpoint",
            fake_transcribe.url,
            "--ca-file",
            str(fake_transcribe.cert_path),
        ],
        cwd=REPO,
        env=_interpreter_env(tmp_path, fake_transcribe, transcripts_api.token),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.timeout(90)
def test_each_utterance_is_one_tls_h2_stream_with_the_transcribe_request_headers(
    interpreter_run: subprocess.CompletedProcess[str], fake_transcribe: FakeTranscribe
) -> None:
    assert interpreter_run.returncode == 0, interpreter_run.stderr
    assert fake_transcribe.alpn_seen and set(fake_transcribe.alpn_seen) == {"h2"}
    assert len(fake_transcribe.streams) == 2
    for stream in fake_transcribe.streams:
        headers = stream.headers
        assert headers[":method"] == "POST"
        assert headers[":path"] == "/stream-transcription"
        assert headers["x-amzn-transcribe-language-code"] == "ko-KR"
        assert headers["x-amzn-transcribe-sample-rate"] == "16000"
        assert headers["x-amzn-transcribe-media-encoding"] == "pcm"
        assert headers["x-amzn-transcribe-enable-partial-results-stabilization"].lower() == "true"
        assert headers["x-amzn-transcribe-partial-results-stability"] == "high"


@pytest.mark.timeout(90)
def test_audio_events_arrive_signed_with_a_valid_chunk_signature_chain(
    interpreter_run: subprocess.CompletedProcess[str], fake_transcribe: FakeTranscribe
) -> None:
    assert interpreter_run.returncode == 0, interpreter_run.stderr
    for stream in fake_transcribe.streams:
        match = AUTHORIZATION.match(stream.headers["authorization"])
        assert match, stream.headers["authorization"]
        assert {"host", "x-amz-date"} <= set(match["signed"].split(";"))
        assert stream.audio_chunks, "no audio reached the recognizer"
        # One signed message per AudioEvent plus the signed empty message that ends the stream.
        assert stream.signed_messages == len(stream.audio_chunks) + 1
        assert stream.bad_signatures == 0
        assert stream.end_of_stream_message
        # Transcribe wants 50-200 ms per event and at most 32 KB.
        assert all(len(chunk) <= 6400 for chunk in stream.audio_chunks)
        assert all(len(chunk) >= 1600 for chunk in stream.audio_chunks[:-1])


@pytest.mark.timeout(90)
def test_partials_then_the_final_of_each_utterance_are_posted_in_order(
    interpreter_run: subprocess.CompletedProcess[str],
    fake_transcribe: FakeTranscribe,
    transcripts_api: FakeTranscriptsApi,
) -> None:
    assert interpreter_run.returncode == 0, interpreter_run.stderr
    posts = transcripts_api.posts
    assert posts == transcripts_api.relayed, "every post was new: no repeat, nothing stale"
    by_utterance: dict[str, list[dict[str, Any]]] = {}
    for post in posts:
        by_utterance.setdefault(str(post["utteranceId"]), []).append(post)
    assert len(by_utterance) == 2
    texts = []
    for utterance in by_utterance.values():
        seqs = [int(post["seq"]) for post in utterance]
        assert seqs == sorted(set(seqs))
        assert [post["final"] for post in utterance] == [False] * (len(utterance) - 1) + [True]
        # Partials came first; on a busy machine the publisher may coalesce some (a newer one
        # replaces a queued one), but each was numbered before the final.
        assert seqs[-1] >= 1
        final_text = str(utterance[-1]["text"])
        assert all(final_text.startswith(str(post["text"])) for post in utterance)
        assert {post.get("lang") for post in utterance} == {"ko-KR"}
        texts.append(final_text)
    assert sorted(texts) == sorted(TEXTS)
    assert any(not post["final"] for post in posts), "no partial result reached the API"
    sent_results = [r for stream in fake_transcribe.streams for r in stream.results_sent]
    assert sum(not r["IsPartial"] for r in sent_results) == 2
    assert sum(bool(r["IsPartial"]) for r in sent_results) >= 4
