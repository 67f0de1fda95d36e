"""A loopback imitation of Bedrock Runtime ``Converse`` / ``ConverseStream``.

Speaks the real wire protocol (restJson request, AWS event-stream response), so
``ChatBedrockConverse(endpoint_url=fb.url, ...)`` and ``boto3.client("bedrock-runtime")``
work against it unmodified, SigV4 signing and botocore retries included::

    with FakeBedrock(answer="안녕하세요. 반갑습니다.", token_interval=0.01) as fb:
        llm = ChatBedrockConverse(model="m", region_name="us-east-1", endpoint_url=fb.url,
                                  aws_access_key_id="x", aws_secret_access_key="x")
        text = "".join(c.text for c in llm.stream("hi"))
        assert fb.requests[0].system_text == ...
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import KW_ONLY, dataclass
from typing import Any, Literal
from urllib.parse import unquote

from ._server import FakeAwsHandler, FakeAwsServer
from .eventstream import event_message, exception_message

AnswerSource = str | Callable[[dict[str, Any]], str]
Tokenizer = int | Literal["words"] | Callable[[str], list[str]]
StreamFailure = Literal["modelStreamErrorException", "throttlingException"]

DEFAULT_ANSWER = "안녕하세요. 무엇을 도와드릴까요?"

_PATH_RE = re.compile(r"^/model/(?P<model>[^/]+)/(?P<op>converse-stream|converse)$")


def split_tokens(text: str, tokenize: Tokenizer) -> list[str]:
    """Split ``text`` into stream tokens whose concatenation is exactly ``text``.

    ``int`` N: chunks of N characters (code points, so Hangul syllables stay whole);
    ``"words"``: each word with its trailing whitespace; or a custom callable.
    """
    if callable(tokenize):
        return list(tokenize(text))
    if tokenize == "words":
        return re.findall(r"\s+|\S+\s*", text)
    if tokenize < 1:
        raise ValueError("token size must be >= 1")
    return [text[i : i + tokenize] for i in range(0, len(text), tokenize)]


@dataclass
class BedrockRequest:
    """One request as the fake saw it. ``headers`` keys are lower-cased."""

    method: str
    path: str
    operation: str  # "converse-stream" or "converse"
    model_id: str  # URL-decoded
    headers: dict[str, str]
    raw_body: bytes
    body: dict[str, Any]
    received_at: float  # time.monotonic()
    #: "pending" → "ok" | "throttled" | "failed_mid_stream" | "client_disconnected" | "aborted"
    outcome: str = "pending"
    answer: str | None = None
    tokens_sent: int = 0
    finished_at: float | None = None

    @property
    def system_text(self) -> str:
        return "".join(block.get("text", "") for block in self.body.get("system", []))

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", []))

    @property
    def inference_config(self) -> dict[str, Any]:
        return dict(self.body.get("inferenceConfig", {}))

    @property
    def last_user_text(self) -> str:
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return "".join(b.get("text", "") for b in message.get("content", []))
        return ""


class _BedrockHandler(FakeAwsHandler[BedrockRequest]):
    route = _PATH_RE
    disconnected_outcome = "client_disconnected"

    def new_request(self, match: re.Match[str], raw: bytes, body: dict[str, Any]) -> BedrockRequest:
        return BedrockRequest(
            method="POST",
            path=self.path,
            operation=match["op"],
            model_id=unquote(match["model"]),
            headers=self.lowered_headers,
            raw_body=raw,
            body=body,
            received_at=time.monotonic(),
        )

    def serve(self, req: BedrockRequest) -> None:
        fb: FakeBedrock = self.server.owner  # type: ignore[assignment]
        if fb.next_request_number() <= fb.throttle_first_n:
            req.outcome = "throttled"
            self.send_aws_error(
                429,
                "ThrottlingException",
                "Too many requests, please wait before trying again.",
            )
            return
        req.answer = fb._answer_for(req.body)
        tokens = split_tokens(req.answer, fb.tokenize)
        if req.operation == "converse":
            self._converse(fb, req, tokens)
        else:
            self._converse_stream(fb, req, tokens)

    def _wait_gate(self, fb: FakeBedrock) -> bool:
        gate = fb.gate
        if gate is None:
            return True
        while not gate.wait(0.02):
            if fb.closing.is_set():
                return False
        return True

    def _converse(self, fb: FakeBedrock, req: BedrockRequest, tokens: list[str]) -> None:
        started = time.monotonic()
        # Same total generation time as the streamed variant, delivered at once.
        if not (
            self._wait_gate(fb)
            and fb.sleep(fb.first_token_delay + fb.token_interval * max(len(tokens) - 1, 0))
        ):
            req.outcome = "aborted"
            self.close_connection = True
            return
        req.tokens_sent = len(tokens)
        self.send_json(
            200,
            {
                "output": {"message": {"role": "assistant", "content": [{"text": req.answer}]}},
                "stopReason": "end_turn",
                "usage": fb._usage(req, len(tokens)),
                "metrics": {"latencyMs": int((time.monotonic() - started) * 1000)},
            },
        )
        req.outcome = "ok"

    def _chunk(self, data: bytes) -> None:
        # One HTTP chunk per event-stream message, flushed, so the client sees each
        # token when it is "generated" rather than when the response completes.
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _converse_stream(self, fb: FakeBedrock, req: BedrockRequest, tokens: list[str]) -> None:
        started = time.monotonic()
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.amazon.eventstream")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-amzn-RequestId", f"fake-{id(req):x}")
        self.end_headers()
        self.wfile.flush()
        self._chunk(event_message("messageStart", {"role": "assistant"}))

        for index, token in enumerate(tokens):
            if fb.gate is not None and index == fb.gate_after_tokens and not self._wait_gate(fb):
                req.outcome = "aborted"
                self.close_connection = True
                return
            if fb.fail_mid_stream is not None and index == fb.fail_after_tokens:
                self._fail(fb, req)
                return
            delay = fb.first_token_delay if index == 0 else fb.token_interval
            if not fb.sleep(delay):
                req.outcome = "aborted"
                self.close_connection = True
                return
            self._chunk(
                event_message(
                    "contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": token}}
                )
            )
            req.tokens_sent += 1

        if fb.gate is not None and fb.gate_after_tokens >= len(tokens) and not self._wait_gate(fb):
            req.outcome = "aborted"
            self.close_connection = True
            return
        if fb.fail_mid_stream is not None and fb.fail_after_tokens >= len(tokens):
            self._fail(fb, req)
            return
        self._chunk(event_message("contentBlockStop", {"contentBlockIndex": 0}))
        self._chunk(event_message("messageStop", {"stopReason": "end_turn"}))
        self._chunk(
            event_message(
                "metadata",
                {
                    "usage": fb._usage(req, len(tokens)),
                    "metrics": {"latencyMs": int((time.monotonic() - started) * 1000)},
                },
            )
        )
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        req.outcome = "ok"

    def _fail(self, fb: FakeBedrock, req: BedrockRequest) -> None:
        assert fb.fail_mid_stream is not None
        message = (
            "Too many requests, please wait before trying again."
            if fb.fail_mid_stream == "throttlingException"
            else "The model stream was interrupted."
        )
        self._chunk(exception_message(fb.fail_mid_stream, message))
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        req.outcome = "failed_mid_stream"


@dataclass(eq=False)
class FakeBedrock(FakeAwsServer[BedrockRequest]):
    """Fake Bedrock Runtime on 127.0.0.1. All options are plain attributes and may be
    changed while the server runs (e.g. ``fb.answer = "..."`` between turns).

    Args:
        answer: reply text, or ``callable(parsed_request_body) -> text``.
        script: optional sequence of answers used one per served (non-throttled)
            request, in order; the last one repeats. Overrides ``answer``.
        tokenize: token size in characters (int), ``"words"``, or ``callable(text) -> list``.
        first_token_delay: seconds between response headers and the first token.
        token_interval: seconds between later tokens.
        throttle_first_n: answer the first N requests with HTTP 429 ThrottlingException.
        fail_mid_stream: send this in-stream exception after ``fail_after_tokens`` tokens
            instead of finishing the stream.
        gate: if given, the stream waits for this event after ``gate_after_tokens``
            tokens (0 = before the first token; the response headers and messageStart
            are already sent, so ``converse_stream()`` has returned).
        usage: overrides for the metadata ``usage`` dict.

    Attributes:
        url, port: where it listens (after start).
        requests: every request received, as ``BedrockRequest`` (thread-safe append).
    """

    handler_class = _BedrockHandler

    answer: AnswerSource = DEFAULT_ANSWER
    _: KW_ONLY
    script: Sequence[AnswerSource] | None = None
    tokenize: Tokenizer = 4
    first_token_delay: float = 0.0
    token_interval: float = 0.0
    throttle_first_n: int = 0
    fail_mid_stream: StreamFailure | None = None
    fail_after_tokens: int = 1
    gate: threading.Event | None = None
    gate_after_tokens: int = 0
    usage: dict[str, int] | None = None

    def __post_init__(self) -> None:
        super().__init__()
        if self.script is not None:
            self.script = list(self.script)
        self._served = 0

    def served_requests(self) -> list[BedrockRequest]:
        """Requests that were not throttled."""
        return [r for r in self.requests if r.outcome != "throttled"]

    def _answer_for(self, body: dict[str, Any]) -> str:
        source: AnswerSource
        with self._lock:
            if self.script:
                source = self.script[min(self._served, len(self.script) - 1)]
            else:
                source = self.answer
            self._served += 1
        return source(body) if callable(source) else source

    def _usage(self, req: BedrockRequest, output_tokens: int) -> dict[str, int]:
        # Rough stand-in for a tokenizer: ~1 token per 3 characters of prompt text.
        prompt_chars = len(req.system_text) + sum(
            len(b.get("text", "")) for m in req.messages for b in m.get("content", [])
        )
        input_tokens = max(1, prompt_chars // 3)
        usage = {
            "inputTokens": input_tokens,
            "outputTokens": output_tokens,
            "totalTokens": input_tokens + output_tokens,
        }
        usage.update(self.usage or {})
        return usage
