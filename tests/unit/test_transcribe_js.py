"""The page's Amazon Transcribe client in node (web/js/eventstream.js, web/js/transcribe.js):
the event-stream codec against the tests' independent Python codec, and the page's numbering of
Transcribe results against the interpreter's, so a page and a device post the same transcripts
for the same results (docs/PROTOCOL.md, "The page's microphone on AWS")."""

from __future__ import annotations

import base64
import zlib
from typing import Any

import pytest
from amazon_transcribe.model import Alternative, Item, Result

from interpreter.pipeline import UtteranceNumbering
from interpreter.recognizers.transcribe import TranscribeStream
from tests.fakes.transcribe_results import ScriptedTranscript, exception_event, transcript_event
from tests.interpreter.interp_eventstream import MessageDecoder, encode_message

from .page_js import run_node

CODEC = """
import { EventStreamDecoder, audioEvent, crc32, encodeMessage, readTranscribeMessage }
  from "./web/js/eventstream.js";
const input = JSON.parse(process.argv[1]);
const bytes = (b64) => Uint8Array.from(Buffer.from(b64, "base64"));
const out = {};
out.crcs = input.crcInputs.map((b64) => crc32(bytes(b64)));
out.audio = Buffer.from(audioEvent(bytes(input.pcm))).toString("base64");
out.end = Buffer.from(audioEvent(new Uint8Array(0))).toString("base64");
const headers = encodeMessage({ ":a": "가나", b: "" }, bytes(input.pcm));
out.headers = Buffer.from(headers).toString("base64");
const decoder = new EventStreamDecoder();
const whole = bytes(input.stream);
out.read = [];
for (let i = 0; i < whole.length; i += 7) {  // split across frames at odd places
  for (const message of decoder.push(whole.subarray(i, i + 7))) {
    out.read.push(readTranscribeMessage(message));
  }
}
out.errors = input.corrupt.map((b64) => {
  try { new EventStreamDecoder().push(bytes(b64)); return null; } catch (e) { return e.message; }
});
console.log(JSON.stringify(out));
"""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_the_codec_speaks_the_event_stream_format_both_ways() -> None:
    pcm = bytes(range(256)) * 13
    script = ScriptedTranscript(
        "안녕하세요 오늘 날씨가", "r-1", partial_every_bytes=100, stable_items=True
    )
    stream = b"".join(
        [transcript_event([]), *script.due_partials(300), script.final(300), exception_event()]
    )
    good = transcript_event([])
    bad_prelude = good[:8] + bytes([good[8] ^ 1]) + good[9:]
    bad_message = good[:-1] + bytes([good[-1] ^ 1])
    out = run_node(
        CODEC,
        {
            "crcInputs": [b64(b""), b64(b"123456789"), b64(pcm)],
            "pcm": b64(pcm),
            "stream": b64(stream),
            "corrupt": [b64(bad_prelude), b64(bad_message)],
        },
    )
    assert out["crcs"] == [zlib.crc32(b""), zlib.crc32(b"123456789"), zlib.crc32(pcm)]
    # What the page sends, read back by an independent decoder that checks both CRCs.
    (audio,) = MessageDecoder().feed(base64.b64decode(out["audio"]))
    assert audio.headers == {
        ":message-type": "event",
        ":event-type": "AudioEvent",
        ":content-type": "application/octet-stream",
    }
    assert audio.payload == pcm
    (end,) = MessageDecoder().feed(base64.b64decode(out["end"]))
    assert end.headers[":event-type"] == "AudioEvent" and end.payload == b""
    assert base64.b64decode(out["headers"]) == encode_message({":a": "가나", "b": ""}, pcm)
    # What Transcribe sends, read by the page whatever the frame boundaries.
    kinds = [m["kind"] for m in out["read"]]
    assert kinds == ["transcript"] * 5 + ["exception"]  # empty, 3 partials, the final
    assert out["read"][0]["results"] == []
    assert [m["results"] for m in out["read"][1:5]] == [[r] for r in script.results_sent]
    assert out["read"][5]["type"] == "InternalFailureException"
    assert "injected" in out["read"][5]["message"]
    assert out["errors"] == [
        "event stream: prelude CRC mismatch",
        "event stream: message CRC mismatch",
    ]


# ---- the same transcripts as the interpreter ----------------------------------------------

NUMBERING = """
import { UtteranceNumbering, TranscribeUtterance } from "./web/js/transcribe.js";
import { EventStreamDecoder, encodeMessage } from "./web/js/eventstream.js";
const { results, lang } = JSON.parse(process.argv[1]);
const sockets = [];
globalThis.WebSocket = class {
  static OPEN = 1;
  constructor(url) { this.url = url; this.readyState = 0; this.sent = []; sockets.push(this); }
  send(data) { this.sent.push(data); }
  close() { this.readyState = 3; setTimeout(() => this.onclose?.(), 0); }
};
WebSocket.OPEN = 1;
const number = new UtteranceNumbering(lang, "mic-", "run").forStream();
const posts = [];
const done = new Promise((resolve) => {
  const utterance = new TranscribeUtterance({
    presign: async () => ({ url: "ws://peer/stream-transcription-websocket?x" }),
    emit: (event) => { const post = number(event); if (post) posts.push(post); },
    onGiveUp: (error) => posts.push({ gaveUp: error.reason }),
    onDone: resolve,
  });
  utterance.start();
  setTimeout(() => {
    const socket = sockets[0];
    socket.readyState = 1;
    socket.onopen();
    utterance.send(new Uint8Array(3200).buffer);
    utterance.finish();
    const headers = { ":message-type": "event", ":event-type": "TranscriptEvent",
                      ":content-type": "application/json" };
    for (const result of results) {
      const body = new TextEncoder().encode(JSON.stringify({ Transcript: { Results: [result] } }));
      socket.onmessage({ data: encodeMessage(headers, body).buffer });
    }
    socket.readyState = 3;
    socket.onclose();
  }, 0);
});
await done;
console.log(JSON.stringify(posts));
"""


def _result(raw: dict[str, Any]) -> Result:
    alternatives = [
        Alternative(
            a["Transcript"],
            [Item(content=i["Content"], stable=i.get("Stable")) for i in a.get("Items", [])],
            [],
        )
        for a in raw["Alternatives"]
    ]
    return Result(
        result_id=raw["ResultId"],
        end_time=raw.get("EndTime"),
        is_partial=raw["IsPartial"],
        alternatives=alternatives,
    )


def _partial(text: str, stable: list[bool] | None, rid: str) -> dict[str, Any]:
    items = (
        []
        if stable is None
        else [{"Content": w, "Stable": s} for w, s in zip(text.split(), stable, strict=True)]
    )
    return {"ResultId": rid, "IsPartial": True, "EndTime": 1.0,
            "Alternatives": [{"Transcript": text, "Items": items}]}  # fmt: skip


def _final(text: str, rid: str) -> dict[str, Any]:
    return {"ResultId": rid, "IsPartial": False, "EndTime": 0.1,
            "Alternatives": [{"Transcript": text, "Items": []}]}  # fmt: skip


SCRIPTS = {
    "one utterance, stabilized": [
        _partial("안녕하세요", [False], "a"),
        _partial("안녕하세요 오늘", [True, False], "a"),
        _partial("안녕하세요 오늘", [True, True], "a"),  # only more became stable: posted
        _partial("안녕하세요 오늘", [True, True], "a"),  # unchanged: not posted
        _partial(" 안녕하세요 오늘 날씨가", [True, True, False], "a"),  # a leading space
        _final("안녕하세요 오늘 날씨가 좋네요.", "a"),
    ],
    "two segments in one stream": [
        _partial("네", None, "a"),
        _final("네.", "a"),
        {"ResultId": "x", "IsPartial": True, "Alternatives": []},  # no alternatives: nothing
        _partial("그럼 내일", [True, False], "b"),
        _final("그럼 내일 봐요.", "b"),
    ],
    "a stream that ends on a partial": [
        _partial("잠깐만", [False], "a"),
        _partial("잠깐만 기다려", [True, False], "a"),
    ],
}


def _interpreter_posts(results: list[dict[str, Any]], lang: str) -> list[dict[str, Any]]:
    stream = TranscribeStream(None, None)  # type: ignore[arg-type]
    number = UtteranceNumbering(lang).for_stream()
    events = [e for e in (stream._result(_result(r)) for r in results) if e is not None]
    if stream._last_partial:  # what events() does when the stream ends without a final
        from interpreter.events import FinalTranscript

        events.append(FinalTranscript(stream._last_partial, str(stream._segment)))
    posts = [number(e) for e in events]
    return [p.model_dump(exclude_none=True) for p in posts if p is not None]


def _by_order(posts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Utterance ids replaced by their order of appearance (each side has its own run id)."""
    ids: dict[str, int] = {}
    return [{**p, "utteranceId": ids.setdefault(p["utteranceId"], len(ids))} for p in posts]


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_the_page_posts_what_the_interpreter_posts_for_the_same_results(name: str) -> None:
    results = SCRIPTS[name]
    page = run_node(NUMBERING, {"results": results, "lang": "ko-KR"})
    assert all(p["utteranceId"].startswith("mic-run-") for p in page)
    interpreter = _interpreter_posts(results, "ko-KR")
    assert interpreter, "the script must post something"
    assert _by_order(page) == _by_order(interpreter)


def test_a_stabilized_script_carries_stable_chars_and_ends_with_one_final_per_utterance() -> None:
    page = run_node(NUMBERING, {"results": SCRIPTS["two segments in one stream"], "lang": "ko-KR"})
    assert [(p["seq"], p["text"], p["final"], p.get("stableChars")) for p in page] == [
        (0, "네", False, None),
        (1, "네.", True, None),
        (0, "그럼 내일", False, 2),
        (1, "그럼 내일 봐요.", True, None),
    ]
    assert len({p["utteranceId"] for p in page}) == 2


# ---- delivery: one post in flight, reconnects -----------------------------------------------

SENDER = """
import { TranscriptSender } from "./web/js/transcribe.js";
const sent = [];
const sender = new TranscriptSender((post) => sent.push(`${post.utteranceId}:${post.seq}`));
const post = (u, seq, final = false) => ({ utteranceId: u, seq, final, text: "x" });
sender.publish(post("a", 0));
sender.publish(post("a", 1));
sender.publish(post("a", 2));      // replaces a:1, which never goes
sender.publish(post("a", 3, true));  // a final is never dropped
sender.publish(post("b", 0));
const steps = [sent.slice()];
sender.heard({ utteranceId: "a", seq: 0 });
steps.push(sent.slice());
sender.heard({ utteranceId: "zz", seq: 9 });  // someone else's: nothing moves
sender.heard({ utteranceId: "a", seq: 3 });
sender.heard({ utteranceId: "b", seq: 0 });
steps.push(sent.slice());
console.log(JSON.stringify(steps));
"""


def test_the_page_sends_one_transcript_at_a_time_and_drops_superseded_partials() -> None:
    assert run_node(SENDER, None) == [
        ["a:0"],
        ["a:0", "a:3"],
        ["a:0", "a:3", "b:0"],
    ]


RECONNECT = """
import { TranscribeUtterance } from "./web/js/transcribe.js";
import { EventStreamDecoder, encodeMessage } from "./web/js/eventstream.js";
const { script } = JSON.parse(process.argv[1]);
const sockets = [];
globalThis.WebSocket = class {
  constructor(url) { this.url = url; this.readyState = 0; this.sent = []; sockets.push(this);
    setTimeout(() => this.step(), 0); }
  send(data) { this.sent.push(data); }
  close() { this.readyState = 3; setTimeout(() => this.onclose?.(), 0); }
  step() {
    const plan = script[sockets.indexOf(this)] ?? "refuse";
    if (plan === "refuse") { this.readyState = 3; this.onclose(); return; }
    this.readyState = 1; this.onopen();
    const headers = { ":message-type": plan === "fail" ? "exception" : "event",
      ":event-type": "TranscriptEvent", ":exception-type": "InternalFailureException",
      ":content-type": "application/json" };
    const result = { ResultId: "r", IsPartial: plan === "fail", EndTime: 0.5,
      Alternatives: [{ Transcript: plan === "fail" ? "안녕" : "안녕하세요", Items: [] }] };
    const body = plan === "fail" ? { Message: "dropped" } : { Transcript: { Results: [result] } };
    if (plan === "fail") {
      const partial = { ...headers, ":message-type": "event" };
      const partialBody = { Transcript: { Results: [result] } };
      this.onmessage({ data: encodeMessage(partial,
        new TextEncoder().encode(JSON.stringify(partialBody))).buffer });
    }
    this.onmessage({ data: encodeMessage(headers,
      new TextEncoder().encode(JSON.stringify(body))).buffer });
    if (plan !== "fail") { this.readyState = 3; this.onclose(); }
  }
};
WebSocket.OPEN = 1;
let presigns = 0;
const out = { emitted: [], gaveUp: null };
await new Promise((resolve) => {
  const utterance = new TranscribeUtterance({
    presign: async () => ({ url: `ws://peer/${++presigns}` }),
    emit: (event) => out.emitted.push([event.text, event.final]),
    onGiveUp: (error) => (out.gaveUp = error.reason),
    onDone: resolve,
  });
  utterance.start();
  utterance.send(new Uint8Array(3200).buffer);
  utterance.send(new Uint8Array(3200).buffer);
  utterance.finish();
});
out.presigns = presigns;
out.audioBytesSent = sockets.map((s) => s.sent.map((d) => new EventStreamDecoder().push(d)[0])
  .map((m) => m.payload.length));
console.log(JSON.stringify(out));
"""


def test_a_broken_stream_is_reopened_with_a_fresh_url_and_its_audio_sent_again() -> None:
    out = run_node(RECONNECT, {"script": ["fail", "final"]})
    assert out["presigns"] == 2 and out["gaveUp"] is None
    # Both streams got the utterance's audio and its end (0 bytes); no final had covered it.
    assert out["audioBytesSent"] == [[3200, 3200, 0], [3200, 3200, 0]]
    assert out["emitted"] == [["안녕", False], ["안녕하세요", True]]


def test_a_stream_refused_every_time_gives_up_as_refused_with_its_partial_final() -> None:
    out = run_node(RECONNECT, {"script": ["fail"]})  # then refused: 1 + 3 reconnects
    assert out["presigns"] == 4 and out["gaveUp"] == "refused"
    assert out["emitted"] == [["안녕", False], ["안녕", True]]
    never = run_node(RECONNECT, {"script": []})
    assert never["presigns"] == 4 and never["gaveUp"] == "refused" and never["emitted"] == []
