import threading
import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.fakes.audio import duration_seconds, is_ogg_vorbis
from tests.fakes.polly_server import FakePolly


def synth(client: Any, text: str, text_type: str = "ssml") -> dict[str, Any]:
    return client.synthesize_speech(
        Text=text, TextType=text_type, VoiceId="Seoyeon", OutputFormat="ogg_vorbis", Engine="neural"
    )


def test_ssml_synthesis_returns_decodable_ogg_vorbis() -> None:
    with FakePolly() as fp:
        client = boto3.client(
            "polly",
            endpoint_url=fp.url,
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",
        )
        resp = client.synthesize_speech(
            Text="<speak>안녕 &amp; bye</speak>",
            TextType="ssml",
            VoiceId="Seoyeon",
            OutputFormat="ogg_vorbis",
            Engine="neural",
            LanguageCode="ko-KR",
        )
        audio = resp["AudioStream"].read()
    assert resp["ContentType"] == "audio/ogg"
    assert resp["RequestCharacters"] == len("안녕 & bye")  # markup is not billed
    assert is_ogg_vorbis(audio)
    req = fp.last_request
    assert (
        req.text,
        req.text_type,
        req.voice_id,
        req.output_format,
        req.engine,
        req.language_code,
    ) == (
        "<speak>안녕 &amp; bye</speak>",
        "ssml",
        "Seoyeon",
        "ogg_vorbis",
        "neural",
        "ko-KR",
    )
    assert req.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=x/")
    assert req.outcome == "ok"


@pytest.mark.parametrize(
    "bad",
    ["<speak>a & b</speak>", "<speak>열린 태그", "<p>not speak</p>", "plain"],
)
def test_malformed_ssml_is_rejected(bad: str) -> None:
    with FakePolly() as fp, pytest.raises(ClientError) as info:
        synth(fp.client("polly"), bad)
    err = info.value.response
    assert err["Error"]["Code"] == "InvalidSsmlException"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
    # Modeled error, so callers can catch client.exceptions.InvalidSsmlException.
    assert type(info.value).__name__ == "InvalidSsmlException"
    assert len(fp.requests) == 1  # not retried
    assert fp.last_request.outcome == "invalid_ssml"


def test_plain_text_is_not_parsed_as_xml() -> None:
    with FakePolly() as fp:
        resp = synth(fp.client("polly"), "a & b < c", text_type="text")
        assert is_ogg_vorbis(resp["AudioStream"].read())


def test_duration_scales_with_text_and_is_capped() -> None:
    with FakePolly(ms_per_char=60, max_seconds=3.0) as fp:
        client = fp.client("polly")
        short = synth(client, "<speak>" + "가" * 10 + "</speak>")["AudioStream"].read()
        long = synth(client, "<speak>" + "가" * 20 + "</speak>")["AudioStream"].read()
        huge = synth(client, "<speak>" + "가" * 500 + "</speak>")["AudioStream"].read()
    assert duration_seconds(short) == pytest.approx(0.6, abs=0.01)
    assert duration_seconds(long) == pytest.approx(1.2, abs=0.01)
    assert duration_seconds(huge) == pytest.approx(3.0, abs=0.01)


def test_throttled_request_is_retried_then_succeeds() -> None:
    with FakePolly(throttle_first_n=1) as fp:
        resp = synth(fp.client("polly"), "<speak>재시도</speak>")
        assert is_ogg_vorbis(resp["AudioStream"].read())
    assert [r.outcome for r in fp.requests] == ["throttled", "ok"]


def test_throttling_error_shape() -> None:
    with FakePolly(throttle_first_n=5) as fp, pytest.raises(ClientError) as info:
        synth(fp.client("polly", max_attempts=1), "<speak>x</speak>")
    assert info.value.response["Error"]["Code"] == "ThrottlingException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_outage_returns_service_failure_after_retries() -> None:
    with FakePolly(fail_all=True) as fp, pytest.raises(ClientError) as info:
        synth(fp.client("polly", max_attempts=2), "<speak>x</speak>")
    assert info.value.response["Error"]["Code"] == "ServiceFailureException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    # 500 is retried as a transient error; total_max_attempts counts the first try
    # (retries={"max_attempts": N} would mean N *retries*, i.e. N + 1 requests).
    assert len(fp.requests) == 2


def test_delay_callable_lets_a_later_sentence_finish_first() -> None:
    delays = {"첫 문장입니다.": 0.3, "둘째.": 0.0}
    with FakePolly(delay=lambda text: delays[text]) as fp:
        client = fp.client("polly")
        finished: list[str] = []
        lock = threading.Lock()

        def run(text: str) -> None:
            synth(client, text, text_type="text")["AudioStream"].read()
            with lock:
                finished.append(text)

        first = threading.Thread(target=run, args=("첫 문장입니다.",))
        first.start()
        time.sleep(0.05)
        second = threading.Thread(target=run, args=("둘째.",))
        second.start()
        first.join()
        second.join()
    assert finished == ["둘째.", "첫 문장입니다."]
    assert [r.text for r in fp.requests] == ["첫 문장입니다.", "둘째."]
