"""A valid speech request never becomes a Polly error: Polly's 6,000-character limit is measured
on the Text actually sent, escaping included (on main, 1,500 quotes were sent as 9,015 characters
of SSML and refused: a 400 for a valid request).

The fake Polly enforces both of SynthesizeSpeech's limits: 6,000 characters of Text in all
(tags and entities included) and 3,000 billed characters.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.audio import is_ogg_vorbis
from tests.fakes.polly_server import MAX_TEXT_CHARACTERS, FakePolly, spoken_text
from tests.handlers import conftest as handler_harness
from tests.handlers.conftest import Api
from voicebot.adapters.polly import MAX_BILLED_CHARS, MAX_REQUEST_CHARS, polly_text
from voicebot.contract.wire import MAX_SPEECH_CHARS
from voicebot.errors import ApiError

api, environment = handler_harness.api, handler_harness.environment
recorder, bedrock, polly = handler_harness.recorder, handler_harness.bedrock, handler_harness.polly

# Each is a valid request (1..1500 characters) whose escaped SSML exceeds 6,000 characters,
# or comes close to it.
TEXTS = {
    "quotes": '"' * MAX_SPEECH_CHARS,
    "apostrophes": "'" * MAX_SPEECH_CHARS,
    "ampersands": "&" * MAX_SPEECH_CHARS,
    "less-than": "<" * MAX_SPEECH_CHARS,
    "greater-than": ">" * MAX_SPEECH_CHARS,
    "markup": '<b a="1">&amp;</b>' * (MAX_SPEECH_CHARS // 18),
    "korean and quotes": '그는 "네"라고 했다. ' * (MAX_SPEECH_CHARS // 15),
    "emoji and ampersands": "😀&" * (MAX_SPEECH_CHARS // 2),
    "just fits as ssml": "&" * ((MAX_REQUEST_CHARS - len("<speak></speak>")) // 5),
}


def test_the_fake_refuses_text_over_6000_characters_even_if_few_are_billed() -> None:
    from botocore.exceptions import ClientError

    with FakePolly() as fp, pytest.raises(ClientError) as info:
        fp.client("polly").synthesize_speech(
            Text="<speak>" + "&quot;" * 1000 + "</speak>",  # 6,013 characters, 1,000 billed
            TextType="ssml",
            VoiceId="Seoyeon",
            OutputFormat="ogg_vorbis",
        )
    assert info.value.response["Error"]["Code"] == "TextLengthExceededException"


@pytest.mark.parametrize("text", TEXTS.values(), ids=TEXTS.keys())
def test_valid_speech_requests_are_spoken_whatever_their_escaping(
    api: Api, polly: Any, text: str
) -> None:
    before = len(polly.requests)
    response = api.rest("POST", "/api/speech", token=api.session()["token"], body={"text": text})
    assert response.status == 200, response.body
    assert is_ogg_vorbis(response.body)
    (sent,) = polly.requests[before:]
    assert sent.outcome == "ok"
    assert len(sent.text.encode("utf-16-le")) // 2 <= MAX_TEXT_CHARACTERS
    assert spoken_text(sent.text, sent.text_type) == text  # every character is spoken, as text


def test_text_that_fits_is_still_sent_as_escaped_ssml() -> None:
    assert polly_text('a "b" & <c>') == ("<speak>a &quot;b&quot; &amp; &lt;c&gt;</speak>", "ssml")
    assert polly_text("&" * MAX_SPEECH_CHARS) == ("&" * MAX_SPEECH_CHARS, "text")


def test_text_no_request_can_hold_is_a_400_before_polly() -> None:
    # Not reachable through the API (1,500 characters, sentences of at most 160), but the port
    # takes any text: it is refused as bad input, never sent.
    with pytest.raises(ApiError) as refused:
        polly_text("&" * (MAX_BILLED_CHARS + 1))
    assert (refused.value.status, refused.value.code) == (400, "bad_request")
