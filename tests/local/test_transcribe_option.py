"""The local stack's page microphone on Amazon Transcribe (``--transcribe``,
``--transcribe-endpoint``): read through the contract's settings, and named in config.json only
when chosen (the browser test, tests/web/test_transcribe_mic.py, runs it against the peer)."""

from __future__ import annotations

import pytest

from local.engines import Endpoints, engine_names, handler_environment, uses_aws
from local.options import parse_options
from voicebot.contract.settings import TranscribeSettings

ENDPOINTS = Endpoints(
    redis_url="redis://127.0.0.1:1", dynamodb_url="http://127.0.0.1:2", llm_url=None
)
ARGS = ["--chat", "scripted", "--tts", "scripted", "--asr", "none"]


def test_an_endpoint_points_the_transcribe_function_at_it_and_needs_no_aws() -> None:
    options = parse_options([*ARGS, "--transcribe-endpoint", "ws://127.0.0.1:9"])
    assert options.transcribe
    settings = TranscribeSettings.from_env(handler_environment(options, ENDPOINTS))
    assert settings.transcribe_endpoint == "ws://127.0.0.1:9"
    assert settings.transcribe_language == "ko-KR"
    assert uses_aws(options) == []
    assert engine_names(options)["asr"] == "transcribe (ws://127.0.0.1:9, in the page)"


def test_plain_transcribe_uses_aws_and_the_stacks_language() -> None:
    options = parse_options([*ARGS, "--transcribe", "--language", "en-US"])
    settings = TranscribeSettings.from_env(handler_environment(options, ENDPOINTS))
    assert settings.transcribe_endpoint is None and settings.transcribe_language == "en-US"
    assert uses_aws(options) == ["the page's microphone (Transcribe)"]


def test_without_it_the_stack_keeps_mic_and_sets_nothing() -> None:
    options = parse_options(ARGS)
    assert not options.transcribe
    environment = handler_environment(options, ENDPOINTS)
    assert not any(name.startswith("TRANSCRIBE_") for name in environment)


def test_an_endpoint_that_is_not_a_websocket_url_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        parse_options([*ARGS, "--transcribe-endpoint", "http://127.0.0.1:9"])
    assert "ws:// or wss://" in capsys.readouterr().err
