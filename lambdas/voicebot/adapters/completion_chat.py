"""A chat model over a plain text-completion endpoint, for small *base* models.

A base model (such as the local stack's Gemma 3 270M) has no chat template: given chat messages
it rambles. Given a short transcript of a conversation to continue, and a newline as the stop
sequence, it answers with one line. This adapter turns the messages into that transcript and
streams ``/v1/completions`` from any OpenAI-compatible server (llama.cpp, vLLM, ...).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

USER = "사용자"
ASSISTANT = "비서"
# A few exchanges show the model the format, the register and the length of an answer.
EXAMPLES: tuple[tuple[str, str], ...] = (
    ("안녕하세요?", "안녕하세요! 무엇을 도와드릴까요?"),
    ("오늘 저녁 뭐 먹을까?", "따뜻한 된장찌개는 어떠세요?"),
    ("고마워.", "천만에요. 또 필요한 게 있으면 말씀해 주세요."),
)


def _one_line(text: str) -> str:
    # A newline inside a message would let it forge the next speaker's turn.
    return " ".join(str(text).split())


def completion_prompt(messages: list[BaseMessage]) -> str:
    header = ""
    lines: list[str] = []
    for message in messages:
        if isinstance(message, SystemMessage):
            header = _one_line(str(message.content))
        elif isinstance(message, AIMessage):
            lines.append(f"{ASSISTANT}: {_one_line(str(message.content))}")
        else:
            lines.append(f"{USER}: {_one_line(str(message.content))}")
    shots = [f"{USER}: {q}\n{ASSISTANT}: {a}" for q, a in EXAMPLES]
    return "\n".join([header, "", *shots, *lines, f"{ASSISTANT}:"]).lstrip("\n")


class FewShotCompletionChatModel(BaseChatModel):
    """Streams one answer line from ``{base_url}/completions``."""

    base_url: str
    model: str
    api_key: str = "not-needed"
    temperature: float = 0.5
    max_tokens: int = 96
    timeout_s: float = 60.0

    @property
    def _llm_type(self) -> str:
        return "few-shot-completion"

    def _request(self, messages: list[BaseMessage], stop: list[str] | None) -> dict[str, Any]:
        return {
            "model": self.model,
            "prompt": completion_prompt(messages),
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "stop": ["\n", f"{USER}:", *(stop or [])],
        }

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        from openai import OpenAI

        client = OpenAI(base_url=self.base_url, api_key=self.api_key, timeout=self.timeout_s)
        response = client.completions.create(**self._request(messages, stop))
        text = response.choices[0].text.strip() if response.choices else ""
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        raise NotImplementedError("FewShotCompletionChatModel streams asynchronously only.")

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        from openai import AsyncOpenAI

        client = AsyncOpenAI(base_url=self.base_url, api_key=self.api_key, timeout=self.timeout_s)
        started = False
        try:
            stream = await client.completions.create(**self._request(messages, stop), stream=True)
            async for part in stream:
                text = part.choices[0].text if part.choices else ""
                if not started:
                    text = text.lstrip()  # the answer follows "비서:" and a space
                if not text:
                    continue
                started = True
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
                if run_manager is not None:
                    await run_manager.on_llm_new_token(text, chunk=chunk)
                yield chunk
        finally:
            await client.close()
