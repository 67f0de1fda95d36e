import base64
import json

import pytest

from voicebot.errors import ApiError
from voicebot.protocol import (
    MAX_WS_MESSAGE_BYTES,
    TranscriptPost,
    audio_events,
    encode_event,
    parse_client_action,
    parse_json_object,
    parse_model,
)
from voicebot.ssml import to_ssml


def test_audio_is_split_into_parts_under_the_frame_limit_and_reassembles():
    audio = bytes(range(256)) * 1200  # ~300 KB
    events = audio_events("turn-1", 3, audio)
    assert len(events) > 1
    assert [e.part for e in events] == list(range(len(events)))
    assert [e.last for e in events] == [False] * (len(events) - 1) + [True]
    assert all(len(encode_event(e)) <= MAX_WS_MESSAGE_BYTES for e in events)
    assert b"".join(base64.b64decode(e.data, validate=True) for e in events) == audio


def test_small_audio_is_one_part():
    (event,) = audio_events("t", 0, b"OggS")
    assert event.part == 0 and event.last is True and event.format == "ogg_vorbis"


@pytest.mark.parametrize(
    "body",
    [
        {"utteranceId": "u1", "seq": "1", "text": "x", "final": False},
        {"utteranceId": "u1", "seq": 1, "text": "x", "final": 1},
        {"utteranceId": "u1", "seq": -1, "text": "x", "final": False},
        {"utteranceId": "u1", "seq": 2**53, "text": "x", "final": False},
        {"utteranceId": "u 1", "seq": 1, "text": "x", "final": False},
        {"utteranceId": "u" * 65, "seq": 1, "text": "x", "final": False},
        {"utteranceId": "u1", "seq": 1, "text": "", "final": False},
        {"utteranceId": "u1", "seq": 1, "text": "x" * 2001, "final": False},
        {"utteranceId": "u1", "seq": 1, "text": "x", "final": False, "lang": "not a lang"},
        {"seq": 1, "text": "x", "final": False},
        {"utteranceId": "u1", "seq": 1.5, "text": "x", "final": False},
        {"utteranceId": "u1", "seq": True, "text": "x", "final": False},
    ],
)
def test_transcript_posts_out_of_range_or_of_the_wrong_type_are_400(body):
    with pytest.raises(ApiError) as err:
        parse_model(TranscriptPost, body)
    assert err.value.status == 400


def test_unknown_fields_are_ignored_as_the_protocol_allows():
    post = parse_model(
        TranscriptPost,
        {"utteranceId": "u1", "seq": 0, "text": "안녕", "final": True, "lang": "ko-KR", "x": 1},
    )
    assert post.text == "안녕"


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"{", 400),
        (b"[1]", 400),
        (b"", 400),
        (b"\xff\xfe", 400),
        (b'{"a":"' + b"x" * 70000 + b'"}', 413),
    ],
)
def test_malformed_bodies(raw, status):
    with pytest.raises(ApiError) as err:
        parse_json_object(raw, max_bytes=65536)
    assert err.value.status == status


@pytest.mark.parametrize(
    "message",
    [
        "{",
        json.dumps({"action": "dance"}),
        json.dumps({"action": "chat", "turnId": "t1"}),
        json.dumps({"action": "chat", "turnId": "t/1", "text": "hi"}),
        json.dumps({"action": "cancel", "turnId": "t1", "heard": -1}),
        json.dumps({"action": "resume"}),
    ],
)
def test_bad_websocket_messages_are_protocol_errors(message):
    with pytest.raises(ApiError) as err:
        parse_client_action(message, max_bytes=65536)
    assert err.value.status == 400


def test_ssml_metacharacters_are_escaped():
    assert to_ssml("<break time=\"9s\"/> & 'q'") == (
        "<speak>&lt;break time=&quot;9s&quot;/&gt; &amp; &apos;q&apos;</speak>"
    )
    assert to_ssml("a\x00b\x07c") == "<speak>abc</speak>"
