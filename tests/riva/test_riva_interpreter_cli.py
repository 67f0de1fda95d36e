"""``python -m interpreter --recognizer riva``: one option selects Riva for the whole pipeline."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from interp_fake_api import FakeTranscriptsApi
from riva_fake_server import RivaServer

from interpreter.__main__ import main
from interpreter.app import EXIT_OK, EXIT_USAGE

# Two spoken Korean utterances, from the interpreter's tests (conftest puts them on the path).
RECORDING = Path(__file__).resolve().parents[1] / "interpreter" / "data" / "two_utterances.wav"


@pytest.fixture
def transcripts_api() -> Iterator[FakeTranscriptsApi]:
    api = FakeTranscriptsApi().start()
    yield api
    api.stop()


@pytest.mark.timeout(30)
def test_recognizer_riva_streams_each_utterance_and_posts_its_transcripts(
    riva: RivaServer, transcripts_api: FakeTranscriptsApi
) -> None:
    # The server "hears" how much audio it got, so each utterance gets its own growing text.
    riva.servicer.transcribe = lambda audio: f"발화 {len(audio) // 3200}"
    status = main(
        [
            "--recognizer", "riva",
            "--riva-url", riva.url,
            "--riva-chunk-ms", "560",
            "--riva-api-key", "nvapi-key",
            "--wav", str(RECORDING),
            "--fast",
            "--api", transcripts_api.url,
            "--token", transcripts_api.token,
            "--quiet",
        ]
    )  # fmt: skip

    assert status == EXIT_OK
    calls = riva.servicer.calls
    assert len(calls) == 2  # one stream per utterance the voice gate heard
    for call in calls:
        assert call.config is not None and call.config.config.language_code == "ko-KR"
        assert {len(chunk) for chunk in call.chunks} == {560 * 32}
        assert call.metadata["authorization"] == "Bearer nvapi-key"
    finals = transcripts_api.finals()
    # --fast lets both utterances' streams run at once, so the calls may arrive in either order.
    assert sorted(post["text"] for post in finals) == sorted(
        f"발화 {len(call.audio) // 3200}" for call in calls
    )
    assert all(post["lang"] == "ko-KR" for post in finals)
    partials = [post for post in transcripts_api.relayed if not post["final"]]
    assert partials and {post["utteranceId"] for post in partials} <= {
        post["utteranceId"] for post in finals
    }


def test_a_chunk_duration_riva_does_not_offer_is_refused_at_start(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOICEBOT_RIVA_CHUNK_MS", "100")
    assert main(["--recognizer", "riva", "--quiet"]) == EXIT_USAGE
    assert "riva_chunk_ms" in capsys.readouterr().err
