"""Deployment settings, read once from CDK context (cdk.json, or ``-c key=value``) and validated.

Values given with ``-c`` arrive as strings, so every reader converts and checks its value here
rather than letting a typo surface as a confusing CloudFormation error half-way through a deploy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from constructs import Node

# Context key -> default. The README's deploy section documents each one; cdk.json repeats the
# defaults so a user can see and edit them in one place.
DEFAULTS: dict[str, Any] = {
    "stackName": "Voicebot",
    "region": "",
    "modelId": "anthropic.claude-3-haiku-20240307-v1:0",
    "chatRegion": "",
    "chatTemperature": 0.5,
    "chatMaxTokens": 512,
    "firstClauseMinChars": 10,
    "voice": "Seoyeon",
    "language": "ko-KR",
    "pollyEngine": "neural",
    "accessCode": "",
    "tokenTtlSeconds": 43200,
    "historyWindowTurns": 10,
    "historyTtlDays": 30,
    "retainHistoryOnDestroy": True,
    "redisNodeType": "cache.t4g.micro",
    "cacheEngine": "valkey",
    "cacheEngineVersion": "8.0",
    "natGateways": 1,
    "logRetentionDays": 30,
    "apiRateLimit": 50,
    "apiBurstLimit": 100,
}

# Cross-region inference profiles prefix the model id with a geography ("us.anthropic…").
_PROFILE_PREFIX = re.compile(r"^(us|eu|apac|us-gov|jp|au|ca|global)\.")
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")


def _as_bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ValueError(f"Context '{key}' must be true or false, not {value!r}.")


def _as_int(value: Any, key: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"Context '{key}' must be an integer, not {value!r}.") from None
    if not low <= number <= high:
        raise ValueError(f"Context '{key}' must be between {low} and {high}, not {number}.")
    return number


def _as_float(value: Any, key: str, low: float, high: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"Context '{key}' must be a number, not {value!r}.") from None
    if not low <= number <= high:
        raise ValueError(f"Context '{key}' must be between {low} and {high}, not {number}.")
    return number


def _as_region(value: Any, key: str) -> str:
    text = str(value or "").strip()
    if text and not _REGION.match(text):
        raise ValueError(f"Context '{key}' must be an AWS region such as us-east-1, not {text!r}.")
    return text


@dataclass(frozen=True)
class Settings:
    stack_name: str
    region: str
    model_id: str
    chat_region: str
    chat_temperature: float
    chat_max_tokens: int
    first_clause_min_chars: int
    voice: str
    language: str
    polly_engine: str
    access_code: str
    token_ttl_seconds: int
    history_window_turns: int
    history_ttl_days: int
    retain_history_on_destroy: bool
    redis_node_type: str
    cache_engine: str
    cache_engine_version: str
    nat_gateways: int
    log_retention_days: int
    api_rate_limit: int
    api_burst_limit: int

    @property
    def access_code_required(self) -> bool:
        return bool(self.access_code)

    @property
    def model_is_inference_profile(self) -> bool:
        return bool(_PROFILE_PREFIX.match(self.model_id))

    @classmethod
    def from_context(cls, node: Node, default_region: str | None) -> Settings:
        def get(key: str) -> Any:
            value = node.try_get_context(key)
            return DEFAULTS[key] if value is None else value

        region = _as_region(get("region"), "region") or default_region or "us-east-1"
        engine = str(get("cacheEngine")).strip().lower()
        if engine not in ("valkey", "redis"):
            raise ValueError(f"Context 'cacheEngine' must be valkey or redis, not {engine!r}.")
        polly_engine = str(get("pollyEngine")).strip().lower()
        if polly_engine not in ("neural", "standard", "generative"):
            raise ValueError("Context 'pollyEngine' must be neural, standard or generative.")
        model_id = str(get("modelId")).strip()
        if not model_id:
            raise ValueError(
                "Context 'modelId' must name a Bedrock model, e.g. " + DEFAULTS["modelId"]
            )
        return cls(
            stack_name=str(get("stackName")).strip() or DEFAULTS["stackName"],
            region=region,
            model_id=model_id,
            chat_region=_as_region(get("chatRegion"), "chatRegion") or region,
            chat_temperature=_as_float(get("chatTemperature"), "chatTemperature", 0.0, 1.0),
            chat_max_tokens=_as_int(get("chatMaxTokens"), "chatMaxTokens", 16, 8192),
            first_clause_min_chars=_as_int(
                get("firstClauseMinChars"), "firstClauseMinChars", 0, 1000
            ),
            voice=str(get("voice")).strip(),
            language=str(get("language")).strip(),
            polly_engine=polly_engine,
            access_code=str(get("accessCode") or ""),
            token_ttl_seconds=_as_int(get("tokenTtlSeconds"), "tokenTtlSeconds", 60, 7 * 86400),
            history_window_turns=_as_int(get("historyWindowTurns"), "historyWindowTurns", 0, 100),
            history_ttl_days=_as_int(get("historyTtlDays"), "historyTtlDays", 1, 3650),
            retain_history_on_destroy=_as_bool(
                get("retainHistoryOnDestroy"), "retainHistoryOnDestroy"
            ),
            redis_node_type=str(get("redisNodeType")).strip(),
            cache_engine=engine,
            cache_engine_version=str(get("cacheEngineVersion")).strip(),
            nat_gateways=_as_int(get("natGateways"), "natGateways", 1, 3),
            log_retention_days=_as_int(get("logRetentionDays"), "logRetentionDays", 1, 3653),
            api_rate_limit=_as_int(get("apiRateLimit"), "apiRateLimit", 1, 10_000),
            api_burst_limit=_as_int(get("apiBurstLimit"), "apiBurstLimit", 1, 5_000),
        )
