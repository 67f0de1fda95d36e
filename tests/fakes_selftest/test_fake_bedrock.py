import asyncio
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest
from botocore.eventstream import EventStreamBuffer
from botocore.exceptions import ClientError, EventStreamError
from langchain_core.messages import HumanMessage, SystemMessage

from tests.fakes.bedrock_server import FakeBedrock, split_tokens
from tests.fakes.eventstream import event_message, exception_message

if TYPE_CHECKING:
    from langchain_aws import ChatBedrockConverse

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
ANSWER = "안녕하세요! 오늘 날씨는 맑고 따뜻합니다. 더 궁금한 점이 있으신가요?"


def make_llm(fb: FakeBedrock, **kwargs: Any) -> "ChatBedrockConverse":
    # Imported here, not at collection: langchain_aws takes ~3 s to import, in every xdist worker.
    from langchain_aws import ChatBedrockConverse

    return ChatBedrockConverse(model_id=MODEL, **fb.client_options(), **kwargs)


def chunk_texts(chunks: list[Any]) -> list[str]:
    return [c.text for c in chunks if c.text]


def test_encoder_frames_decode_with_botocore() -> None:
    buf = EventStreamBuffer()
    buf.add_data(
        event_message("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "한글"}})
    )
    buf.add_data(exception_message("modelStreamErrorException", "boom"))
    messages: list[Any] = list(buf)  # iterating validates prelude and message CRCs
    first, second = messages
    assert first.headers == {
        ":event-type": "contentBlockDelta",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    assert "한글" in first.payload.decode()
    assert second.headers[":message-type"] == "exception"
    assert second.headers[":exception-type"] == "modelStreamErrorException"


def test_split_tokens_keeps_text_and_hangul_intact() -> None:
    for mode in (1, 3, "words"):
        tokens = split_tokens(ANSWER, mode)
        assert "".join(tokens) == ANSWER
    assert split_tokens("안녕 하세요 ", "words") == ["안녕 ", "하세요 "]
    assert split_tokens("안녕하세요", 2) == ["안녕", "하세", "요"]


def test_stream_yields_tokens_in_order() -> None:
    with FakeBedrock(answer=ANSWER, tokenize="words") as fb:
        chunks = list(make_llm(fb).stream("안녕"))
    assert chunk_texts(chunks) == split_tokens(ANSWER, "words")
    assert any(c.usage_metadata for c in chunks)  # metadata event parsed
    assert fb.last_request.outcome == "ok"


def test_first_chunk_arrives_before_stream_ends() -> None:
    with FakeBedrock(
        answer="하나 둘 셋 넷 다섯 여섯",
        tokenize="words",
        first_token_delay=0.05,
        token_interval=0.1,
    ) as fb:
        llm = make_llm(fb)  # client construction is slow; keep it out of the timing
        start = time.monotonic()
        arrivals = [time.monotonic() - start for c in llm.stream("count") if c.text]
        total = time.monotonic() - start
    assert len(arrivals) == 6
    assert arrivals[0] < 0.3
    assert total - arrivals[0] >= 0.4  # 5 more tokens at 100 ms each were still to come
    assert arrivals[-1] - arrivals[0] >= 0.4  # spread out, not delivered in one burst


def test_request_carries_system_messages_and_inference_config() -> None:
    with FakeBedrock() as fb:
        llm = make_llm(fb, temperature=0.2, max_tokens=123)
        list(llm.stream([SystemMessage("너는 친절한 상담원이다."), HumanMessage("배송 조회해 줘")]))
    req = fb.last_request
    assert req.operation == "converse-stream"
    assert req.model_id == MODEL  # decoded from the URL-encoded path
    assert "%3A" in req.path
    assert req.system_text == "너는 친절한 상담원이다."
    assert req.messages == [{"role": "user", "content": [{"text": "배송 조회해 줘"}]}]
    assert req.last_user_text == "배송 조회해 줘"
    assert req.inference_config == {"maxTokens": 123, "temperature": 0.2}
    assert req.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=x/")
    assert "/us-east-1/bedrock/aws4_request" in req.headers["authorization"]


def test_throttled_request_is_retried_then_succeeds() -> None:
    with FakeBedrock(answer="재시도 성공", throttle_first_n=1) as fb:
        text = "".join(chunk_texts(list(make_llm(fb).stream("hi"))))
    assert text == "재시도 성공"
    assert [r.outcome for r in fb.requests] == ["throttled", "ok"]
    assert fb.requests[0].body == fb.requests[1].body


def test_throttling_error_is_modeled_client_error() -> None:
    with FakeBedrock(throttle_first_n=10) as fb:
        client = fb.client("bedrock-runtime", max_attempts=1)
        with pytest.raises(ClientError) as info:
            client.converse_stream(
                modelId=MODEL, messages=[{"role": "user", "content": [{"text": "hi"}]}]
            )
    assert info.value.response["Error"]["Code"] == "ThrottlingException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert type(info.value).__name__ == "ThrottlingException"


def test_astream() -> None:
    async def collect(fb: FakeBedrock) -> list[str]:
        return [c.text async for c in make_llm(fb).astream("hi") if c.text]

    with FakeBedrock(answer=ANSWER, tokenize=5) as fb:
        assert asyncio.run(collect(fb)) == split_tokens(ANSWER, 5)


def test_invoke_uses_converse() -> None:
    with FakeBedrock(answer=ANSWER) as fb:
        assert make_llm(fb).invoke("hi").content == ANSWER
    assert fb.last_request.operation == "converse"


@pytest.mark.parametrize("failure", ["modelStreamErrorException", "throttlingException"])
def test_fail_mid_stream_raises_event_stream_error(failure: Any) -> None:
    with FakeBedrock(
        answer="하나 둘 셋", tokenize="words", fail_mid_stream=failure, fail_after_tokens=2
    ) as fb:
        resp = fb.client("bedrock-runtime").converse_stream(
            modelId=MODEL, messages=[{"role": "user", "content": [{"text": "hi"}]}]
        )
        seen: list[str] = []
        with pytest.raises(EventStreamError) as info:
            for event in resp["stream"]:
                if "contentBlockDelta" in event:
                    seen.append(event["contentBlockDelta"]["delta"]["text"])
    assert seen == ["하나 ", "둘 "]
    assert info.value.response["Error"]["Code"] == failure
    assert fb.last_request.outcome == "failed_mid_stream"


def test_gate_holds_the_stream_open() -> None:
    gate = threading.Event()
    with FakeBedrock(answer="가 나 다", tokenize="words", gate=gate, gate_after_tokens=1) as fb:
        resp = fb.client("bedrock-runtime").converse_stream(
            modelId=MODEL, messages=[{"role": "user", "content": [{"text": "hi"}]}]
        )
        texts: list[str] = []
        done = threading.Event()

        def consume() -> None:
            for event in resp["stream"]:
                if "contentBlockDelta" in event:
                    texts.append(event["contentBlockDelta"]["delta"]["text"])
            done.set()

        threading.Thread(target=consume, daemon=True).start()
        deadline = time.monotonic() + 2
        while not texts and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # time enough for more tokens, were the gate not holding them
        assert texts == ["가 "] and not done.is_set()
        assert fb.last_request.outcome == "pending"
        gate.set()
        assert done.wait(2)
    assert texts == ["가 ", "나 ", "다"]


def test_stop_releases_a_held_stream_promptly() -> None:
    fb = FakeBedrock(gate=threading.Event()).start()
    resp = fb.client("bedrock-runtime").converse_stream(
        modelId=MODEL, messages=[{"role": "user", "content": [{"text": "hi"}]}]
    )
    start = time.monotonic()
    fb.stop()
    assert time.monotonic() - start < 1.0
    with pytest.raises(Exception):  # noqa: B017 - the exact urllib3/botocore error varies
        list(resp["stream"])
    assert fb.requests[0].outcome == "aborted"


def test_script_answers_in_order_and_callable_answer() -> None:
    with FakeBedrock(
        script=["첫 번째", lambda body: "에코: " + body["messages"][-1]["content"][0]["text"]]
    ) as fb:
        llm = make_llm(fb)
        assert llm.invoke("a").content == "첫 번째"
        assert llm.invoke("둘").content == "에코: 둘"
        assert llm.invoke("셋").content == "에코: 셋"  # last entry repeats


def test_client_disconnect_is_recorded() -> None:
    with FakeBedrock(answer="가" * 200, tokenize=1, token_interval=0.005) as fb:
        resp = fb.client("bedrock-runtime").converse_stream(
            modelId=MODEL, messages=[{"role": "user", "content": [{"text": "hi"}]}]
        )
        stream = resp["stream"]
        for event in stream:
            if "contentBlockDelta" in event:
                break
        stream.close()  # barge-in: the caller abandons the stream
        deadline = time.monotonic() + 2
        while fb.last_request.outcome == "pending" and time.monotonic() < deadline:
            time.sleep(0.02)
    assert fb.last_request.outcome == "client_disconnected"
    assert fb.last_request.tokens_sent < 200


def test_concurrent_streams() -> None:
    with FakeBedrock(answer="병렬 스트림 테스트", tokenize=2, token_interval=0.1) as fb:
        llm = make_llm(fb)
        results: list[str] = []

        def run() -> None:
            results.append("".join(chunk_texts(list(llm.stream("hi")))))

        threads = [threading.Thread(target=run) for _ in range(4)]
        start = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - start
    assert results == ["병렬 스트림 테스트"] * 4
    assert elapsed < 1.2  # served in parallel: 4 sequential streams would take >= 1.6 s
