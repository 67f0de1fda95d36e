"""The settings each function reads, validated once per warm container.

The classes (names, types, bounds, defaults) are the contract's (``contract/settings.py``); this
module only decides where their values come from. On Lambda that is the process environment. A
process that hosts the handlers itself (the local stack, the tests) hands its own mapping to
:func:`configure` instead of editing ``os.environ``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import TypeVar

from .contract.settings import (
    ChatSettings,
    ConnectionsSettings,
    ConversationSettings,
    EnvSettings,
    HistorySettings,
    PreemptionSettings,
    QuotaSettings,
    RedisSettings,
    ServiceSettings,
    SessionSettings,
    SpeechSettings,
    TokenSettings,
    TranscribeSettings,
)

__all__ = [
    "ChatSettings",
    "ConnectionsSettings",
    "ConversationSettings",
    "EnvSettings",
    "HistorySettings",
    "PreemptionSettings",
    "QuotaSettings",
    "RedisSettings",
    "ServiceSettings",
    "SessionSettings",
    "SpeechSettings",
    "TokenSettings",
    "TranscribeSettings",
    "chat_settings",
    "configure",
    "connections_settings",
    "conversation_settings",
    "history_settings",
    "preemption_settings",
    "quota_settings",
    "redis_settings",
    "reset_settings",
    "service_settings",
    "session_settings",
    "speech_settings",
    "token_settings",
    "transcribe_settings",
]

S = TypeVar("S", bound=EnvSettings)

_source: Mapping[str, str] | None = None


def configure(environ: Mapping[str, str] | None) -> None:
    """Read settings from ``environ`` from now on (None: the process environment again)."""
    global _source
    _source = None if environ is None else dict(environ)
    reset_settings()


def environ() -> Mapping[str, str]:
    """Where settings are read from now."""
    return os.environ if _source is None else _source


_cache_clears: list[Callable[[], None]] = []


def _reader(cls: type[S]) -> Callable[[], S]:
    """``cls`` read from :func:`environ` once, then cached until :func:`reset_settings`."""

    @lru_cache(maxsize=1)
    def read() -> S:
        return cls.from_env(environ())

    _cache_clears.append(read.cache_clear)
    return read


token_settings = _reader(TokenSettings)
session_settings = _reader(SessionSettings)
conversation_settings = _reader(ConversationSettings)
redis_settings = _reader(RedisSettings)  # redis_url comes from the environment
connections_settings = _reader(ConnectionsSettings)
history_settings = _reader(HistorySettings)  # history_table comes from the environment
chat_settings = _reader(ChatSettings)
speech_settings = _reader(SpeechSettings)
preemption_settings = _reader(PreemptionSettings)
quota_settings = _reader(QuotaSettings)
service_settings = _reader(ServiceSettings)
transcribe_settings = _reader(TranscribeSettings)


def reset_settings() -> None:
    """Forget cached settings (tests and the local stack reconfigure)."""
    for clear in _cache_clears:
        clear()
