"""Chat turns over the real handler: Bedrock ConverseStream (wire fake), Polly (wire fake)."""

import base64
import io
import json
import threading
import time

import soundfile

FIVE = "첫째 문장입니다. 둘째 문장입니다. 셋째 문장입니다. 넷째 문장입니다. 다섯째 문장입니다."


def types(events):
    return [e["type"] for e in events]


def audio_bytes(events, index):
    parts = [e for e in events if e["type"] == "audio" and e["index"] == index]
    assert [p["part"] for p in parts] == list(range(len(parts))) and parts[-1]["last"]
    return b"".join(base64.b64decode(p["data"]) for p in parts)


def test_a_turn_follows_the_protocol_order_and_speaks_real_ogg(api, polly):
    session = api.session()
    page = api.page(session["token"])
    api.send(page, {"action": "chat", "turnId": "t1", "text": "안녕?"})
    events = api.wait_done(page, "t1")

    assert events[-1]["type"] == "done" and types(events).count("done") == 1
    sentences = [e for e in events if e["type"] == "sentence"]
    assert [s["index"] for s in sentences] == [0, 1]
    assert "".join(e["text"] for e in events if e["type"] == "delta") == "안녕하세요. 반갑습니다."
    for s in sentences:  # sentence i before audio i, audio in index order
        first_audio = next(
            i for i, e in enumerate(events) if e["type"] == "audio" and e["index"] == s["index"]
        )
        assert events.index(s) < first_audio
    audio_indexes = [e["index"] for e in events if e["type"] == "audio"]
    assert audio_indexes == sorted(audio_indexes)
    data, rate = soundfile.read(io.BytesIO(audio_bytes(events, 0)))
    assert rate > 0 and len(data) > 0
    done = events[-1]
    assert done["text"] == "안녕하세요. 반갑습니다." and done["interrupted"] is False
    ledger = done["ledger"]
    assert ledger["received"] <= ledger["firstToken"] <= ledger["firstSentence"]
    assert ledger["firstSentence"] <= ledger["firstAudio"] <= ledger["done"]
    assert polly.last_request.body["VoiceId"] == "Seoyeon"
    assert polly.last_request.body["OutputFormat"] == "ogg_vorbis"
    assert polly.last_request.body["Engine"] == "neural"


def test_deltas_are_batched_not_per_character(api, bedrock):
    bedrock.answer, bedrock.tokenize = "가나다라마바사아자차카타파하 " * 10, 1
    page = api.page(api.session()["token"])
    api.send(page, {"action": "chat", "turnId": "t1", "text": "길게"})
    deltas = [e for e in api.wait_done(page, "t1") if e["type"] == "delta"]
    assert len(deltas) < len(bedrock.answer) / 4
    assert "".join(d["text"] for d in deltas) == bedrock.answer


def test_the_first_audio_is_sent_while_the_model_is_still_streaming(api, bedrock):
    bedrock.answer, bedrock.tokenize, bedrock.token_interval = FIVE, 4, 0.05  # ~1.1 s of stream
    page = api.page(api.session()["token"])
    api.send(page, {"action": "chat", "turnId": "t1", "text": "다섯 문장"})
    api.wait_done(page, "t1")
    timed = [(t, e) for t, e in api.timed(page) if e.get("turnId") == "t1"]

    first_audio = next(t for t, e in timed if e["type"] == "audio")
    last_delta = max(t for t, e in timed if e["type"] == "delta")
    assert first_audio < last_delta - 0.3
    assert bedrock.requests[-1].finished_at is not None


def test_audio_stays_in_sentence_order_when_a_later_sentence_synthesizes_first(api, bedrock, polly):
    bedrock.answer = FIVE
    polly.delay = lambda text: 0.6 if "첫째" in text else 0.0
    page = api.page(api.session()["token"])
    api.send(page, {"action": "chat", "turnId": "t1", "text": "순서"})
    events = api.wait_done(page, "t1")

    finished = {r.text: r.finished_at for r in polly.requests if "째" in r.text}
    first = next(v for k, v in finished.items() if "첫째" in k)
    assert sum(1 for v in finished.values() if v < first) >= 2  # later ones really were faster
    indexes = [e["index"] for e in events if e["type"] == "audio" and e["last"]]
    assert indexes == [0, 1, 2, 3, 4]


def test_the_model_sees_the_system_prompt_the_history_window_and_settings(
    api, bedrock, environment
):
    environment.set(SYSTEM_PROMPT="짧게 답하세요.", CHAT_MAX_TOKENS="99", HISTORY_WINDOW_TURNS="1")
    page = api.page(api.session()["token"])
    for n, text in enumerate(["하나", "둘", "셋"]):
        bedrock.answer = f"대답 {n}."
        api.send(page, {"action": "chat", "turnId": f"t{n}", "text": text})
        api.wait_done(page, f"t{n}")

    request = bedrock.requests[-1]
    assert request.system_text == "짧게 답하세요."
    assert request.inference_config["maxTokens"] == 99
    said = [(m["role"], m["content"][0]["text"]) for m in request.messages]
    assert said == [("user", "둘"), ("assistant", "대답 1."), ("user", "셋")]
    assert "anthropic.claude-3-haiku" in request.model_id


def test_cancel_stops_a_streaming_turn_and_the_stored_turn_is_interrupted(api, bedrock):
    bedrock.answer, bedrock.tokenize, bedrock.token_interval = FIVE * 4, 4, 0.05  # ~4 s of stream
    session = api.session()
    page = api.page(session["token"])
    turn = api.send_in_background(page, {"action": "chat", "turnId": "t1", "text": "길게"})
    api.wait_for(page, lambda m: any(e["type"] == "audio" for e in m))
    api.send(page, {"action": "cancel", "turnId": "t1", "heard": 1})
    cancelled_at = time.monotonic()
    events = api.wait_done(page, "t1", timeout=5)
    turn.join(5)

    done = events[-1]
    assert done["interrupted"] is True
    assert time.monotonic() - cancelled_at < 1.0
    assert len(done["text"]) < len(FIVE * 4)
    late = [t for t, e in api.timed(page) if e["type"] == "delta" and t > cancelled_at + 0.2]
    assert len(late) <= 1  # stops within one token batch
    history = api.rest("GET", "/api/history", token=session["token"]).json()["turns"]
    assert history[-1]["interrupted"] is True
    assert history[-1]["assistant"] == "첫째 문장입니다."  # what was heard: one sentence


def test_cancel_without_heard_stores_what_was_generated(api, bedrock):
    bedrock.answer, bedrock.token_interval = FIVE * 4, 0.05
    session = api.session()
    page = api.page(session["token"])
    api.send_in_background(page, {"action": "chat", "turnId": "t1", "text": "길게"})
    api.wait_for(page, lambda m: any(e["type"] == "sentence" for e in m))
    api.send(page, {"action": "cancel", "turnId": "t1"})
    done = api.wait_done(page, "t1")[-1]
    history = api.rest("GET", "/api/history", token=session["token"]).json()["turns"]
    assert history[-1]["assistant"] == done["text"] and history[-1]["interrupted"] is True


def test_a_cancel_that_arrives_before_the_turn_ends_it_at_once(api, bedrock):
    page = api.page(api.session()["token"])
    api.send(page, {"action": "cancel", "turnId": "early"})
    api.send(page, {"action": "chat", "turnId": "early", "text": "hi"})
    events = api.wait_done(page, "early")
    assert types(events) == ["done"] and events[0]["interrupted"] is True


def test_a_cancel_for_an_unknown_or_finished_turn_is_ignored(api):
    page = api.page(api.session()["token"])
    api.send(page, {"action": "chat", "turnId": "t1", "text": "hi"})
    api.wait_done(page, "t1")
    before = len(api.received(page))
    api.send(page, {"action": "cancel", "turnId": "t1"})
    api.send(page, {"action": "cancel", "turnId": "nope"})
    time.sleep(0.2)
    assert len(api.received(page)) == before


def test_a_page_that_goes_away_stops_its_turn(api, bedrock):
    bedrock.answer, bedrock.token_interval = FIVE * 4, 0.05
    page = api.page(api.session()["token"])
    turn = api.send_in_background(page, {"action": "chat", "turnId": "t1", "text": "길게"})
    api.wait_for(page, lambda m: any(e["type"] == "delta" for e in m))
    api.recorder.gone.add(page)
    turn.join(3)
    assert not turn.is_alive()
    # The turn stopped reading the model long before the answer's ~40 tokens were streamed.
    assert bedrock.requests[-1].tokens_sent < len(FIVE * 4) / 4 / 2


def test_bedrock_throttling_is_retried_then_answered(api, bedrock, quick_retries):
    bedrock.throttle_first_n = 2
    page = api.page(api.session()["token"])
    api.send(page, {"action": "chat", "turnId": "t1", "text": "hi"})
    events = api.wait_done(page, "t1")
    assert "error" not in types(events)
    assert events[-1]["text"] == "안녕하세요. 반갑습니다."


def test_persistent_throttling_becomes_an_error_event_then_done(api, bedrock, quick_retries):
    bedrock.throttle_first_n = 100
    page = api.page(api.session()["token"])
    api.send(page, {"action": "chat", "turnId": "t1", "text": "hi"})
    events = api.wait_done(page, "t1", timeout=30)
    error = next(e for e in events if e["type"] == "error")
    assert error["code"] == "throttled" and error["turnId"] == "t1"
    assert "Traceback" not in error["message"] and events[-1]["type"] == "done"


def test_a_stream_that_breaks_mid_answer_ends_with_an_error_and_keeps_what_was_said(api, bedrock):
    bedrock.answer, bedrock.fail_mid_stream, bedrock.fail_after_tokens = (
        FIVE,
        "modelStreamErrorException",
        6,
    )
    page = api.page(api.session()["token"])
    api.send(page, {"action": "chat", "turnId": "t1", "text": "hi"})
    events = api.wait_done(page, "t1")
    assert [e["code"] for e in events if e["type"] == "error"] == ["provider_error"]
    assert events[-1]["type"] == "done" and events[-1]["text"]


def test_a_speech_outage_is_reported_per_sentence_and_the_text_still_arrives(api, polly):
    polly.fail_all = True
    page = api.page(api.session()["token"])
    api.send(page, {"action": "chat", "turnId": "t1", "text": "hi"})
    events = api.wait_done(page, "t1", timeout=30)
    assert "audio" not in types(events)
    assert types(events).count("error") == 2 and events[-1]["text"] == "안녕하세요. 반갑습니다."


def test_markup_in_the_answer_is_escaped_for_polly_and_sent_as_text(api, bedrock, polly):
    import xml.etree.ElementTree as ET

    bedrock.answer = '<speak><break time="10s"/></speak> R&D "팀" <img src=x onerror=alert(1)>. 끝.'
    page = api.page(api.session()["token"])
    api.send(page, {"action": "chat", "turnId": "t1", "text": "<b>hi</b>"})
    events = api.wait_done(page, "t1")
    assert "audio" in types(events) and "error" not in types(events)
    # The speakable step drops tags before synthesis; what is left is escaped, never markup.
    ssml = next(r.text for r in polly.requests if "R&amp;D" in r.text)
    assert "&quot;팀&quot;" in ssml and "break" not in ssml and "img" not in ssml
    assert all(len(ET.fromstring(r.text)) == 0 for r in polly.requests)
    assert (
        events[-1]["text"] == bedrock.answer
    )  # JSON carries it as text; the page must not parse it


def test_long_sentence_audio_is_split_into_messages_under_the_limit(api, bedrock, polly):
    polly.max_seconds, polly.ms_per_char = 30.0, 2000.0  # ~30 s of OGG, several hundred KB
    bedrock.answer = "아주 긴 문장을 말합니다."
    page = api.page(api.session()["token"])
    api.send(page, {"action": "chat", "turnId": "t1", "text": "hi"})
    events = api.wait_done(page, "t1", timeout=30)
    polly.max_seconds, polly.ms_per_char = 3.0, 60.0
    parts = [e for e in events if e["type"] == "audio"]
    assert len(parts) > 1
    wire = [json.dumps(p, ensure_ascii=False, separators=(",", ":")).encode() for p in parts]
    assert all(len(message) <= 102_400 for message in wire)
    soundfile.read(io.BytesIO(audio_bytes(events, 0)))


def test_two_turns_of_one_user_on_two_pages_go_only_to_the_page_that_asked(api):
    session = api.session()
    asker, other = api.page(session["token"]), api.page(session["token"])
    api.send(page := asker, {"action": "chat", "turnId": "t1", "text": "hi"})
    api.wait_done(page, "t1")
    assert api.received(other) == []


def test_concurrent_turns_do_not_mix(api, bedrock):
    bedrock.token_interval = 0.01
    pages = [api.page(api.session()["token"]) for _ in range(5)]
    threads = [
        api.send_in_background(p, {"action": "chat", "turnId": f"t{i}", "text": "hi"})
        for i, p in enumerate(pages)
    ]
    for t in threads:
        t.join(20)
    for i, page in enumerate(pages):
        events = api.wait_done(page, f"t{i}")
        assert {e.get("turnId") for e in api.received(page)} == {f"t{i}"}
        assert events[-1]["text"] == "안녕하세요. 반갑습니다."


_ = threading  # threads are started through api.send_in_background


def test_a_turn_id_is_answered_once_even_when_two_pages_ask(api, bedrock):
    session = api.session()
    first, second = api.page(session["token"]), api.page(session["token"])
    api.send(first, {"action": "chat", "turnId": "v-1", "text": "hi"})
    api.wait_done(first, "v-1")
    requests = len(bedrock.requests)
    api.send(second, {"action": "chat", "turnId": "v-1", "text": "hi"})
    (error,) = api.received(second)
    assert (error["type"], error["code"], error["turnId"]) == ("error", "duplicate_turn", "v-1")
    assert len(bedrock.requests) == requests
    history = api.rest("GET", "/api/history", token=session["token"]).json()["turns"]
    assert [t["turnId"] for t in history] == ["v-1"]


def test_a_cancel_after_the_answer_was_stored_keeps_what_was_heard(api, bedrock):
    # Playback outlasts generation: the user interrupts while sentence 2 of 5 is playing.
    bedrock.answer = FIVE
    session = api.session()
    page = api.page(session["token"])
    api.send(page, {"action": "chat", "turnId": "t1", "text": "다섯 문장"})
    assert api.wait_done(page, "t1")[-1]["interrupted"] is False
    before = len(api.received(page))

    api.send(page, {"action": "cancel", "turnId": "t1", "heard": 2})

    assert len(api.received(page)) == before  # ignored on the wire, as the protocol says
    (turn,) = api.rest("GET", "/api/history", token=session["token"]).json()["turns"]
    assert turn["interrupted"] is True
    assert turn["assistant"] == "첫째 문장입니다. 둘째 문장입니다."


def test_a_late_cancel_without_heard_or_for_another_users_turn_changes_nothing(api):
    alice, bob = api.session(), api.session()
    alice_page, bob_page = api.page(alice["token"]), api.page(bob["token"])
    api.send(alice_page, {"action": "chat", "turnId": "t1", "text": "hi"})
    api.wait_done(alice_page, "t1")
    api.send(alice_page, {"action": "cancel", "turnId": "t1"})
    api.send(bob_page, {"action": "cancel", "turnId": "t1", "heard": 0})
    (turn,) = api.rest("GET", "/api/history", token=alice["token"]).json()["turns"]
    assert turn["interrupted"] is False and turn["assistant"] == "안녕하세요. 반갑습니다."


def test_the_first_sound_waits_for_a_clause_and_heard_counts_spoken_segments(api, bedrock):
    # The first segment ends at the clause's comma; the rest are whole sentences.
    bedrock.answer = "오늘 서울은 대체로 맑고, 낮 기온은 십팔 도까지 오르겠습니다. 비는 없어요."
    session = api.session()
    page = api.page(session["token"])
    api.send(page, {"action": "chat", "turnId": "t1", "text": "날씨"})
    events = api.wait_done(page, "t1")
    assert [e["text"] for e in events if e["type"] == "sentence"] == [
        "오늘 서울은 대체로 맑고,",
        "낮 기온은 십팔 도까지 오르겠습니다.",
        "비는 없어요.",
    ]
    assert events[-1]["text"] == bedrock.answer

    api.send(page, {"action": "cancel", "turnId": "t1", "heard": 1})
    (turn,) = api.rest("GET", "/api/history", token=session["token"]).json()["turns"]
    assert turn["interrupted"] is True and turn["assistant"] == "오늘 서울은 대체로 맑고,"
