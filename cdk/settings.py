"""Deployment settings, read once from CDK context (cdk.json, or ``-c key=value``) and validated.

Values given with ``-c`` arrive as strings, so every reader converts and checks its value here
rather than letting a typo surface as a confusing CloudFormation error half-way through a deploy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, cast, get_origin

from constructs import Node
from pydantic import TypeAdapter, ValidationError

from voicebot.contract.settings import ALL_SETTINGS, DEPLOYABLE_CHAT_PROVIDERS, EnvSettings

# Deployment choices that no function reads: context key -> default.
_STACK_DEFAULTS: dict[str, Any] = {
    "stackName": "Voicebot",
    "region": "",
    "chatRegion": "",
    # openai / nvidia (chatProvider): the model's name at chatEndpoint, and an existing secret
    # holding the endpoint's API key (else the stack creates an empty one to put the key in).
    "chatModel": "",
    "chatApiKeySecretArn": "",
    "accessCode": "",
    "retainHistoryOnDestroy": True,
    "redisNodeType": "cache.t4g.micro",
    "cacheEngine": "valkey",
    "cacheEngineVersion": "8.0",
    "natGateways": 1,
    "logRetentionDays": 30,
    "apiRateLimit": 50,
    "apiBurstLimit": 100,
    # Abuse and cost limits beyond the per-user quotas (cdk/waf.py, cdk/operations.py).
    "webAcl": True,
    "cloudFrontWebAclArn": "",
    "wafRequestsPerAddress": 1000,
    "wafApiRequestsPerAddress": 3000,
    "wafSessionsPerAddress": 20,
    "chatReservedConcurrency": 10,
    "alarmEmail": "",
    "monthlyBudgetUsd": 50,
}
# Function settings a deployment chooses: context key -> the setting's field. Their defaults and
# bounds are the contract's (voicebot.contract.settings), not repeated here.
FUNCTION_CONTEXT: dict[str, tuple[type[EnvSettings], str]] = {
    key: (cls, name) for cls in ALL_SETTINGS for name, key in cls.context_fields().items()
}
# Every context key with its default. The README's deploy section documents each one; cdk.json
# lists them so a user can see and edit them in one place (a test keeps it equal to this). An
# optional setting (default None) is "" there: unset.
DEFAULTS: dict[str, Any] = {
    **_STACK_DEFAULTS,
    **{
        key: "" if cls.model_fields[name].default is None else cls.model_fields[name].default
        for key, (cls, name) in FUNCTION_CONTEXT.items()
    },
}

# Cross-region inference profiles prefix the model id with a geography ("us.anthropic…").
_PROFILE_PREFIX = re.compile(r"^(us|eu|apac|us-gov|jp|au|ca|global)\.")
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CLOUDFRONT_ACL_ARN = re.compile(r"^arn:aws[a-z-]*:wafv2:us-east-1:\d{12}:global/webacl/.+$")
_SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+$")
_HTTPS_URL = re.compile(r"^https://[^\s/?#]+(/[^\s?#]*)?$")


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


def _as_region(value: Any, key: str) -> str:
    text = str(value or "").strip()
    if text and not _REGION.match(text):
        raise ValueError(f"Context '{key}' must be an AWS region such as us-east-1, not {text!r}.")
    return text


def _matching(value: Any, key: str, pattern: re.Pattern[str], what: str) -> str:
    text = str(value or "").strip()
    if text and not pattern.match(text):
        raise ValueError(f"Context '{key}' must be {what}, not {text!r}.")
    return text


def _function_setting(value: Any, key: str) -> Any:
    """A context value checked against its setting's own type and bounds."""
    cls, name = FUNCTION_CONTEXT[key]
    info = cls.model_fields[name]
    if isinstance(value, str):
        value = value.strip()
        if get_origin(info.annotation) is Literal:
            value = value.lower()
        if not value and info.default is None:
            return None  # an optional setting left unset
    try:
        form = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        # A type form (Literal, Annotated), not a class: the cast only quiets mypy.
        return TypeAdapter(cast("type[Any]", form)).validate_python(value)
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"]
        raise ValueError(f"Context '{key}' is not valid ({reason}): {value!r}.") from None


@dataclass(frozen=True)
class Settings:
    stack_name: str
    region: str
    chat_region: str
    access_code: str
    retain_history_on_destroy: bool
    redis_node_type: str
    cache_engine: str
    cache_engine_version: str
    nat_gateways: int
    log_retention_days: int
    api_rate_limit: int
    api_burst_limit: int
    web_acl: bool
    cloudfront_web_acl_arn: str
    waf_requests_per_address: int
    waf_api_requests_per_address: int
    waf_sessions_per_address: int
    chat_reserved_concurrency: int
    # openai / nvidia: an existing secret with the endpoint's API key ("": the stack makes one).
    chat_api_key_secret_arn: str
    alarm_email: str
    monthly_budget_usd: int
    # The function settings this deployment chose: field name (chat_model_id) -> value.
    function_settings: dict[str, Any] = field(default_factory=dict)

    @property
    def access_code_required(self) -> bool:
        return bool(self.access_code)

    @property
    def chat_provider(self) -> str:
        return str(self.function_settings["chat_provider"])

    @property
    def invokes_bedrock(self) -> bool:
        return self.chat_provider == "bedrock"

    @property
    def model_id(self) -> str:
        return str(self.function_settings["chat_model_id"])

    @property
    def model_is_inference_profile(self) -> bool:
        return bool(_PROFILE_PREFIX.match(self.model_id))

    @property
    def voice(self) -> str:
        return str(self.function_settings["tts_voice"])

    @property
    def language(self) -> str:
        return str(self.function_settings["tts_language"])

    @property
    def chat_max_tokens(self) -> int:
        return int(self.function_settings["chat_max_tokens"])

    @property
    def first_clause_min_chars(self) -> int:
        return int(self.function_settings["first_clause_min_chars"])

    @property
    def first_phrase_min_chars(self) -> int:
        return int(self.function_settings["first_phrase_min_chars"])

    @classmethod
    def from_context(cls, node: Node, default_region: str | None) -> Settings:
        def get(key: str) -> Any:
            value = node.try_get_context(key)
            return DEFAULTS[key] if value is None else value

        if node.try_get_context("chatApiKey") is not None:
            raise ValueError(
                "Context 'chatApiKey' is not a setting: an API key in context would be in the "
                "template. Put it in Secrets Manager (README, Chat providers)."
            )
        region = _as_region(get("region"), "region") or default_region or "us-east-1"
        engine = str(get("cacheEngine")).strip().lower()
        if engine not in ("valkey", "redis"):
            raise ValueError(f"Context 'cacheEngine' must be valkey or redis, not {engine!r}.")
        function_settings = {
            name: _function_setting(get(key), key) for key, (_, name) in FUNCTION_CONTEXT.items()
        }
        key_secret_arn = _matching(
            get("chatApiKeySecretArn"),
            "chatApiKeySecretArn",
            _SECRET_ARN,
            "the ARN of a Secrets Manager secret (arn:aws:secretsmanager:REGION:ACCOUNT:secret:…)",
        )
        _choose_chat_model(function_settings, str(get("chatModel") or "").strip(), key_secret_arn)
        return cls(
            stack_name=str(get("stackName")).strip() or DEFAULTS["stackName"],
            region=region,
            chat_region=_as_region(get("chatRegion"), "chatRegion") or region,
            access_code=str(get("accessCode") or ""),
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
            web_acl=_as_bool(get("webAcl"), "webAcl"),
            cloudfront_web_acl_arn=_matching(
                get("cloudFrontWebAclArn"),
                "cloudFrontWebAclArn",
                _CLOUDFRONT_ACL_ARN,
                "the ARN of a CLOUDFRONT-scope WAFv2 web ACL (us-east-1, global/webacl/...)",
            ),
            # WAF's rate-based rules accept limits from 10.
            waf_requests_per_address=_as_int(
                get("wafRequestsPerAddress"), "wafRequestsPerAddress", 10, 2_000_000
            ),
            waf_api_requests_per_address=_as_int(
                get("wafApiRequestsPerAddress"), "wafApiRequestsPerAddress", 10, 2_000_000
            ),
            waf_sessions_per_address=_as_int(
                get("wafSessionsPerAddress"), "wafSessionsPerAddress", 10, 100_000
            ),
            chat_reserved_concurrency=_as_int(
                get("chatReservedConcurrency"), "chatReservedConcurrency", 0, 10_000
            ),
            chat_api_key_secret_arn=key_secret_arn,
            alarm_email=_matching(get("alarmEmail"), "alarmEmail", _EMAIL, "an e-mail address"),
            monthly_budget_usd=_as_int(get("monthlyBudgetUsd"), "monthlyBudgetUsd", 0, 1_000_000),
            function_settings=function_settings,
        )


_MODEL_EXAMPLES = {"openai": "gpt-4o-mini", "nvidia": "meta/llama-3.1-8b-instruct"}


def _choose_chat_model(settings: dict[str, Any], chat_model: str, key_secret_arn: str) -> None:
    """Check the chat provider's settings together; ``chatModel`` replaces ``modelId``.

    Bedrock needs a model id and no key; an OpenAI-compatible server needs its URL and the
    model's name there; a NIM needs the model's name (its URL defaults to NVIDIA's hosted API).
    """
    provider = settings["chat_provider"]
    if provider not in DEPLOYABLE_CHAT_PROVIDERS:
        raise ValueError(
            f"Context 'chatProvider' must be one of {', '.join(DEPLOYABLE_CHAT_PROVIDERS)} on AWS, "
            f"not {provider!r} (that one is for the local stack)."
        )
    if chat_model:
        settings["chat_model_id"] = chat_model
    endpoint = settings["chat_endpoint"]
    if endpoint is not None and not _HTTPS_URL.match(endpoint):
        raise ValueError(
            f"Context 'chatEndpoint' must be an https:// URL (the API key travels with every "
            f"request), not {endpoint!r}."
        )
    if provider == "bedrock":
        if not settings["chat_model_id"]:
            raise ValueError(
                "Context 'modelId' must name a Bedrock model, e.g. " + DEFAULTS["modelId"]
            )
        if key_secret_arn:
            raise ValueError(
                "Context 'chatApiKeySecretArn' is for chatProvider=openai or nvidia; Bedrock is "
                "authorized by the chat function's role, not a key."
            )
        return
    if not chat_model:
        example = _MODEL_EXAMPLES[provider]
        raise ValueError(
            f"Context 'chatModel' must name the model for chatProvider={provider} (its name at "
            f"the endpoint, e.g. {example}); 'modelId' is the Bedrock model."
        )
    if provider == "openai" and endpoint is None:
        raise ValueError(
            "Context 'chatEndpoint' must be the OpenAI-compatible server's base URL for "
            "chatProvider=openai, e.g. https://api.openai.com/v1."
        )
