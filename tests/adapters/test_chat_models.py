"""LangChainChatModel over LangChain's own fake chat models, and translate_error's decisions.

The port promises text pieces as they stream and, on failure, a ProviderError whose type and
``retryable`` flag say what happened; these tests hold the adapter to that for each vendor shape
(botocore's ClientError codes, OpenAI/httpx status codes, bare transport errors).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import botocore.exceptions as boto_errors
import httpx
import openai
import openai._exceptions as openai_exceptions
import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

from voicebot.adapters.chat_models import LangChainChatModel, translate_error
from voicebot.errors import ProviderError, ProviderThrottled
from voicebot.ports import ChatMessage

ANSWER = "안녕하세요. 무엇을 도와드릴까요?"
ASKED = [
    ChatMessage("system", "짧게 답하세요."),
    ChatMessage("user", "이름이 뭐예요?"),
    ChatMessage("assistant", "저는 봇입니다."),
    ChatMessage("user", "다시 말해 주세요"),
]


class PiecesChatModel(BaseChatModel):
    """Streams the given pieces as chunks, then raises ``fail``; records what it was asked."""

    pieces: list[str]
    fail: Any = None
    asked: list[list[tuple[str, Any]]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "pieces"

    # Neither takes stop words or callbacks: the adapter under test passes none.
    def _generate(self, messages: list[BaseMessage], *_: Any, **__: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage("".join(self.pieces)))])

    async def _astream(
        self, messages: list[BaseMessage], *_: Any, **__: Any
    ) -> AsyncIterator[ChatGenerationChunk]:
        self.asked.append([(m.type, m.content) for m in messages])
        for piece in self.pieces:
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))
        if self.fail is not None:
            raise self.fail


async def collect(model: LangChainChatModel) -> list[str]:
    return [piece async for piece in model.stream(ASKED)]


# ---- streaming ----------------------------------------------------------------------------------


async def test_a_langchain_model_streams_its_answer_as_text_pieces() -> None:
    fake = GenericFakeChatModel(messages=iter([AIMessage(content=ANSWER)]))

    pieces = await collect(LangChainChatModel(fake))

    assert len(pieces) > 1  # streamed, not answered in one piece
    assert "".join(pieces) == ANSWER


async def test_the_ports_messages_reach_langchain_with_their_roles() -> None:
    fake = PiecesChatModel(pieces=["네."])

    await collect(LangChainChatModel(fake))

    assert fake.asked == [
        [
            ("system", "짧게 답하세요."),
            ("human", "이름이 뭐예요?"),
            ("ai", "저는 봇입니다."),
            ("human", "다시 말해 주세요"),
        ]
    ]


async def test_chunks_without_text_are_not_passed_on() -> None:
    fake = PiecesChatModel(pieces=["", "안녕", "", "하세요", ""])

    assert await collect(LangChainChatModel(fake)) == ["안녕", "하세요"]


async def test_a_vendor_error_mid_stream_becomes_a_provider_error_after_the_text_so_far() -> None:
    cause = boto_errors.EventStreamError(
        {"Error": {"Code": "throttlingException", "Message": "Too many tokens"}}, "ConverseStream"
    )
    fake = PiecesChatModel(pieces=["안녕", "하세요"], fail=cause)
    received: list[str] = []

    with pytest.raises(ProviderThrottled) as raised:
        async for piece in LangChainChatModel(fake).stream(ASKED):
            received.append(piece)

    assert received == ["안녕", "하세요"]
    assert raised.value.__cause__ is cause


async def test_a_provider_error_from_the_model_passes_through_unchanged() -> None:
    original = ProviderError("already translated", retryable=False)
    fake = PiecesChatModel(pieces=[], fail=original)

    with pytest.raises(ProviderError) as raised:
        await collect(LangChainChatModel(fake))

    assert raised.value is original


# ---- translate_error ----------------------------------------------------------------------------


def client_error(code: str, operation: str = "ConverseStream") -> boto_errors.ClientError:
    return boto_errors.ClientError({"Error": {"Code": code, "Message": "…"}}, operation)


def status_error(status: int) -> httpx.HTTPStatusError:
    request = httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")
    response = httpx.Response(status, request=request)
    return httpx.HTTPStatusError(f"HTTP {status}", request=request, response=response)


# openai's errors are built on its own HTTP package: httpx before openai 3, httpx2 since.
OPENAI_HTTP: Any = vars(openai_exceptions).get("httpx2") or vars(openai_exceptions)["httpx"]


def openai_error(status: int) -> openai.APIStatusError:
    request = OPENAI_HTTP.Request("POST", "http://127.0.0.1/v1/chat/completions")
    response = OPENAI_HTTP.Response(status, request=request)
    kind = {429: openai.RateLimitError, 503: openai.InternalServerError}.get(
        status, openai.BadRequestError
    )
    return kind(f"HTTP {status}", response=response, body=None)


@pytest.mark.parametrize(
    "error",
    [
        client_error("ThrottlingException"),
        client_error("TooManyRequestsException"),
        client_error("ServiceQuotaExceededException"),
        boto_errors.EventStreamError(
            {"Error": {"Code": "throttlingException", "Message": "…"}}, "ConverseStream"
        ),
        status_error(429),
        openai_error(429),
    ],
    ids=[
        "throttling",
        "too-many-requests",
        "quota",
        "stream-throttling",
        "httpx-429",
        "openai-429",
    ],
)
def test_throttling_becomes_provider_throttled(error: BaseException) -> None:
    translated = translate_error(error)

    assert isinstance(translated, ProviderThrottled)
    assert translated.code == "throttled" and translated.retryable is True


@pytest.mark.parametrize(
    "error",
    [
        client_error("ServiceUnavailableException"),
        client_error("InternalServerException"),
        client_error("ModelNotReadyException"),
        client_error("ModelTimeoutException"),
        boto_errors.EventStreamError(
            {"Error": {"Code": "modelStreamErrorException", "Message": "…"}}, "ConverseStream"
        ),
        status_error(503),
        status_error(500),
        openai_error(503),
        OSError("connection reset"),
        ConnectionRefusedError(),
        TimeoutError(),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
    ],
    ids=[
        "service-unavailable",
        "internal-server",
        "model-not-ready",
        "model-timeout",
        "stream-error",
        "httpx-503",
        "httpx-500",
        "openai-503",
        "oserror",
        "refused",
        "timeout",
        "httpx-connect",
        "httpx-read-timeout",
    ],
)
def test_provider_side_failures_are_retryable_provider_errors(error: BaseException) -> None:
    translated = translate_error(error)

    assert type(translated) is ProviderError
    assert translated.code == "provider_error" and translated.retryable is True


@pytest.mark.parametrize(
    "error",
    [
        client_error("ValidationException"),
        client_error("AccessDeniedException"),
        client_error("ResourceNotFoundException"),
        status_error(400),
        status_error(404),
        openai_error(400),
        ValueError("a bug, not an outage"),
    ],
    ids=["validation", "access-denied", "no-model", "httpx-400", "httpx-404", "openai-400", "bug"],
)
def test_refused_requests_are_not_retryable(error: BaseException) -> None:
    translated = translate_error(error)

    assert type(translated) is ProviderError
    assert translated.retryable is False


def test_the_translated_message_names_the_vendor_class_but_not_its_text() -> None:
    translated = translate_error(client_error("ValidationException"))

    assert "ClientError" in str(translated)
    assert "…" not in str(translated)


def _openai_unreachable() -> BaseException:
    request = OPENAI_HTTP.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
    try:
        try:
            raise OPENAI_HTTP.ConnectError("All connection attempts failed", request=request)
        except OPENAI_HTTP.ConnectError as exc:
            raise openai.APIConnectionError(request=request) from exc  # as openai's client does
    except openai.APIConnectionError as exc:
        return exc


def _openai_timed_out() -> BaseException:
    request = OPENAI_HTTP.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
    try:
        try:
            raise OPENAI_HTTP.ReadTimeout("timed out", request=request)
        except OPENAI_HTTP.ReadTimeout as exc:
            raise openai.APITimeoutError(request=request) from exc
    except openai.APITimeoutError as exc:
        return exc


# "No answer at all" is retryable whichever client says so: botocore's EndpointConnectionError
# (Bedrock unreachable) and openai's APIConnectionError/APITimeoutError (what ChatOpenAI raises
# once its retries are spent, the httpx error as __cause__) are not OSErrors themselves.
@pytest.mark.parametrize(
    "error",
    [
        boto_errors.EndpointConnectionError(endpoint_url="https://bedrock-runtime.invalid"),
        _openai_unreachable(),
        _openai_timed_out(),
    ],
    ids=["bedrock-endpoint-unreachable", "openai-connection-error", "openai-timeout"],
)
def test_an_unreachable_provider_is_a_retryable_provider_error(error: BaseException) -> None:
    translated = translate_error(error)

    assert type(translated) is ProviderError
    assert translated.retryable is True
