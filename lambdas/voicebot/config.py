"""The settings each function reads, validated once per warm container.

The classes (names, types, bounds, defaults) are the contract's (``contract/settings.py``); this
module only decides where their values come from. On Lambda that is the process environment. A
process that hosts the handlers itself (the local stack, the tests) hands its own mapping to
:func:`configure` instead of editing ``os.environ``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache

from .contract.settings import (
    ChatSettings,
    ConnectionsSettings,
    ConversationSettings,
    EnvSettings,
    HistorySettings,
    PreemptionSettings,
    RedisSettings,
    ServiceSettings,
    SessionSettings,
    SpeechSettings,
    TokenSettings,
)

__all__ = [
    "ChatSettings",
    "ConnectionsSettings",
    "ConversationSettings",
    "EnvSettings",
    "HistorySettings",
    "PreemptionSettings",
    "RedisSettings",
    "ServiceSettings",
    "SessionSettings",
    "SpeechSettings",
    "TokenSettings",
    "chat_settings",
    "configure",
    "connections_settings",
    "conversation_settings",
    "history_settings",
    "preemption_settings",
    "redis_settings",
    "reset_settings",
    "service_settings",
    "session_settings",
    "speech_settings",
    "token_settings",
]

_source: Mapping[str, str] | None = None


def configure(environ: Mapping[str, str] | None) -> None:
    """Read settings from ``environ`` from now on (None: the process environment again)."""
    global _source
    _source = None if environ is None else dict(environ)
    reset_settings()


def environ() -> Mapping[str, str]:
    """Where settings are read from now."""
    return os.environ if _source is None else _source


@lru_cache(maxsize=1)
def token_settings() -> TokenSettings:
    return TokenSettings.from_env(environ())


@lru_cache(maxsize=1)
def session_settings() -> SessionSettings:
    return SessionSettings.from_env(environ())


@lru_cache(maxsize=1)
def conversation_settings() -> ConversationSettings:
    return ConversationSettings.from_env(environ())


@lru_cache(maxsize=1)
def redis_settings() -> RedisSettings:
    return RedisSettings.from_env(environ())  # redis_url comes from the environment


@lru_cache(maxsize=1)
def connections_settings() -> ConnectionsSettings:
    return ConnectionsSettings.from_env(environ())


@lru_cache(maxsize=1)
def history_settings() -> HistorySettings:
    return HistorySettings.from_env(environ())  # history_table comes from the environment


@lru_cache(maxsize=1)
def chat_settings() -> ChatSettings:
    return ChatSettings.from_env(environ())


@lru_cache(maxsize=1)
def speech_settings() -> SpeechSettings:
    return SpeechSettings.from_env(environ())


@lru_cache(maxsize=1)
def preemption_settings() -> PreemptionSettings:
    return PreemptionSettings.from_env(environ())


@lru_cache(maxsize=1)
def service_settings() -> ServiceSettings:
    return ServiceSettings.from_env(environ())


def reset_settings() -> None:
    """Forget cached settings (tests and the local stack reconfigure)."""
    for fn in (
        token_settings,
        session_settings,
        conversation_settings,
        redis_settings,
        connections_settings,
        history_settings,
        chat_settings,
        speech_settings,
        preemption_settings,
        service_settings,
    ):
        fn.cache_clear()
