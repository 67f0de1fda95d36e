"""Builds adapters and services from configuration; cached for the life of a warm container.

This is the only place that reads settings and picks adapters, so handlers stay free of
``if local:`` branches: the local stack and the tests differ from AWS only in the environment.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from . import config
from .config import (
    ChatSettings,
    HistorySettings,
    RedisSettings,
    chat_settings,
    connections_settings,
    conversation_settings,
    history_settings,
    preemption_settings,
    quota_settings,
    redis_settings,
    reset_settings,
    service_settings,
    session_settings,
    speech_settings,
    token_settings,
    transcribe_settings,
)
from .errors import ServiceUnavailable
from .fairness import InFlightLimiter
from .ports import (
    CancelFlags,
    ConnectionPoster,
    ConnectionRegistry,
    DeliveryLedger,
    HeldAnswers,
    HistoryStore,
    Synthesizer,
    TranscriptStream,
    TurnClaims,
    TurnStarter,
)
from .services.health import HealthCheck
from .services.history import HistoryService
from .services.preemption import PreemptiveAnswers
from .services.relay import DeliveryPolicy, TranscriptRelay
from .services.sessions import SessionService
from .services.speech import SpeechService
from .tokens import TokenSigner

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from .adapters.redis_bus import RedisBus
    from .services.chat import TurnRunner
    from .services.quotas import QuotaService
    from .services.transcribe import TranscribeStreams


def _secret_value(arn: str) -> str:
    from aws_lambda_powertools.utilities.parameters import get_secret

    # Cached by Powertools for five minutes, so a rotated secret is picked up without a deploy.
    return str(get_secret(arn, max_age=300))


@lru_cache(maxsize=1)
def signer() -> TokenSigner:
    from .adapters.signing_keys import SecretsManagerKeys, inline_keys

    settings = token_settings()
    keys = inline_keys(settings)
    if keys is None and settings.token_secret_arn:
        keys = SecretsManagerKeys(settings.token_secret_arn)
    if keys is None:
        raise RuntimeError("Set TOKEN_SECRET or TOKEN_SECRET_ARN.")
    sessions = session_settings()  # only the sessions function issues tokens and reads these
    return TokenSigner(
        keys,
        sessions.token_ttl_seconds,
        max_session_seconds=sessions.max_session_age_seconds,
        rotation=settings,
    )


@lru_cache(maxsize=1)
def session_service() -> SessionService:
    settings = session_settings()
    code: str | None = None
    if settings.access_code is not None:
        code = settings.access_code.get_secret_value()
    elif settings.access_code_arn:
        code = _secret_value(settings.access_code_arn)
    return SessionService(signer(), code or None)


@lru_cache(maxsize=1)
def _redis_client() -> aioredis.Redis:
    import redis.asyncio as aioredis
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialBackoff
    from redis.exceptions import ConnectionError

    settings = redis_settings()
    kwargs: dict[str, Any] = {
        "socket_connect_timeout": settings.redis_connect_timeout_seconds,
        "socket_timeout": settings.redis_socket_timeout_seconds,
    }
    if settings.redis_auth_secret_arn:
        kwargs["password"] = _secret_value(settings.redis_auth_secret_arn)
    # A pooled connection that Redis dropped (a restart, a failover) is retried once on a fresh
    # one; a timeout is not retried, so a stall is answered within the socket timeout.
    kwargs["retry"] = Retry(ExponentialBackoff(cap=0.2, base=0.02), 1, (ConnectionError,))
    # Bounded, and a command waits for a free connection rather than failing when all are busy.
    pool = aioredis.BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.redis_max_connections,
        timeout=settings.redis_pool_timeout_seconds,
        **kwargs,
    )
    return aioredis.Redis(connection_pool=pool)


@lru_cache(maxsize=1)
def _redis_bus() -> RedisBus:
    from .adapters.redis_bus import RedisBus

    return RedisBus(_redis_client(), redis_settings())


@lru_cache(maxsize=1)
def fairness() -> InFlightLimiter:
    """Each caller's requests in flight in this process (handlers admit through it)."""
    return InFlightLimiter(redis_settings().user_max_in_flight)


# One Redis client serves every Redis port; each service is handed only the ports it uses.
def connection_registry() -> ConnectionRegistry:
    return _redis_bus()


def transcript_stream() -> TranscriptStream:
    return _redis_bus()


def delivery_ledger() -> DeliveryLedger:
    return _redis_bus()


def turn_claims() -> TurnClaims:
    return _redis_bus()


def cancel_flags() -> CancelFlags:
    return _redis_bus()


@lru_cache(maxsize=1)
def quota_service() -> QuotaService:
    from .adapters.redis_quotas import RedisQuotaCounters
    from .services.quotas import QuotaService

    return QuotaService(RedisQuotaCounters(_redis_client()), quota_settings())


@lru_cache(maxsize=1)
def transcribe_streams() -> TranscribeStreams:
    from .adapters.transcribe_urls import TranscribeUrlSigner
    from .services.transcribe import SAMPLE_RATE, TranscribeStreams

    settings = transcribe_settings()
    signer = TranscribeUrlSigner(
        settings.transcribe_region, settings.transcribe_endpoint, sample_rate=SAMPLE_RATE
    )
    return TranscribeStreams(signer, quota_service(), settings)


_embedded_poster: ConnectionPoster | None = None


def use_connection_poster(poster: ConnectionPoster | None) -> None:
    """Let a process that hosts the pages itself (the local stack) deliver posts directly.

    On AWS nothing calls this and every post goes through API Gateway's ``@connections`` API.
    """
    global _embedded_poster
    _embedded_poster = poster


def connection_poster(endpoint_from_event: str | None = None) -> ConnectionPoster:
    if _embedded_poster is not None:
        return _embedded_poster
    from .adapters.connections import ApiGatewayConnectionPoster

    endpoint = connections_settings().connections_endpoint or endpoint_from_event
    if not endpoint:
        raise RuntimeError("Set CONNECTIONS_ENDPOINT (the WebSocket API's management URL).")
    return ApiGatewayConnectionPoster(endpoint)


def held_answers() -> HeldAnswers:
    return _redis_bus()


_embedded_starter: TurnStarter | None = None


def use_turn_starter(starter: TurnStarter | None) -> None:
    """Let a process that runs the chat handler itself (the local stack) start held turns.

    On AWS nothing calls this: the transcripts function invokes the chat function.
    """
    global _embedded_starter
    _embedded_starter = starter
    preemptive_answers.cache_clear()


def turn_starter() -> TurnStarter | None:
    if _embedded_starter is not None:
        return _embedded_starter
    function = preemption_settings().preemptive_turn_function
    if not function:
        return None  # this function cannot start preemptive turns (it may still adopt them)
    from .adapters.turn_starter import LambdaTurnStarter

    return LambdaTurnStarter(function)


@lru_cache(maxsize=1)
def preemptive_answers() -> PreemptiveAnswers:
    return PreemptiveAnswers(
        held_answers(), turn_starter(), enabled=preemption_settings().preemptive_answers
    )


def transcript_relay(endpoint_from_event: str | None = None) -> TranscriptRelay:
    return TranscriptRelay(
        transcript_stream(),
        connection_registry(),
        delivery_ledger(),
        connection_poster(endpoint_from_event),
        preemption=preemptive_answers(),
        policy=DeliveryPolicy(
            attempts=connections_settings().delivery_attempts,
            backoff_ms=connections_settings().delivery_backoff_ms,
        ),
        resume_max_events=redis_settings().resume_max_events,
    )


@lru_cache(maxsize=1)
def history_store() -> HistoryStore:
    from .adapters.dynamo_history import DynamoHistoryStore

    settings = history_settings()
    return DynamoHistoryStore(
        settings.history_table,
        endpoint_url=settings.dynamodb_endpoint,
        # Only the chat turn saves turns; listing, clearing and correcting never use the TTL.
        ttl_days=conversation_settings().history_ttl_days,
    )


@lru_cache(maxsize=1)
def history_service() -> HistoryService:
    return HistoryService(history_store())


@lru_cache(maxsize=1)
def synthesizer() -> Synthesizer:
    settings = speech_settings()
    if settings.tts_provider == "polly":
        from .adapters.polly import PollySynthesizer

        return PollySynthesizer(
            engine=settings.polly_engine,
            region=settings.polly_region,
            endpoint_url=settings.polly_endpoint,
        )
    if settings.tts_provider == "espeak":
        from .adapters.espeak import EspeakSynthesizer

        return EspeakSynthesizer()
    if settings.tts_provider == "riva":
        from .adapters.riva_tts import RivaStreamingSynthesizer, RivaSynthesizer

        api_key: str | None = None
        if settings.riva_tts_api_key is not None:
            api_key = settings.riva_tts_api_key.get_secret_value()
        elif settings.riva_tts_api_key_arn:
            api_key = _secret_value(settings.riva_tts_api_key_arn)
        riva_class = RivaStreamingSynthesizer if settings.riva_tts_stream else RivaSynthesizer
        return riva_class(
            url=settings.riva_tts_url,
            use_ssl=settings.riva_tts_use_ssl,
            ssl_cert=settings.riva_tts_ssl_cert,
            api_key=api_key,
            function_id=settings.riva_tts_function_id,
            voice=settings.riva_tts_voice,
            language=settings.riva_tts_language,
            sample_rate_hz=settings.riva_tts_sample_rate,
        )
    from .adapters.scripted import ScriptedSynthesizer

    return ScriptedSynthesizer(settings.scripted_tts_delay_ms, settings.scripted_tts_ms_per_char)


@lru_cache(maxsize=1)
def speech_service() -> SpeechService:
    return SpeechService(synthesizer(), cache_size=speech_settings().speech_cache_size)


def _chat_with_key() -> ChatSettings:
    """The chat settings with the endpoint's API key, read from its secret when given by ARN."""
    chat = chat_settings()
    if chat.chat_api_key is not None or not chat.chat_api_key_arn:
        return chat
    try:
        key = _secret_value(chat.chat_api_key_arn)
    except Exception as exc:
        # Also what a secret the stack created empty answers until the key is put in it.
        raise ServiceUnavailable(
            "The chat endpoint's API key could not be read from Secrets Manager "
            f"({type(exc).__name__}); put it with put-secret-value (README, Chat providers)."
        ) from exc
    if not key.strip():
        raise ServiceUnavailable("The chat endpoint's API key secret is empty.")
    return chat.model_copy(update={"chat_api_key": SecretStr(key.strip())})


@lru_cache(maxsize=1)
def turn_runner() -> TurnRunner:
    from .adapters.chat_models import build_chat_model
    from .services.chat import TurnOptions, TurnRunner

    chat = _chat_with_key()
    speech = speech_settings()
    return TurnRunner(
        model=build_chat_model(chat),
        synthesizer=synthesizer(),
        history=history_store(),
        cancels=cancel_flags(),
        held=held_answers(),
        options=TurnOptions(
            system_prompt=chat.system_prompt,
            voice=speech.tts_voice,
            language=speech.tts_language,
            history_turns=conversation_settings().history_window_turns,
            answer=chat,
        ),
    )


def health_check() -> HealthCheck:
    """What GET /api/health probes: each backing service this function has settings for."""
    names = config.environ()
    probes: dict[str, Callable[[], Awaitable[object]]] = {}
    if RedisSettings.variable("redis_url") in names:
        # A read of a key that never exists: one round trip, through the functions' own client.
        probes["redis"] = lambda: connection_registry().owner("health-probe")
    if HistorySettings.variable("history_table") in names:
        probes["dynamodb"] = lambda: history_store().recent("health-probe", 1)
    return HealthCheck(probes)


def max_body_bytes() -> int:
    return service_settings().max_body_bytes


def configure(environ: Mapping[str, str] | None) -> None:
    """Build everything from this environment from now on (None: the process environment).

    The local stack and the tests call this with the environment a function would have, instead
    of editing ``os.environ``; on Lambda nothing calls it.
    """
    config.configure(environ)
    reset()


def reset() -> None:
    """Forget every cached adapter and setting (tests and the local stack reconfigure)."""
    reset_settings()
    for fn in (
        signer,
        session_service,
        _redis_client,
        _redis_bus,
        fairness,
        quota_service,
        transcribe_streams,
        preemptive_answers,
        history_store,
        history_service,
        synthesizer,
        speech_service,
        turn_runner,
    ):
        fn.cache_clear()
