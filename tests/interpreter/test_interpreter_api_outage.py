"""Acceptance 3: the API goes away mid-utterance for a few seconds; every final transcript still
arrives exactly once, in order, after it comes back."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from interp_fake_api import FakeTranscriptsApi
from interp_fakes import ScriptedRecognizer, SpeechSpan

from interpreter.app import EXIT_OK, run
from interpreter.config import Settings
from interpreter.publisher import TranscriptPublisher

# The first utterance is ~2.7 s of speech: its final (~3.8 s in) falls well inside the outage.
OUTAGE_S = 4.5


@pytest.mark.timeout(60)
async def test_every_final_arrives_exactly_once_and_in_order_after_an_outage(
    transcripts_api: FakeTranscriptsApi, two_utterances_wav: tuple[Path, list[SpeechSpan]]
) -> None:
    wav, _ = two_utterances_wav
    outages: list[threading.Thread] = []

    def kill_after_first_partial(post: dict[str, Any]) -> None:
        if not outages and not post["final"]:
            outages.append(transcripts_api.go_down_for(OUTAGE_S))

    transcripts_api.on_relay = kill_after_first_partial
    recognizer = ScriptedRecognizer(every=4)
    settings = Settings(
        api_url=transcripts_api.url,
        device_token=transcripts_api.token,
        wav=wav,
        realtime=True,  # the outage has to overlap speech that is still being heard
        quiet=True,
        hangover_ms=600,
        drain_timeout_s=20,
    )
    publisher = TranscriptPublisher(
        settings.api_url or "", transcripts_api.token, backoff_initial_s=0.05, backoff_max_s=0.4
    )

    code = await run(settings, recognizer=recognizer, publisher=publisher)

    assert code == EXIT_OK
    assert len(transcripts_api.down_periods) == 1
    down_from, down_until = transcripts_api.down_periods[0]
    finals_heard_while_down = [
        t for s in recognizer.streams for t in s.finals_at if down_from <= t <= down_until
    ]
    assert finals_heard_while_down, "the outage must cover a final, or this proves nothing"

    finals = transcripts_api.finals()
    assert [f["text"] for f in finals] == [s.text for s in recognizer.streams]
    assert len({f["utteranceId"] for f in finals}) == len(finals) == 2
    for final in finals:
        same_utterance = [
            p for p in transcripts_api.relayed if p["utteranceId"] == final["utteranceId"]
        ]
        assert same_utterance[-1] is final, "nothing of an utterance is relayed after its final"
        seqs = [p["seq"] for p in same_utterance]
        assert seqs == sorted(set(seqs))
