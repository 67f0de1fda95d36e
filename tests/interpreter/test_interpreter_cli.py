"""``python -m interpreter``: options, settings sources and exit statuses."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from interp_fake_api import FakeTranscriptsApi
from interp_fakes import ScriptedRecognizer, SpeechSpan

from interpreter.__main__ import build_parser, main
from interpreter.app import EXIT_API_UNREACHABLE, EXIT_AUTH, EXIT_USAGE, run
from interpreter.config import Settings
from interpreter.sources import MicrophoneSource, SourceError

REPO = Path(__file__).resolve().parents[2]


def test_every_setting_has_a_documented_command_line_option() -> None:
    parser = build_parser()
    documented = {action.dest: action.help for action in parser._actions if action.dest != "help"}
    for name in Settings.model_fields:
        assert documented.get(name), f"setting {name!r} has no documented option"
    help_text = parser.format_help()
    for env in ("VOICEBOT_API_URL", "VOICEBOT_DEVICE_TOKEN", "VOICEBOT_CONFIG_FILE"):
        assert env in help_text


def test_command_line_beats_environment_beats_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "interpreter.json"
    config.write_text(
        json.dumps({"api_url": "http://file", "language": "en-US", "hangover_ms": 500})
    )
    monkeypatch.setenv("VOICEBOT_LANGUAGE", "ja-JP")
    monkeypatch.setenv("VOICEBOT_DEVICE_TOKEN", "from-env")
    args = build_parser().parse_args(["--config", str(config), "--hangover-ms", "900"])
    settings = Settings(**vars(args))
    assert settings.api_url == "http://file"
    assert settings.language == "ja-JP"
    assert settings.hangover_ms == 900
    assert settings.device_token is not None
    assert settings.device_token.get_secret_value() == "from-env"


def test_a_toml_config_file_is_read(tmp_path: Path) -> None:
    config = tmp_path / "interpreter.toml"
    config.write_text('api_url = "http://127.0.0.1:9"\nrecognizer = "vosk"\nquiet = true\n')
    settings = Settings(config_file=config)
    assert (settings.api_url, settings.recognizer, settings.quiet) == (
        "http://127.0.0.1:9",
        "vosk",
        True,
    )


def test_an_out_of_range_setting_exits_with_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--hangover-ms", "20000"]) == EXIT_USAGE
    assert "hangover_ms" in capsys.readouterr().err


def test_missing_api_or_token_exits_with_status_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VOICEBOT_DEVICE_TOKEN", raising=False)
    monkeypatch.delenv("VOICEBOT_API_URL", raising=False)
    assert main(["--api", "http://127.0.0.1:9", "--quiet"]) == EXIT_USAGE


@pytest.mark.timeout(30)
def test_an_unreachable_api_at_start_exits_4_with_a_clear_message(
    two_utterances_wav: tuple[Path, list[SpeechSpan]],
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "interpreter",
            "--wav",
            str(two_utterances_wav[0]),
            "--fast",
            "--api",
            f"http://127.0.0.1:{port}",
            "--token",
            "t",
            "--recognizer",
            "vosk",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == EXIT_API_UNREACHABLE
    assert f"Cannot reach the Voicebot API at http://127.0.0.1:{port}/api/health" in done.stderr


@pytest.mark.timeout(30)
async def test_a_refused_token_exits_3_with_a_clear_message(
    transcripts_api: FakeTranscriptsApi,
    two_utterances_wav: tuple[Path, list[SpeechSpan]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = Settings(
        api_url=transcripts_api.url,
        device_token="expired",
        wav=two_utterances_wav[0],
        realtime=False,
        quiet=True,
    )
    with caplog.at_level(logging.ERROR):
        assert await run(settings, recognizer=ScriptedRecognizer()) == EXIT_AUTH
    assert "refused the device token (HTTP 401" in caplog.text


async def test_a_machine_without_portaudio_is_told_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # import now raises ImportError
    with pytest.raises(SourceError, match="libportaudio2"):
        await anext(MicrophoneSource().frames())
