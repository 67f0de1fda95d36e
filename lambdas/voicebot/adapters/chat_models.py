"""Chat model adapters: each provider is a LangChain chat model that can ``astream``.

Imports are lazy so a function only pays for the provider it is configured with (langchain-aws
pulls in boto3 clients and pydantic models that cost cold-start time).
"""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel

from ..config import ChatSettings


def build_chat_model(settings: ChatSettings) -> BaseChatModel:
    api_key = settings.chat_api_key.get_secret_value() if settings.chat_api_key else None
    if settings.chat_provider == "bedrock":
        from botocore.config import Config
        from langchain_aws import ChatBedrockConverse

        kwargs: dict[str, Any] = {}
        if settings.chat_endpoint:
            kwargs["endpoint_url"] = settings.chat_endpoint
        return ChatBedrockConverse(
            model_id=settings.chat_model_id,
            region_name=settings.chat_region,
            temperature=settings.chat_temperature,
            max_tokens=settings.chat_max_tokens,
            # Bedrock throttles bursts; adaptive retries back off before the turn gives up.
            config=Config(retries={"mode": "adaptive", "max_attempts": 4}, read_timeout=60),
            **kwargs,
        )
    if settings.chat_provider == "openai":
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(
            model=settings.chat_model_id,
            base_url=settings.chat_endpoint,
            api_key=api_key or "not-needed",
            temperature=settings.chat_temperature,
            max_retries=3,
            # Some local servers ignore max_completion_tokens; max_tokens is understood by all.
            extra_body={"max_tokens": settings.chat_max_tokens},
        )
    if settings.chat_provider == "nvidia":
        from langchain_nvidia_ai_endpoints import ChatNVIDIA

        return ChatNVIDIA(
            model=settings.chat_model_id,
            base_url=settings.chat_endpoint,
            api_key=api_key,
            temperature=settings.chat_temperature,
            max_completion_tokens=settings.chat_max_tokens,
        )
    if settings.chat_provider == "local":
        from .completion_chat import FewShotCompletionChatModel

        # A small base model served by the local stack: completion prompt, one line per answer.
        return FewShotCompletionChatModel(
            base_url=settings.chat_endpoint or "http://127.0.0.1:8080/v1",
            model=settings.chat_model_id,
            api_key=api_key or "not-needed",
            temperature=settings.chat_temperature,
            max_tokens=settings.chat_max_tokens,
        )
    from .scripted import ScriptedChatModel

    return ScriptedChatModel(
        answer=settings.scripted_answer,
        first_token_ms=settings.scripted_first_token_ms,
        tokens_per_second=settings.scripted_tokens_per_second,
        chars_per_token=settings.scripted_chars_per_token,
    )
