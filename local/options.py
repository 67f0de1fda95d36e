"""The options of ``python -m local``: one parser, one typed result."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from interpreter.recognizers.riva import CHUNK_MS_CHOICES

ChatEngine = Literal["local", "bedrock", "openai", "nvidia", "scripted"]
TtsEngine = Literal["espeak", "polly", "riva", "scripted"]
AsrEngine = Literal["vosk", "riva", "none"]

# The interpreter's variable, so one exported key serves both; never an option (argv is public).
RIVA_API_KEY_VARIABLE = "VOICEBOT_RIVA_API_KEY"


@dataclass(frozen=True)
class RivaServerOptions:
    """Where NVIDIA Riva / NIM recognizes (``--asr riva``) and speaks (``--tts riva``)."""

    url: str
    use_ssl: bool
    ssl_cert: Path | None
    chunk_ms: int
    function_id: str | None
    tts_url: str
    tts_function_id: str | None
    tts_voice: str | None
    tts_language: str


@dataclass(frozen=True)
class StackOptions:
    host: str
    port: int
    data_dir: Path
    chat: ChatEngine
    chat_endpoint: str | None
    chat_model: str | None
    tts: TtsEngine
    voice: str | None
    asr: AsrEngine
    redis_url: str | None
    web_dir: Path
    language: str
    log_level: str
    preload_asr: bool
    connections: Literal["in-process", "http"]
    llm_threads: int
    llm_parallel: int
    riva: RivaServerOptions
    # Host names (and page origins) the twin answers besides the loopback names (--allow-host).
    allowed_hosts: tuple[str, ...] = ()
    # A page's WebSocket messages per second (a burst of twice as many is let through).
    ws_message_rate: float = 20.0
    # How long a WebSocket route's function may run before the twin, as API Gateway, gives up.
    integration_timeout: float = 29.0
    redis_restart_delay: float = 0.5
    preemptive_answers: bool = True
    interruption_policy: bool = True
    # The page microphone's pause follows the words heard (contract/endpointing.py).
    adaptive_end_of_turn: bool = True
    # The page's microphone streams to Amazon Transcribe (as deployed) instead of /mic; at this
    # Transcribe-compatible WebSocket endpoint when given (the tests' peer), else AWS's.
    transcribe: bool = False
    transcribe_endpoint: str | None = None
    # FIRST_PHRASE_MIN_CHARS (None: the setting's own, from the environment or its default).
    first_phrase_min_chars: int | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"


def default_data_dir() -> Path:
    return Path(os.environ.get("VOICEBOT_DATA_DIR") or Path.home() / ".voicebot")


def build_parser() -> argparse.ArgumentParser:
    repo = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(
        prog="python -m local",
        description=(
            "The Voicebot local stack: the Lambda handlers behind an API Gateway twin (REST, "
            "WebSocket, @connections), an embedded Redis, a DynamoDB endpoint that keeps history "
            "across restarts, and offline speech and chat engines. No AWS account needed."
        ),
        epilog=(
            "Offline engines are the default. Each one switches to AWS with one flag (your usual "
            "AWS credentials and region are used): --chat bedrock, --tts polly. Any "
            "OpenAI-compatible server: --chat openai --chat-endpoint URL --chat-model NAME. "
            "NVIDIA NIM: --chat nvidia [--chat-endpoint URL] --chat-model NAME (key in "
            "NVIDIA_API_KEY or CHAT_API_KEY). NVIDIA Riva / NIM speech: --asr riva, --tts riva "
            f"(key in {RIVA_API_KEY_VARIABLE}; see docs/RIVA.md). Stop with Ctrl-C."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--port", type=int, default=8000, help="port of the page, REST and WebSocket"
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on; keep loopback unless you know who else can reach it",
    )
    parser.add_argument(
        "--allow-host",
        dest="allowed_hosts",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests for this host name or address, and pages served from it "
        "(repeatable; e.g. your LAN address with --host 0.0.0.0). By default only localhost, "
        "127.0.0.1, ::1 and the --host address are answered: another web page cannot reach the "
        "stack by DNS rebinding or from its own origin",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=default_data_dir(),
        help="where history, the token secret, the assembled model and logs live "
        "(env VOICEBOT_DATA_DIR)",
    )
    parser.add_argument(
        "--chat",
        choices=["local", "bedrock", "openai", "nvidia", "scripted"],
        default="local",
        help="chat model: local = the packaged Gemma 3 270M base model served on loopback "
        "(a plumbing demo, not an assistant); bedrock = Amazon Bedrock ConverseStream; "
        "openai = any OpenAI-compatible endpoint; nvidia = NVIDIA NIM / API catalog; "
        "scripted = a fixed answer for tests and benchmarks",
    )
    parser.add_argument(
        "--chat-endpoint",
        help="base URL of the chat server (openai: e.g. http://127.0.0.1:11434/v1; nvidia: a "
        "self-hosted NIM; bedrock: a Bedrock runtime endpoint override; local: another base "
        "model's OpenAI-compatible completion server instead of the packaged one)",
    )
    parser.add_argument(
        "--chat-model", help="model id or name for the chat engine (bedrock: a model id)"
    )
    parser.add_argument(
        "--tts",
        choices=["espeak", "polly", "riva", "scripted"],
        default="espeak",
        help="speech synthesis: espeak = espeak-ng to OGG (robotic, instant, offline); polly = "
        "Amazon Polly neural; riva = NVIDIA Riva / NIM TTS (no Korean voice: needs "
        "--riva-tts-language); scripted = a tone, for tests",
    )
    parser.add_argument(
        "--voice", help="voice name passed to espeak or Polly (Polly: Seoyeon); Riva: see below"
    )
    parser.add_argument(
        "--asr",
        choices=["vosk", "riva", "none"],
        default="vosk",
        help="recognizer behind the page's microphone (/mic): vosk = offline Korean model; riva = "
        "NVIDIA Riva / NIM streaming recognition; none = no /mic (use the interpreter, e.g. with "
        "Amazon Transcribe, to post transcripts)",
    )
    parser.add_argument(
        "--preload-asr",
        action="store_true",
        help="load the Vosk model (~600 MB RAM, a few seconds) right after start instead of at "
        "the first microphone connection",
    )
    parser.add_argument(
        "--transcribe",
        action="store_true",
        help="the page's microphone streams to Amazon Transcribe as on AWS (URLs signed with "
        "your AWS credentials by the same transcribe function), instead of /mic",
    )
    parser.add_argument(
        "--transcribe-endpoint",
        metavar="URL",
        help="ws:// or wss:// endpoint that speaks Transcribe's streaming WebSocket protocol, "
        "for the page's pre-signed URLs (implies --transcribe; e.g. a test peer)",
    )
    _add_riva_arguments(parser)
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL"),
        help="use this Redis instead of starting an embedded one (env REDIS_URL)",
    )
    parser.add_argument(
        "--redis-restart-delay",
        type=float,
        default=0.5,
        metavar="SECONDS",
        help="an embedded Redis that dies is restarted on its port after this long, doubling up "
        "to 30 s while it keeps dying",
    )
    parser.add_argument(
        "--ws-message-rate",
        type=float,
        default=20.0,
        metavar="N",
        help="messages per second a page's WebSocket may send (bursts of 2N); more are answered "
        "with a rate_limited error and dropped",
    )
    parser.add_argument(
        "--integration-timeout",
        type=float,
        default=29.0,
        metavar="SECONDS",
        help="as API Gateway: a WebSocket route's function still running after this long gets "
        "its page an untyped 'Endpoint request timed out' frame and a logged gateway error",
    )
    parser.add_argument(
        "--web-dir", type=Path, default=repo / "web", help="static files served at /"
    )
    parser.add_argument("--language", default="ko-KR", help="language of speech and recognition")
    parser.add_argument(
        "--no-adaptive-end-of-turn",
        dest="adaptive_end_of_turn",
        action="store_false",
        help="the page's microphone always waits the same pause, whatever the words heard",
    )
    parser.add_argument(
        "--log-level",
        default="WARNING",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log level of the handlers and the stack",
    )
    parser.add_argument(
        "--connections",
        choices=["in-process", "http"],
        default="in-process",
        help="how handlers reach the pages: in-process = straight to the page's socket; http = "
        "through boto3 and the twin's @connections endpoint, as on AWS (slower: two HTTP hops "
        "per message in one process)",
    )
    parser.add_argument(
        "--llm-threads",
        type=int,
        default=0,
        help="CPU threads of the local model (0: half the cores, at least 1)",
    )
    parser.add_argument(
        "--llm-parallel",
        type=int,
        default=4,
        help="turns the local model decodes at once (more share the same cores)",
    )
    parser.add_argument(
        "--no-preemptive-answers",
        dest="preemptive_answers",
        action="store_false",
        help="wait for the final transcript before answering (default: start on a partial that "
        "already reads as a whole question and hold it until the final confirms it)",
    )
    parser.add_argument(
        "--first-phrase-min-chars",
        type=int,
        default=None,
        metavar="N",
        help="the answer's first sound may end at a Korean phrase (…까지는, …고, …면) once it "
        "holds N characters; 0: only at a clause (CDK context firstPhraseMinChars; default: "
        "FIRST_PHRASE_MIN_CHARS, else 6)",
    )
    parser.add_argument(
        "--no-interruption-policy",
        dest="interruption_policy",
        action="store_false",
        help="any partial transcript stops the answer (no backchannels, no ducking or resuming); "
        "CDK context interruptionPolicy=false",
    )
    return parser


def _add_riva_arguments(parser: argparse.ArgumentParser) -> None:
    riva = parser.add_argument_group(
        "NVIDIA Riva / NIM (--asr riva, --tts riva; see docs/RIVA.md)",
        f"A hosted endpoint's API key is read from {RIVA_API_KEY_VARIABLE} (RIVA_TTS_API_KEY, "
        "if set, for synthesis), never from the command line.",
    )
    riva.add_argument(
        "--riva-url",
        default="localhost:50051",
        metavar="HOST:PORT",
        help="Riva gRPC server (hosted NIM: grpc.nvcf.nvidia.com:443 with --riva-ssl)",
    )
    riva.add_argument("--riva-ssl", action="store_true", help="TLS with the system CAs")
    riva.add_argument(
        "--riva-ssl-cert", type=Path, metavar="PEM", help="TLS, trusting this root certificate"
    )
    riva.add_argument(
        "--riva-chunk-ms",
        type=int,
        choices=CHUNK_MS_CHOICES,
        default=160,
        help="audio per recognition request; match the server's streaming chunk",
    )
    riva.add_argument(
        "--riva-function-id", metavar="ID", help="function id of the hosted recognition model"
    )
    riva.add_argument(
        "--riva-tts-url", metavar="HOST:PORT", help="synthesis server, when not --riva-url"
    )
    riva.add_argument(
        "--riva-tts-function-id", metavar="ID", help="function id of the hosted synthesis model"
    )
    riva.add_argument(
        "--riva-tts-voice",
        metavar="NAME",
        help="e.g. Magpie-Multilingual.EN-US.Aria; none: the server's first voice for the language",
    )
    riva.add_argument(
        "--riva-tts-language",
        metavar="TAG",
        help="language Riva speaks, e.g. en-US; none: --language (Riva has no Korean voice, so "
        "--tts riva with a Korean --language needs this)",
    )


def parse_options(argv: list[str] | None = None) -> StackOptions:
    parser = build_parser()
    args = parser.parse_args(argv)
    for name in ("ws_message_rate", "integration_timeout"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be more than 0")
    if args.transcribe_endpoint and not args.transcribe_endpoint.startswith(("ws://", "wss://")):
        parser.error("--transcribe-endpoint must be a ws:// or wss:// URL")
    if args.redis_restart_delay < 0:
        parser.error("--redis-restart-delay must be 0 or more")
    if args.first_phrase_min_chars is not None and args.first_phrase_min_chars < 0:
        parser.error("--first-phrase-min-chars must be 0 or more")
    tts_language = args.riva_tts_language or args.language
    if args.tts == "riva" and tts_language.lower().startswith("ko"):
        # Every sentence would be refused by the server; say so now, not once per sentence.
        parser.error(
            "--tts riva: Riva has no Korean voice. Add --riva-tts-language (e.g. en-US) with a "
            "chat model that answers in that language, or keep --tts espeak or polly for Korean."
        )
    return StackOptions(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir.expanduser().resolve(),
        chat=args.chat,
        chat_endpoint=args.chat_endpoint,
        chat_model=args.chat_model,
        tts=args.tts,
        voice=args.voice,
        asr=args.asr,
        redis_url=args.redis_url,
        web_dir=args.web_dir.resolve(),
        language=args.language,
        log_level=args.log_level,
        preload_asr=args.preload_asr,
        connections=args.connections,
        llm_threads=args.llm_threads,
        llm_parallel=args.llm_parallel,
        preemptive_answers=args.preemptive_answers,
        allowed_hosts=tuple(args.allowed_hosts),
        ws_message_rate=args.ws_message_rate,
        integration_timeout=args.integration_timeout,
        redis_restart_delay=args.redis_restart_delay,
        riva=RivaServerOptions(
            url=args.riva_url,
            use_ssl=args.riva_ssl,
            ssl_cert=args.riva_ssl_cert.expanduser().resolve() if args.riva_ssl_cert else None,
            chunk_ms=args.riva_chunk_ms,
            function_id=args.riva_function_id,
            tts_url=args.riva_tts_url or args.riva_url,
            tts_function_id=args.riva_tts_function_id,
            tts_voice=args.riva_tts_voice,
            tts_language=tts_language,
        ),
        interruption_policy=args.interruption_policy,
        adaptive_end_of_turn=args.adaptive_end_of_turn,
        transcribe=args.transcribe or bool(args.transcribe_endpoint),
        transcribe_endpoint=args.transcribe_endpoint,
        first_phrase_min_chars=args.first_phrase_min_chars,
    )
