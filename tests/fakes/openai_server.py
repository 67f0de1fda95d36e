"""A loopback chat server speaking the OpenAI-compatible chat-completions protocol, streamed.

Both OpenAI-compatible servers (``langchain-openai``, over the ``openai`` client) and NVIDIA NIM
(``langchain-nvidia-ai-endpoints``, over aiohttp) speak it: ``POST {base}/v1/chat/completions``
with ``"stream": true`` and ``Authorization: Bearer <key>`` is answered with server-sent events,
one ``data: {chat.completion.chunk}`` per token and ``data: [DONE]`` at the end. A wrong or
missing key is answered 401 with the OpenAI error body, before anything is streamed. NIM's
client may also list ``GET {base}/v1/models``; that is answered too.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, cast

from ._server import FakeAwsHandler, FakeAwsServer


@dataclass
class ChatRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    received_at: float = field(default_factory=time.monotonic)
    finished_at: float | None = None
    outcome: str = "pending"
    chunks_sent: int = 0

    @property
    def bearer(self) -> str | None:
        value = self.headers.get("authorization", "")
        return value.removeprefix("Bearer ") if value.startswith("Bearer ") else None


class _Handler(FakeAwsHandler[ChatRequest]):
    route = re.compile(r"^(?:/[^?]*)?/v1/chat/completions$")

    @property
    def peer(self) -> OpenAiCompatibleServer:
        return cast(OpenAiCompatibleServer, self.server.owner)

    def new_request(self, match: re.Match[str], raw: bytes, body: dict[str, Any]) -> ChatRequest:
        return ChatRequest(self.path, self.lowered_headers, body)

    def do_GET(self) -> None:
        if not self.path.split("?", 1)[0].endswith("/v1/models"):
            self.send_json(404, {"error": {"message": f"no route for {self.path}"}})
            return
        models = [{"id": self.peer.model, "object": "model", "owned_by": "test"}]
        self.send_json(200, {"object": "list", "data": models})

    def serve(self, req: ChatRequest) -> None:
        owner = self.peer
        if req.bearer != owner.api_key:
            req.outcome = "unauthorized"
            error = {"message": "Incorrect API key provided.", "type": "invalid_request_error"}
            self.send_json(401, {"error": {**error, "code": "invalid_api_key"}})
            return
        if not req.body.get("stream"):
            req.outcome = "not_streamed"
            self.send_json(400, {"error": {"message": "this peer only streams"}})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        completion = f"chatcmpl-{uuid.uuid4().hex[:12]}"
        model = str(req.body.get("model", ""))

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return {
                "id": completion,
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "choices": [choice],
            }

        owner.sleep(owner.first_token_delay)
        self._event(chunk({"role": "assistant", "content": ""}))
        for piece in owner.pieces():
            self._event(chunk({"content": piece}))
            req.chunks_sent += 1
            if not owner.sleep(owner.token_interval):
                break
        self._event(chunk({}, "stop"))
        if (req.body.get("stream_options") or {}).get("include_usage"):
            usage = {"prompt_tokens": 10, "completion_tokens": req.chunks_sent}
            usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
            self._event({**chunk({}), "choices": [], "usage": usage})
        self._write(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        req.outcome = "streamed"

    def _event(self, payload: dict[str, Any]) -> None:
        self._write(b"data: " + json.dumps(payload, ensure_ascii=False).encode() + b"\n\n")

    def _write(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


class OpenAiCompatibleServer(FakeAwsServer[ChatRequest]):
    """``url`` + ``/v1`` is the base URL a client is given; ``api_key`` is the key it must send."""

    handler_class = _Handler

    def __init__(self, api_key: str = "test-key", model: str = "test-model") -> None:
        super().__init__()
        self.api_key = api_key
        self.model = model
        self.answer = "안녕하세요. 반갑습니다."
        # Characters per streamed chunk, and the pacing of the stream.
        self.tokenize = 4
        self.first_token_delay = 0.0
        self.token_interval = 0.0

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def pieces(self) -> list[str]:
        n = max(1, self.tokenize)
        return [self.answer[i : i + n] for i in range(0, len(self.answer), n)]
