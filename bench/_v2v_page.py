"""A simulated page that takes spoken turns the way ``web/js/app.js`` does, and a device that posts.

The page reads ``transcript`` events on ``/ws``: a stale or repeated ``seq`` of an utterance, or
anything after its final, is ignored (``handlers.transcript``); on a final it sends ``chat`` at
once with ``turnId`` = ``v-`` + the event id (``[^A-Za-z0-9_-]`` → ``_``, ``startTurn``), and so
it does on a *settled* partial — every character stable and, by the end-of-turn rule, a finished
sentence (``settled``) — after which transcripts with the same words are ignored. Its first
audio of a turn is the first ``audio`` event of that turn received after its ``chat`` — the
moment the real page schedules it (``player.add``; ``SimulatedPage`` in ``bench/_turns.py``
records the same event). ``audio`` for a turn the page never asked for, or that arrives before
the page asked, is what the real page would drop (``event.turnId !== current?.id``): such events
are counted, never taken as the turn's first audio. The page plays nothing and never barges in:
each utterance starts after the previous answer's ``done``.

Every time is epoch ms on this machine, the clock of the server's ledger; a turn's figures are
kept relative to its end of speech.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection

from voicebot.contract.endpointing import EndOfTurnRule

from ._client import Session
from ._stats import fields_as_json


def now_ms() -> float:
    return time.time() * 1000


# player.js's START_LEAD_S; Korean conversational speech (bench/_v2v_recognizer.py's pace).
START_LEAD_MS = 20.0
SPEECH_MS_PER_SYLLABLE = 150.0


def _syllables(text: str) -> int:
    return sum(1 for c in text if "가" <= c <= "힣" or c.isdigit())


def _ogg_ms(data: bytes) -> float:
    import soundfile

    info = soundfile.info(io.BytesIO(data))
    return 1000.0 * info.frames / info.samplerate


@dataclass
class VoiceTurn:
    config: str
    index: int
    text: str
    utterance_id: str
    eos: float = 0.0  # epoch ms of the end of speech
    turn_id: str | None = None
    final_text: str | None = None
    marks: dict[str, float] = field(default_factory=dict)  # ms after the end of speech
    device: dict[str, float] = field(default_factory=dict)  # the recognizer's own times
    ledger: dict[str, float] = field(default_factory=dict)  # server ledger, after EoS
    transcripts: list[tuple[float, int, bool, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    # Per segment index: its text, and (epoch ms its last audio part arrived, its audio bytes).
    segments: dict[int, str] = field(default_factory=dict)
    audio: dict[int, tuple[float, bytes]] = field(default_factory=dict)
    _parts: dict[int, list[bytes]] = field(default_factory=dict)

    def add_audio(self, event: dict[str, Any], at: float) -> None:
        index = int(event.get("index", -1))
        self._parts.setdefault(index, []).append(base64.b64decode(event.get("data", "")))
        if event.get("last"):
            self.audio[index] = (at, b"".join(self._parts.pop(index)))

    def playback(self) -> dict[str, Any]:
        """The silences the page could not avoid before each later segment (``player.js``).

        Scheduled as the player does: a segment starts at max(its audio's arrival + 20 ms, the
        previous one's end). Lengths: the scripted synthesizer's audio as decoded, and Korean
        speech of the segment's text (``SPEECH_MS_PER_SYLLABLE``, the recognizer's pace).
        """
        out: dict[str, Any] = {}
        indexes = sorted(self.audio)
        for name in ("tone", "speech"):
            gaps, previous_end = [], None
            for index in indexes:
                arrived, data = self.audio[index]
                length = (
                    _ogg_ms(data)
                    if name == "tone"
                    else SPEECH_MS_PER_SYLLABLE * _syllables(self.segments.get(index, ""))
                )
                start = arrived + START_LEAD_MS
                if previous_end is not None:
                    start = max(start, previous_end)
                    gaps.append(start - previous_end)
                previous_end = start + length
            out[f"gapsMs_{name}"] = gaps
        return out

    def mark(self, name: str, at: float) -> None:
        self.marks.setdefault(name, at - self.eos)

    def as_dict(self) -> dict[str, Any]:
        return {
            **fields_as_json(self, "config index text final_text turn_id eos device marks ledger"),
            "transcriptsAtPage": [
                {"t": t, "seq": s, "final": f, "text": x} for t, s, f, x in self.transcripts
            ],
            "errors": self.errors,
            "segments": [self.segments[i] for i in sorted(self.segments)],
            "playback": self.playback(),
        }


class VoicePage:
    """One open page of a user; ``run`` reads its WebSocket until it is closed."""

    def __init__(self, ws: ClientConnection, config: dict[str, Any]) -> None:
        self._ws = ws
        # config.json, as the page reads it: preemptiveAnswers lets it ask on a settled partial.
        self._settles_early = bool(config.get("preemptiveAnswers"))
        self._shown: dict[str, tuple[int, bool]] = {}  # utteranceId → (seq, final)
        self._asked_words: dict[str, str] = {}  # utteranceId → text asked on a settled partial
        self.by_utterance: dict[str, VoiceTurn] = {}
        self.by_turn: dict[str, VoiceTurn] = {}
        self.asked: dict[str, float] = {}  # turnId → epoch ms of its chat
        self.unasked_audio: list[dict[str, Any]] = []  # audio the real page would drop
        self.unexpected_finals: list[str] = []  # finals of utterances no turn expects (Vosk)
        # callable(utteranceId, final, at) → VoiceTurn | None: binds an utterance the page did not
        # expect (the interpreter's own ids) to a turn.
        self.on_unknown_utterance: Any = None

    async def run(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            async for raw in self._ws:
                at = now_ms()
                event = json.loads(raw)
                await self._handle(event, at)

    async def _handle(self, event: dict[str, Any], at: float) -> None:
        kind = event.get("type")
        if kind == "transcript":
            await self._transcript(event, at)
            return
        turn_id = event.get("turnId")
        turn = self.by_turn.get(turn_id) if turn_id else None
        if kind == "audio":
            if turn_id not in self.asked:
                self.unasked_audio.append(
                    {"turnId": turn_id, "index": event.get("index"), "at": at, "when": "unasked"}
                )
            elif turn is not None:
                turn.mark("firstAudio", at)
                turn.add_audio(event, at)
        elif turn is None:
            if kind == "error":
                print(f"  page: error {event.get('code')} {event.get('message')}")
            return
        elif kind == "delta":
            turn.mark("firstDelta", at)
        elif kind == "sentence":
            turn.mark("firstSentence", at)
            turn.segments[int(event.get("index", -1))] = str(event.get("text", ""))
        elif kind == "error":
            turn.errors.append(str(event.get("code")))
            if event.get("code") != "duplicate_turn":
                turn.mark("done", at)
                turn.done.set()
        elif kind == "done":
            turn.mark("done", at)
            turn.ledger = {k: float(v) - turn.eos for k, v in (event.get("ledger") or {}).items()}
            turn.marks["doneInterrupted"] = float(bool(event.get("interrupted")))
            turn.done.set()

    async def _transcript(self, event: dict[str, Any], at: float) -> None:
        utterance, seq, final = event["utteranceId"], int(event["seq"]), bool(event["final"])
        shown = self._shown.get(utterance)
        if shown is not None and (shown[1] or seq <= shown[0]):
            return  # app.js: stale, repeated or after the final
        self._shown[utterance] = (seq, final)
        turn = self.by_utterance.get(utterance)
        if turn is None and self.on_unknown_utterance is not None:
            turn = self.on_unknown_utterance(utterance, final, at)
            if turn is not None:
                self.by_utterance[utterance] = turn
        if turn is not None:
            turn.transcripts.append((at - turn.eos, seq, final, event["text"]))
            if not final:
                turn.marks["lastPartialAtPage"] = at - turn.eos
        asked = self._asked_words.get(utterance)
        if asked is not None:
            return  # app.js: asked already; the same words change nothing (no barge-in here)
        if not final and not (self._settles_early and _settled(event)):
            return
        if not final:
            self._asked_words[utterance] = event["text"]
        turn_id = "v-" + re.sub(r"[^A-Za-z0-9_-]", "_", str(event["id"]))
        sent = now_ms()
        self.asked[turn_id] = sent
        chat = {"action": "chat", "turnId": turn_id, "text": event["text"]}
        await self._ws.send(json.dumps(chat))
        if turn is None:
            self.unexpected_finals.append(event["text"])
            return
        turn.turn_id, turn.final_text = turn_id, event["text"]
        self.by_turn[turn_id] = turn
        turn.mark("finalAtPage", at)
        turn.mark("chatSent", sent)


def _settled(event: dict[str, Any]) -> bool:
    """app.js ``settled``: every character stable, and a finished sentence by the rule."""
    stable, text = event.get("stableChars"), str(event["text"])
    if not isinstance(stable, int) or stable < len(text.strip()):
        return False
    rule = EndOfTurnRule(language=str(event.get("lang") or "ko"))
    return rule.classify(text) == "complete"


class Device:
    """Posts transcripts as a device's interpreter does: in order, with its device token."""

    def __init__(self, http: httpx.AsyncClient, session: Session) -> None:
        self._http = http
        self._headers = {"Authorization": f"Bearer {session.device_token}"}

    async def post(self, body: dict[str, Any]) -> float:
        """POST one transcript; returns how long the API took to answer (ms)."""
        began = now_ms()
        response = await self._http.post("/api/transcripts", json=body, headers=self._headers)
        if response.status_code not in (202, 409):
            raise RuntimeError(f"transcript post: {response.status_code} {response.text[:200]}")
        return now_ms() - began
