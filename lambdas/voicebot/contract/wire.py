"""Every message that crosses the wire, as typed models (PROTOCOL.md, version 1).

Incoming models are strict (``"seq": "3"`` or ``"final": 1`` is a 400, not a coercion) and ignore
unknown fields, because the protocol allows clients to add optional fields. Outgoing events are
built as models too and serialized once, at the edge (``voicebot.protocol.encode_event``); their
field names read exactly like the protocol. ``docs/wire-schema.json`` is generated from here.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from .endpointing import EndOfTurnConfig
from .interruptions import InterruptionConfig

MAX_SAFE_INTEGER = 9_007_199_254_740_991
# API Gateway refuses WebSocket frames over 128 KiB; the protocol promises at most 102,400 bytes.
MAX_WS_MESSAGE_BYTES = 102_400
# API Gateway closes a WebSocket whose client sends a frame over 128 KiB, with this close code
# ("message too big"); the local twin does the same.
MAX_WS_FRAME_BYTES = 128 * 1024
CLOSE_MESSAGE_TOO_BIG = 1009
# Error codes of the local twin's front door (docs/PROTOCOL.md, "The local stack"): a page that
# sends faster than its rate (an ``error`` event, the message dropped), a request for a host
# name or from a page origin it does not serve (403 before any handler runs).
RATE_LIMITED = "rate_limited"
HOST_NOT_ALLOWED = "host_not_allowed"
ORIGIN_NOT_ALLOWED = "origin_not_allowed"
MAX_TEXT_CHARS = 2000  # a transcript's or a chat message's text
MAX_SPEECH_CHARS = 1500

# Error codes and the close code of the failure semantics (docs/PROTOCOL.md, "Failures"):
# a caller over its in-flight cap (REST 429 and on the socket; that caller only), and a failure
# that is neither a provider's nor "unreachable" (a turn still ends with its done).
RATE_LIMITED = "rate_limited"
INTERNAL_ERROR = "internal_error"
# The server no longer knows the connection (its registry was lost): it sends `unauthorized`
# and closes the connection; the page closes with this code itself, reconnects and resumes.
RECONNECT_CLOSE_CODE = 4001

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
Lang = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$")]
Voice = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT_CHARS)]


class _Incoming(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


# ---- REST request bodies ------------------------------------------------------------------------


class SessionRequest(_Incoming):
    accessCode: Annotated[str, StringConstraints(max_length=256)] | None = None


EpochMs = Annotated[int, Field(ge=0, le=MAX_SAFE_INTEGER)]


class TranscriptPost(_Incoming):
    """``POST /api/transcripts``: what a device's interpreter sends, and what the relay reads.

    The optional fields are what the device knows and the server cannot guess: how much of a
    partial the recognizer will not change any more (Transcribe's partial-results stabilization),
    and the device's own clock (epoch ms) at the utterance's first voiced audio, at its last voiced
    audio once the voice detector heard it end, and when the recognizer gave this text. Turn-taking
    reads them (a stable partial may start the answer early; the ledger starts at end of speech).
    """

    utteranceId: Id
    seq: Annotated[int, Field(ge=0, le=MAX_SAFE_INTEGER)]
    text: Text
    final: bool
    lang: Lang | None = None
    stableChars: Annotated[int, Field(ge=0, le=MAX_TEXT_CHARS)] | None = None
    speechStartedAt: EpochMs | None = None
    speechEndedAt: EpochMs | None = None
    recognizedAt: EpochMs | None = None

    def body(self) -> dict[str, Any]:
        """The JSON body as the device sends it (optional fields left out when unset)."""
        return self.model_dump(exclude_none=True)


class TranscribeStreamRequest(_Incoming):
    """``POST /api/transcribe/stream``: a pre-signed URL for one Amazon Transcribe stream."""

    lang: Lang | None = None  # absent: the deployment's (ko-KR)


class TranscribeStream(BaseModel):
    """The answer: where to open the stream, until when, and what to send on it."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    url: str  # wss://transcribestreaming.<region>.amazonaws.com:8443/stream-transcription-websocket?…
    expiresAt: int  # epoch seconds: the URL no longer opens a stream after this
    lang: str
    sampleRate: int  # PCM16 mono at this rate, in AudioEvents
    # Whether Transcribe marks stable items for this language (partial-results stabilization).
    stabilization: bool


class SpeechRequest(_Incoming):
    text: Annotated[str, StringConstraints(min_length=1, max_length=MAX_SPEECH_CHARS)]
    voice: Voice | None = None
    lang: Lang | None = None


class TurnInvocation(_Incoming):
    """An asynchronous invocation of the chat function (no client sends it): the invocation
    event is ``{KEY: this model}``, and the chat function dispatches on the key."""

    KEY: ClassVar[str]
    function: ClassVar[str] = "chat"

    def invocation_event(self) -> dict[str, Any]:
        return {self.KEY: self.model_dump()}


class PreemptiveTurn(TurnInvocation):
    """The transcripts function -> the chat function: answer this partial transcript and hold
    the answer until a page's ``chat`` adopts it."""

    KEY: ClassVar[str] = "preemptiveTurn"
    userId: Id
    answerId: Id
    text: Text


# API Gateway's connection ids are base64-like ("L0SM9cOFvHcCIhw="), not Ids.
ConnectionId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_=+/-]{1,128}$")]


class PageTurn(TurnInvocation):
    """The chat route's function -> the chat function: run this page's turn. The route has
    checked the message and the connection and claimed the turn id, and answered at once, so no
    turn outlives API Gateway's integration timeout."""

    KEY: ClassVar[str] = "pageTurn"
    userId: Id
    turnId: Id
    connectionId: ConnectionId
    text: Text
    # When the route received the chat (server ms): the turn's ledger starts there.
    receivedAt: EpochMs
    speechEndedAt: EpochMs | None = None


# ---- WebSocket: page -> server ------------------------------------------------------------------


class ClientAction(_Incoming):
    """A message a page sends; ``action`` picks the route and ``function`` serves it."""

    action: str
    function: ClassVar[str]

    @classmethod
    def name(cls) -> str:
        default = cls.model_fields["action"].default
        assert isinstance(default, str), f"{cls.__name__} must give action a default"
        return default


class ChatAction(ClientAction):
    # The route's function checks and claims the turn and hands it to the chat function.
    function: ClassVar[str] = "ws_chat"
    action: Literal["chat"] = "chat"
    turnId: Id
    text: Text


class CancelAction(ClientAction):
    function: ClassVar[str] = "ws_messages"
    action: Literal["cancel"] = "cancel"
    turnId: Id
    heard: Annotated[int, Field(ge=0, le=10_000)] | None = None


class ResumeAction(ClientAction):
    function: ClassVar[str] = "ws_messages"
    action: Literal["resume"] = "resume"
    # Redis stream ids look like "1700000000000-0"; anything else simply replays everything.
    after: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class PingAction(ClientAction):
    function: ClassVar[str] = "ws_messages"
    action: Literal["ping"] = "ping"


class TranscriptAction(ClientAction, TranscriptPost):
    """The page's own microphone (Amazon Transcribe in the browser): the same fields as a
    device's ``POST /api/transcripts``, on the page's signed-in connection, into the same relay
    (the transcripts function serves both)."""

    function: ClassVar[str] = "transcripts"
    action: Literal["transcript"] = "transcript"

    def post(self) -> TranscriptPost:
        return TranscriptPost.model_validate(self.model_dump(exclude={"action"}))


# The registry of page actions: each becomes a WebSocket route to its function. A new action's
# model is added here and nowhere else in the contract.
AnyClientAction = Annotated[
    ChatAction | CancelAction | ResumeAction | PingAction | TranscriptAction,
    Field(discriminator="action"),
]
CLIENT_ACTIONS: tuple[type[ClientAction], ...] = get_args(get_args(AnyClientAction)[0])


# ---- WebSocket: server -> page ------------------------------------------------------------------


class ServerEvent(BaseModel):
    """An event the server sends to a page. Optional fields that are None are left out."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    type: str


class TranscriptEvent(ServerEvent):
    type: Literal["transcript"] = "transcript"
    id: str
    utteranceId: str
    seq: int
    text: str
    final: bool
    lang: str | None = None
    # As the device posted them (TranscriptPost): pages may use them, older pages ignore them.
    stableChars: int | None = None
    speechStartedAt: int | None = None
    speechEndedAt: int | None = None
    recognizedAt: int | None = None


class TurnEvent(ServerEvent):
    """An event of one answer: the page's turn it belongs to."""

    turnId: str


class DeltaEvent(TurnEvent):
    type: Literal["delta"] = "delta"
    text: str


class SentenceEvent(TurnEvent):
    type: Literal["sentence"] = "sentence"
    index: int
    text: str


class AudioEvent(TurnEvent):
    type: Literal["audio"] = "audio"
    index: int
    format: Literal["ogg_vorbis"] = "ogg_vorbis"
    data: str  # complete, padded base64 of this part's bytes
    part: int  # 0, 1, … through the whole sentence
    last: bool  # the sentence's last part
    # A streamed sentence (docs/PROTOCOL.md, "Streamed sentences"): its audio is several whole
    # OGG files in order; ``piece`` is the file this part belongs to (0, 1, …) and ``pieceLast``
    # marks the part that ends it. Absent: the parts are byte ranges of one file, as before.
    piece: int | None = None
    pieceLast: bool | None = None


class DoneEvent(TurnEvent):
    type: Literal["done"] = "done"
    text: str
    interrupted: bool
    ledger: dict[str, int]


class ErrorEvent(ServerEvent):
    type: Literal["error"] = "error"
    code: str
    message: str
    turnId: str | None = None
    # Seconds until the same request may succeed (quota_exceeded: when the quota's window resets).
    retryAfter: int | None = None


class PongEvent(ServerEvent):
    type: Literal["pong"] = "pong"


SERVER_EVENTS: tuple[type[ServerEvent], ...] = (
    TranscriptEvent,
    DeltaEvent,
    SentenceEvent,
    AudioEvent,
    DoneEvent,
    ErrorEvent,
    PongEvent,
)


# ---- the local stack's browser microphone (``/mic``, docs/LOCAL.md) ---------------------------
# The page sends binary PCM16 frames and this text frame; the server answers with the events
# below, and with ErrorEvent (no turnId) when recognition or publishing fails.


class MicEnd(_Incoming):
    """The page's voice detector heard the utterance end."""

    type: Literal["end"]


class MicStatusEvent(ServerEvent):
    type: Literal["status"] = "status"
    state: Literal["loading", "listening"]


class MicUtteranceEvent(ServerEvent):
    """An utterance of the page's microphone was published as final."""

    type: Literal["utterance"] = "utterance"
    utteranceId: str
    final: bool


MIC_EVENTS: tuple[type[ServerEvent], ...] = (MicStatusEvent, MicUtteranceEvent, ErrorEvent)


# ---- GET /config.json ---------------------------------------------------------------------------


class PageConfig(BaseModel):
    """What the page reads at start: where the APIs are, and the deployment's defaults.

    The CDK app writes it next to the page; the local stack serves it (adding ``micUrl`` for its
    browser microphone and ``engines`` for the banner).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    apiBase: str = ""  # empty: the REST API is on the page's own origin
    wsUrl: str
    language: str
    voice: str
    accessCodeRequired: bool
    micUrl: str | None = None
    # The REST route that mints a pre-signed Amazon Transcribe streaming URL (the page's
    # microphone on AWS); when present the page uses it instead of micUrl.
    transcribeUrl: str | None = None
    engines: dict[str, str] | None = None
    # The server may hold an answer to a partial (PreemptionSettings): the page then asks on a
    # settled partial (every character stable, a finished sentence) instead of the final.
    preemptiveAnswers: bool | None = None
    # The page's interruption policy (contract/interruptions.py); absent: any partial interrupts.
    interruption: InterruptionConfig | None = None
    # The end-of-turn rule for the page's microphone (contract/endpointing.py); absent: fixed.
    endOfTurn: EndOfTurnConfig | None = None

    def body(self) -> dict[str, Any]:
        """The JSON document (fields the deployment does not have are left out)."""
        return self.model_dump(exclude_none=True)
