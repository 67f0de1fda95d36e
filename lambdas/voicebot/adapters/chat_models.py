"""The chat-model port's adapters: LangChain providers behind one small interface.

Each provider is a LangChain chat model (Bedrock through langchain-aws, OpenAI-compatible servers,
NVIDIA NIM, the local completion model); :class:`LangChainChatModel` streams its text and
translates the vendor's failures into :class:`~voicebot.errors.ProviderError` with a
``retryable`` flag, so the core never looks at vendor exception classes. Imports are lazy so a
function only pays for the provider it is configured with (langchain-aws pulls in boto3 clients
and pydantic models that cost cold-start time).
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import ProviderError, ProviderThrottled
from ..ports import ChatMessage, ChatModel

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage

    from ..config import ChatSettings

# Vendor error codes (Bedrock's, in any case) and HTTP statuses that mean "too many requests".
_THROTTLING_CODES = frozenset(
    {
        "throttlingexception",
        "throttling",
        "toomanyrequestsexception",
        "servicequotaexceededexception",
    }
)
# ... and those that mean "try again later": the provider, not the request, failed.
_RETRYABLE_CODES = frozenset(
    {
        "modelnotreadyexception",
        "serviceunavailableexception",
        "internalserverexception",
        "modelstreamerrorexception",
        "modeltimeoutexception",
    }
)


class LangChainChatModel:
    """The chat-model port over any LangChain chat model that can ``astream``."""

    def __init__(self, model: BaseChatModel) -> None:
        self._model = model

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        chunks = self._model.astream(_to_langchain(messages))
        try:
            async for chunk in chunks:
                if chunk.text:
                    yield chunk.text
        except ProviderError:
            raise
        except Exception as exc:
            raise translate_error(exc) from exc
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]


def _to_langchain(messages: Sequence[ChatMessage]) -> list[BaseMessage]:
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
    return [kinds[m.role](content=m.text) for m in messages]


def translate_error(exc: BaseException) -> ProviderError:
    """A vendor's failure as a ProviderError: throttled, retryable, or final."""
    code = _error_code(exc)
    status = _http_status(exc)
    if code in _THROTTLING_CODES or status == 429:
        return ProviderThrottled(f"The model provider is throttling ({type(exc).__name__}).")
    retryable = code in _RETRYABLE_CODES or (status is not None and status >= 500)
    if status is None and code is None:
        # No answer at all (connection refused, reset, timed out): the next try may get one.
        retryable = _is_transport(exc)
    return ProviderError(f"The model provider failed ({type(exc).__name__}).", retryable=retryable)


def _error_code(exc: BaseException) -> str | None:
    """botocore's error code (ClientError, and EventStreamError mid-stream), lower-cased."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if isinstance(code, str) and code:
            return code.lower()
    return None


def _http_status(exc: BaseException) -> int | None:
    """The HTTP status of an OpenAI-compatible client's error (openai, httpx)."""
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return status
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def _transport_errors() -> tuple[type[BaseException], ...]:
    """The clients' own "no answer" errors: connection refused, reset or timed out."""
    found: list[type[BaseException]] = []
    for module, name in (
        ("botocore.exceptions", "ConnectionError"),  # EndpointConnectionError, ConnectTimeout
        ("botocore.exceptions", "HTTPClientError"),  # ReadTimeoutError
        ("httpx", "TransportError"),
        ("openai", "APIConnectionError"),  # APITimeoutError is a subclass
    ):
        # Only the clients that are installed: a function bundles just its provider's.
        with contextlib.suppress(ImportError, AttributeError):
            found.append(getattr(importlib.import_module(module), name))
    return tuple(found)


def _is_transport(exc: BaseException) -> bool:
    """True when no answer came back: the error or what caused it is a transport failure."""
    transport = _transport_errors()
    seen: BaseException | None = exc
    for _ in range(5):  # the client's error, and the one it was raised from
        if seen is None:
            return False
        if isinstance(seen, (OSError, *transport)):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def build_chat_model(settings: ChatSettings) -> ChatModel:
    if settings.chat_provider == "scripted":
        from .scripted import ScriptedChatModel

        return ScriptedChatModel(
            answer=settings.scripted_answer,
            first_token_ms=settings.scripted_first_token_ms,
            tokens_per_second=settings.scripted_tokens_per_second,
            chars_per_token=settings.scripted_chars_per_token,
        )
    return LangChainChatModel(_langchain_model(settings))


def _langchain_model(settings: ChatSettings) -> BaseChatModel:
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
    from .completion_chat import FewShotCompletionChatModel

    # A small base model served by the local stack: completion prompt, one line per answer.
    return FewShotCompletionChatModel(
        base_url=settings.chat_endpoint or "http://127.0.0.1:8080/v1",
        model=settings.chat_model_id,
        api_key=api_key or "not-needed",
        temperature=settings.chat_temperature,
        max_tokens=settings.chat_max_tokens,
    )
