"""One simulated user: a page that sends ``chat`` and records when each event of the turn arrives.

Two strategies run on the same stack with the same providers:

- ``streamed`` (this project): the page sends ``chat`` and plays the ``audio`` events the server
  pushes while the model is still streaming.
- ``old`` (the design this project replaces): the page waits for the whole answer text, then
  asks ``POST /api/speech`` for the first sentence; its first audio is that response. The old
  design's server had no audio stage, so "whole answer" is when the page holds the full text
  (the last ``delta``), not our ``done``, which comes after our own audio; a second request made
  at ``done`` is recorded too.

Every time is in milliseconds after the client's send of ``chat`` (the protocol's start of a
turn: the page sends it on the final transcript).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection

from ._client import Session
from ._stats import fields_as_json


def now_ms() -> float:
    return time.time() * 1000  # epoch ms: the same clock as the server's turn ledger


@dataclass
class TurnRecord:
    mode: str
    users: int
    user: int
    turn: int
    t0: float  # epoch ms of the send of chat
    marks: dict[str, float] = field(default_factory=dict)
    ledger: dict[str, float] = field(default_factory=dict)  # server ledger, relative to t0
    events: list[tuple[float, str, int]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def mark(self, name: str, at: float) -> None:
        self.marks.setdefault(name, at - self.t0)

    def as_dict(self, with_events: bool = False) -> dict[str, Any]:
        data = fields_as_json(self, "mode users user turn t0 marks ledger errors")
        if with_events:
            data["events"] = [{"t": t, "type": k, "index": i} for t, k, i in self.events]
        return data


@dataclass(eq=False)
class SimulatedPage:
    http: httpx.AsyncClient
    ws: ClientConnection
    session: Session
    first_sentence: str
    answer: str

    async def turn(self, record: TurnRecord, turn_id: str) -> TurnRecord:
        speech: list[asyncio.Task[None]] = []
        text = ""
        message = json.dumps({"action": "chat", "turnId": turn_id, "text": "오늘 날씨 어때?"})
        record.t0 = now_ms()
        await self.ws.send(message)
        while True:
            raw = await asyncio.wait_for(self.ws.recv(), timeout=60)
            at = now_ms()
            event = json.loads(raw)
            kind = event.get("type", "")
            if event.get("turnId") not in (turn_id, None):
                continue
            record.events.append((at - record.t0, kind, int(event.get("index", -1))))
            if kind == "delta":
                record.mark("firstDelta", at)
                text += event["text"]
                if text == self.answer:
                    record.mark("textComplete", at)
                    if record.mode == "old":
                        speech.append(asyncio.create_task(self._speak(record, "oldAudio", at)))
            elif kind == "sentence":
                record.mark("firstSentence", at)
            elif kind == "audio":
                record.mark("firstAudio", at)
            elif kind == "error":
                record.errors.append(str(event.get("code")))
            elif kind == "done":
                record.mark("done", at)
                ledger = event.get("ledger") or {}
                record.ledger = {k: float(v) - record.t0 for k, v in ledger.items()}
                if record.mode == "old":
                    speech.append(asyncio.create_task(self._speak(record, "oldAudioAtDone", at)))
                break
        await asyncio.gather(*speech)
        return record

    async def _speak(self, record: TurnRecord, name: str, trigger: float) -> None:
        response = await self.http.post(
            "/api/speech",
            json={"text": self.first_sentence},
            headers={"Authorization": f"Bearer {self.session.token}"},
        )
        at = now_ms()
        if response.status_code != 200 or not response.content:
            record.errors.append(f"speech {response.status_code}")
            return
        record.mark(name, at)
        record.marks[name + "RequestMs"] = at - trigger  # a duration, not a time after t0
