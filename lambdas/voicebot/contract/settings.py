"""Every setting a function reads: its environment variable, type, bounds and default, once.

Each concern has its own settings class so a function only needs (and, in the CDK app, only gets)
the variables its handler reads. A variable is the field's name in upper case. Fields that a
deployment chooses carry their CDK context key (``context=...``): ``cdk/settings.py`` reads them
from ``-c key=value`` with this default and these bounds, and ``cdk/functions.py`` writes the
chosen values into the environment of the functions that read the class. The local stack builds
its handlers' environment with :meth:`EnvSettings.environment` from the same fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr


def context_key(key: str) -> dict[str, Any]:
    """Mark a field as chosen at deploy time under this CDK context key."""
    return {"context": key}


class EnvSettings(BaseModel):
    """Settings read from upper-case environment variables named after the fields.

    Plain pydantic rather than pydantic-settings: the environment is the only source here, and
    importing pydantic-settings cost ~85 ms of every function's cold start (bench/cold_start).
    """

    # Validators are built at first use, so a function pays only for the settings it reads.
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Self:
        present = {
            name: environ[name.upper()] for name in cls.model_fields if name.upper() in environ
        }
        return cls.model_validate(present)

    @classmethod
    def variable(cls, field: str) -> str:
        """The environment variable of ``field`` (a typo fails here, not silently at run time)."""
        if field not in cls.model_fields:
            raise KeyError(f"{cls.__name__} has no setting {field!r}")
        return field.upper()

    @classmethod
    def environment(cls, **values: object) -> dict[str, str]:
        """Environment variables for these field values, as a function would read them."""
        return {cls.variable(name): _env_text(value) for name, value in values.items()}

    @classmethod
    def context_fields(cls) -> dict[str, str]:
        """Field name -> CDK context key, for the fields a deployment chooses."""
        found = {}
        for name, info in cls.model_fields.items():
            extra = info.json_schema_extra
            if isinstance(extra, dict) and isinstance(extra.get("context"), str):
                found[name] = str(extra["context"])
        return found


def _env_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return str(value)


class KeyRotationSettings(EnvSettings):
    """How ``TokenSigner`` follows a rotated signing key (its tests build other values)."""

    # The key is re-read this often, and at once (at most every retry interval) when a
    # signature fails with the key held: a rotated key works without a deploy.
    token_key_reload_seconds: int = Field(default=300, ge=1, le=24 * 3600)
    token_key_retry_seconds: int = Field(default=10, ge=0, le=3600)
    # A token signed with the previous key is accepted only if issued at most this long ago.
    token_previous_key_grace_seconds: int = Field(default=12 * 3600, ge=0, le=7 * 24 * 3600)


class TokenSettings(KeyRotationSettings):
    """The signing key that every token check needs, and how a rotated one is followed.

    The secret comes inline (local stack, tests) or from Secrets Manager (AWS).
    """

    token_secret: SecretStr | None = None
    token_secret_arn: str | None = None
    # During a rotation: the key that signed before (inline; on AWS it is the secret's
    # AWSPREVIOUS version, which put-secret-value leaves behind).
    token_secret_previous: SecretStr | None = None


class SessionSettings(EnvSettings):
    """What only the function that issues tokens reads: their lifetime and the access code."""

    token_ttl_seconds: int = Field(
        default=12 * 3600, ge=60, le=7 * 24 * 3600, json_schema_extra=context_key("tokenTtlSeconds")
    )
    # No token outlives its session's start plus this: refreshing (a page's or a device's) never
    # extends a session past it; after it, a new session (and the access code) is needed.
    max_session_age_seconds: int = Field(
        default=7 * 24 * 3600,
        ge=300,
        le=365 * 24 * 3600,
        json_schema_extra=context_key("maxSessionAgeSeconds"),
    )
    access_code: SecretStr | None = None
    access_code_arn: str | None = None


class RedisKeyBounds(EnvSettings):
    """The bounds of every key the Redis adapter writes (docs/PROTOCOL.md, *Bounds*): every key
    expires, and nothing one user does grows without a cap. ``RedisBus`` takes them as they are;
    its tests build them with other values."""

    transcript_stream_maxlen: int = Field(default=1000, ge=10, le=100_000)
    transcript_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    connection_ttl_seconds: int = Field(default=3 * 3600, ge=60)
    # Per-user caps: open pages (the oldest registration is dropped past it), utterances whose
    # repeat/stale/closed state is kept (the oldest is forgotten past it), and per utterance the
    # accepted seqs a repeat is recognized for (an older repeat reads as stale).
    max_connections_per_user: int = Field(default=20, ge=1, le=1000)
    max_utterances_per_user: int = Field(default=200, ge=1, le=100_000)
    utterance_repeat_window: int = Field(default=32, ge=1, le=1000)
    # A turn id is refused as duplicate_turn for this long: the chat function's timeout, as long
    # as a turn may run (a failed turn releases it at once).
    turn_claim_ttl_seconds: int = Field(default=300, ge=60, le=7 * 24 * 3600)


class RedisSettings(RedisKeyBounds):
    """The Redis client of one function, and the bounds of every key it writes."""

    redis_url: str
    redis_auth_secret_arn: str | None = None
    # The pool of one function's process: a command waits up to redis_pool_timeout_seconds for a
    # free connection instead of failing at once when all are busy (redis-py's default pool
    # raised "Too many connections" past 100 and answered everyone service_unavailable).
    redis_max_connections: int = Field(default=32, ge=1, le=1000)
    redis_pool_timeout_seconds: float = Field(default=2.0, gt=0.0, le=30.0)
    redis_socket_timeout_seconds: float = Field(default=5.0, gt=0.0, le=60.0)
    redis_connect_timeout_seconds: float = Field(default=2.0, gt=0.0, le=60.0)
    # Fairness: one user (or one connection, before its user is known) has at most this many
    # requests in flight in a process; more are answered 429 rate_limited, for that user only.
    user_max_in_flight: int = Field(default=8, ge=1, le=1000)
    # A resume replays at most this many events (the page resumes again from the last one).
    resume_max_events: int = Field(default=200, ge=1, le=100_000)


class ConnectionsSettings(EnvSettings):
    """Where the API Gateway management API (``@connections``) lives.

    Message handlers derive it from the event (``https://{domainName}/{stage}``) when unset; the
    transcripts function has no WebSocket event and must be told.
    """

    connections_endpoint: str | None = None
    # Delivery of a transcript to a page (services/relay.py): a post that fails (throttled, 5xx,
    # timeout; not Gone) is tried this many times in all, with exponential backoff from
    # delivery_backoff_ms; a delivery is recorded only once its post succeeded, so an
    # undelivered event stays replayable by resume.
    delivery_attempts: int = Field(default=4, ge=1, le=10)
    delivery_backoff_ms: int = Field(default=100, ge=0, le=10_000)


class HistorySettings(EnvSettings):
    """Where the turns are kept (every function that reads or writes them)."""

    history_table: str
    dynamodb_endpoint: str | None = None


class ConversationSettings(EnvSettings):
    """What only the chat turn reads: how many past turns the model sees, how long turns stay."""

    history_ttl_days: int = Field(
        default=30, ge=1, le=3650, json_schema_extra=context_key("historyTtlDays")
    )
    history_window_turns: int = Field(
        default=10, ge=0, le=100, json_schema_extra=context_key("historyWindowTurns")
    )


class AnswerShapeSettings(EnvSettings):
    """How an answer is streamed to the page and cut into spoken segments (``TurnRunner``)."""

    delta_batch_chars: int = Field(default=24, ge=1, le=1000)
    delta_batch_ms: int = Field(default=50, ge=0, le=2000)
    max_sentence_chars: int = Field(default=160, ge=20, le=1000)
    # The answer's first sound waits for a clause of at least this many characters rather than a
    # whole sentence (0: always a whole sentence). Measured in docs/BENCHMARKS.md.
    first_clause_min_chars: int = Field(
        default=10, ge=0, le=1000, json_schema_extra=context_key("firstClauseMinChars")
    )
    # …and, when the first sentence has no clause mark early, at a Korean phrase boundary (a
    # topic phrase such as …까지는, a connective such as …고/…면) once it holds this many
    # characters (0: no phrase cut; see voicebot/segmenter.py and docs/BENCHMARKS.md).
    first_phrase_min_chars: int = Field(
        default=6, ge=0, le=1000, json_schema_extra=context_key("firstPhraseMinChars")
    )
    synthesis_concurrency: int = Field(default=3, ge=1, le=16)


ChatProvider = Literal["bedrock", "openai", "nvidia", "local", "scripted"]
# The providers a deployment on AWS can choose (-c chatProvider=...); the others are the local
# stack's and the tests'. Each has its own LangChain package in the Lambda asset (cdk/bundling.py).
DEPLOYABLE_CHAT_PROVIDERS: tuple[ChatProvider, ...] = ("bedrock", "openai", "nvidia")


class ChatSettings(AnswerShapeSettings):
    """The chat model and its prompt, and how its answer is shaped."""

    chat_provider: ChatProvider = Field(
        default="bedrock", json_schema_extra=context_key("chatProvider")
    )
    chat_model_id: str = Field(
        default="anthropic.claude-3-haiku-20240307-v1:0", json_schema_extra=context_key("modelId")
    )
    chat_region: str | None = None
    # openai: the server's base URL (…/v1); nvidia: a NIM's (default: NVIDIA's hosted API);
    # bedrock: another Bedrock runtime endpoint (tests).
    chat_endpoint: str | None = Field(default=None, json_schema_extra=context_key("chatEndpoint"))
    # The endpoint's API key: inline (local stack, tests) or, on AWS, the Secrets Manager secret
    # that holds it as a plain string (read when the chat function builds its model).
    chat_api_key: SecretStr | None = None
    chat_api_key_arn: str | None = None
    chat_temperature: float = Field(
        default=0.5, ge=0.0, le=1.0, json_schema_extra=context_key("chatTemperature")
    )
    chat_max_tokens: int = Field(
        default=512, ge=16, le=8192, json_schema_extra=context_key("chatMaxTokens")
    )
    system_prompt: str = (
        "당신은 친절한 음성 비서입니다. 듣고 말하는 대화이므로 짧고 자연스러운 문장으로 답하세요. "
        "목록, 표, 마크다운, 이모지는 쓰지 마세요. 사용자가 쓰는 언어로 답하세요."
    )
    # Only for tests and benchmarks (chat_provider="scripted"); never a user default.
    scripted_answer: str = "안녕하세요. 무엇을 도와드릴까요?"
    scripted_first_token_ms: int = Field(default=0, ge=0)
    scripted_tokens_per_second: float = Field(default=0.0, ge=0.0)
    scripted_chars_per_token: float = Field(default=3.0, gt=0.0, le=100.0)


TtsProvider = Literal["polly", "espeak", "riva", "scripted"]
PollyEngine = Literal["neural", "standard", "generative"]


class SpeechSettings(EnvSettings):
    tts_provider: TtsProvider = "polly"
    tts_voice: str = Field(default="Seoyeon", json_schema_extra=context_key("voice"))
    tts_language: str = Field(default="ko-KR", json_schema_extra=context_key("language"))
    polly_engine: PollyEngine = Field(
        default="neural", json_schema_extra=context_key("pollyEngine")
    )
    polly_region: str | None = None
    polly_endpoint: str | None = None
    speech_cache_size: int = Field(default=128, ge=0, le=10_000)
    # NVIDIA Riva / NIM TTS (tts_provider="riva"); see docs/RIVA.md. Riva names its voices
    # differently from Polly, so tts_voice is not used: riva_tts_voice, else the server's first
    # voice for the language. Riva has no Korean voice: set riva_tts_language.
    riva_tts_url: str = "localhost:50051"
    riva_tts_use_ssl: bool = False
    riva_tts_ssl_cert: Path | None = None
    riva_tts_api_key: SecretStr | None = None
    riva_tts_api_key_arn: str | None = None
    riva_tts_function_id: str | None = None
    riva_tts_voice: str | None = None
    riva_tts_language: str | None = None
    riva_tts_sample_rate: int = Field(default=22050, ge=8000, le=48000)
    # A turn's sentence is sent in growing pieces as Riva streams it, each a whole OGG file the
    # page plays back to back (docs/PROTOCOL.md, "Streamed sentences"); false: one OGG file per
    # sentence, sent once the whole sentence is synthesized.
    riva_tts_stream: bool = True
    # Only for tests and benchmarks (tts_provider="scripted").
    scripted_tts_delay_ms: int = Field(default=0, ge=0)
    scripted_tts_ms_per_char: float = Field(default=0.0, ge=0.0)


class TurnTakingSettings(EnvSettings):
    """How the bot takes turns: each behaviour on or off by one setting, all on by default.

    The page reads the interruption and end-of-turn parts from ``config.json`` (``PageConfig``);
    preemptive answers are PreemptionSettings (the functions read those). Thresholds are measured
    (docs/BENCHMARKS.md) and documented in docs/PROTOCOL.md.
    """

    # Backchannels (네, 응, uh-huh …) never interrupt; other speech interrupts once it holds
    # enough content; the page ducks the answer at the first partial and resumes it after a
    # false interruption (contract/interruptions.py).
    interruption_policy: bool = Field(
        default=True, json_schema_extra=context_key("interruptionPolicy")
    )
    interruption_min_chars: int = Field(default=2, ge=1, le=100)
    interruption_min_ms: int = Field(default=400, ge=0, le=10_000)
    false_interruption_ms: int = Field(default=700, ge=100, le=10_000)
    duck_volume: float = Field(default=0.3, ge=0.0, le=1.0)
    # The end of a turn waits less after a sentence-final ending and more after a connective
    # (contract/endpointing.py), for the page's microphone and the interpreter.
    adaptive_end_of_turn: bool = Field(
        default=True, json_schema_extra=context_key("adaptiveEndOfTurn")
    )


class PreemptionSettings(EnvSettings):
    """Preemptive answers: start the answer on a stable partial transcript, hold everything the
    person would perceive until their ``chat`` confirms the text, else discard it unheard
    (services/preemption.py). Read by the transcripts function (which starts such a turn) and
    the chat function (which runs it, or adopts it for a ``chat``)."""

    preemptive_answers: bool = Field(
        default=True, json_schema_extra=context_key("preemptiveAnswers")
    )
    # The function that runs the turns this one starts (the chat function, invoked
    # asynchronously): the chat route's page turns and the transcripts function's preemptive
    # turns. The local stack and the tests run it in-process instead.
    preemptive_turn_function: str | None = None
    # A held answer no page adopted within this time is discarded.
    preemptive_hold_seconds: float = Field(default=10.0, gt=0.0, le=60.0)


class QuotaSettings(EnvSettings):
    """Per-user limits on what costs money, checked before any model or synthesis call.

    Each is a count in a fixed window (services/quotas.py); a limit of 0 turns that quota off.
    The turn quota bounds Bedrock, the character quota bounds Polly (the answers' sentences and
    ``/api/speech`` together); the Transcribe stream quota is the transcribe function's own
    (TranscribeSettings), so the other functions are not given its variables. Sessions per
    source address are limited by the web ACL instead (cdk/waf.py): the sessions function has no
    Redis. docs/PROTOCOL.md documents the error.
    """

    quota_turns: int = Field(
        default=20, ge=0, le=10_000, json_schema_extra=context_key("quotaTurns")
    )
    quota_turns_window_seconds: int = Field(
        default=60, ge=1, le=24 * 3600, json_schema_extra=context_key("quotaTurnsWindowSeconds")
    )
    quota_speech_chars: int = Field(
        default=30_000, ge=0, le=10_000_000, json_schema_extra=context_key("quotaSpeechChars")
    )
    quota_speech_window_seconds: int = Field(
        default=24 * 3600,
        ge=1,
        le=7 * 24 * 3600,
        json_schema_extra=context_key("quotaSpeechWindowSeconds"),
    )


class TranscribeSettings(EnvSettings):
    """The page's microphone on AWS: the pre-signed Amazon Transcribe streaming URL that the
    transcribe function mints for a signed-in page (services/transcribe.py, docs/PROTOCOL.md).

    The page streams its audio straight to Transcribe's WebSocket API with it; nothing but the
    signature passes through the function. The URL only opens a stream: it is signed for this
    long, and a stream already open outlives it.
    """

    # None: the function's own region (AWS_REGION, as Lambda sets it).
    transcribe_region: str | None = None
    # Where the URL points instead of wss://transcribestreaming.<region>.amazonaws.com:8443
    # (the local stack's --transcribe-endpoint, the tests' Transcribe peer): ws:// or wss://.
    transcribe_endpoint: str | None = None
    transcribe_url_expiry_seconds: int = Field(default=30, ge=5, le=300)
    # The language when the page asks for none (Korean first).
    transcribe_language: str = "ko-KR"
    # Partial-results stabilization (the languages that support it): low, medium or high.
    transcribe_stability: Literal["low", "medium", "high"] = "high"
    # The stream quota (services/quotas.py, QuotaSettings): Transcribe bills each stream's
    # seconds, at least 15, and each URL opens one; the page opens one per utterance.
    quota_transcribe_streams: int = Field(
        default=120, ge=0, le=100_000, json_schema_extra=context_key("quotaTranscribeStreams")
    )
    quota_transcribe_window_seconds: int = Field(
        default=3600,
        ge=1,
        le=7 * 24 * 3600,
        json_schema_extra=context_key("quotaTranscribeWindowSeconds"),
    )


class ServiceSettings(EnvSettings):
    service_name: str = "voicebot"
    max_body_bytes: int = 64 * 1024
    # The page's origin for CORS; "*" is fine because every route needs a bearer token, not cookies.
    cors_origin: str = "*"


ALL_SETTINGS: tuple[type[EnvSettings], ...] = (
    TokenSettings,
    SessionSettings,
    RedisSettings,
    ConnectionsSettings,
    HistorySettings,
    ConversationSettings,
    ChatSettings,
    SpeechSettings,
    TurnTakingSettings,
    PreemptionSettings,
    QuotaSettings,
    TranscribeSettings,
    ServiceSettings,
)
