import io

import soundfile


def test_speech_returns_ogg_bytes_not_json(api, polly):
    token = api.session()["token"]
    response = api.rest(
        "POST", "/api/speech", token=token, body={"text": "안녕하세요 & <반가워요>"}
    )
    assert response.status == 200
    assert response.headers["content-type"] == "audio/ogg"
    info = soundfile.info(io.BytesIO(response.body))
    assert (info.format, info.subtype) == ("OGG", "VORBIS")
    assert polly.last_request.text == "<speak>안녕하세요 &amp; &lt;반가워요&gt;</speak>"
    assert polly.last_request.text_type == "ssml"


def test_speech_honours_voice_and_language_and_caches_repeats(api, polly):
    token = api.session()["token"]
    body = {"text": "Hello there", "voice": "Joanna", "lang": "en-US"}
    first = api.rest("POST", "/api/speech", token=token, body=body)
    calls = len(polly.requests)
    second = api.rest("POST", "/api/speech", token=token, body=body)
    assert first.body == second.body and len(polly.requests) == calls
    assert polly.last_request.body["VoiceId"] == "Joanna"
    assert polly.last_request.body["LanguageCode"] == "en-US"


def test_speech_needs_a_client_token(api):
    device = api.session()["deviceToken"]
    assert api.rest("POST", "/api/speech", token=device, body={"text": "hi"}).status == 401


def test_speech_throttled_beyond_retries_is_429(api, polly, quick_retries):
    polly.throttle_first_n = 100
    before = len(polly.requests)
    response = api.rest("POST", "/api/speech", token=api.session()["token"], body={"text": "x1"})
    assert response.status == 429 and response.json()["error"]["code"] == "throttled"
    attempts = [r.outcome for r in polly.requests[before:]]
    assert len(attempts) >= 5 and set(attempts) == {"throttled"}  # max_attempts 5: all retried


def test_speech_outage_is_a_clean_5xx(api, polly):
    polly.fail_all = True
    response = api.rest("POST", "/api/speech", token=api.session()["token"], body={"text": "x2"})
    assert response.status >= 500 and set(response.json()) == {"error"}
    assert "Traceback" not in response.body.decode()


def _turn(api, page, turn_id, text):
    api.send(page, {"action": "chat", "turnId": turn_id, "text": text})
    api.wait_done(page, turn_id)


def test_history_lists_the_newest_turns_oldest_first_and_only_the_callers(api, bedrock):
    alice, bob = api.session(), api.session()
    page = api.page(alice["token"])
    for n in range(3):
        bedrock.answer = f"답 {n}."
        _turn(api, page, f"t{n}", f"질문 {n}")
    _turn(api, api.page(bob["token"]), "b1", "bob's question")

    turns = api.rest("GET", "/api/history", token=alice["token"], query={"limit": "2"}).json()
    assert [(t["turnId"], t["user"], t["assistant"]) for t in turns["turns"]] == [
        ("t1", "질문 1", "답 1."),
        ("t2", "질문 2", "답 2."),
    ]
    assert all(t["interrupted"] is False and t["at"] > 0 for t in turns["turns"])
    everything = api.rest("GET", "/api/history", token=alice["token"]).json()["turns"]
    assert [t["turnId"] for t in everything] == ["t0", "t1", "t2"]


def test_turns_in_the_same_millisecond_do_not_collide(api, monkeypatch):
    import asyncio

    from voicebot import wiring
    from voicebot.ports import Turn

    user = api.session()
    store = wiring.history_store()
    turns = [Turn(user["userId"], f"same{i}", "q", "a", False, 1_700_000_000_000) for i in range(3)]
    for turn in turns:
        asyncio.run(store.save(turn))
    listed = api.rest("GET", "/api/history", token=user["token"]).json()["turns"]
    assert sorted(t["turnId"] for t in listed) == ["same0", "same1", "same2"]


def test_delete_history_removes_the_callers_turns_and_nobody_elses(api):
    alice, bob = api.session(), api.session()
    _turn(api, api.page(alice["token"]), "a1", "hi")
    _turn(api, api.page(bob["token"]), "b1", "hi")
    assert api.rest("DELETE", "/api/history", token=alice["token"]).status == 204
    assert api.rest("GET", "/api/history", token=alice["token"]).json() == {"turns": []}
    assert len(api.rest("GET", "/api/history", token=bob["token"]).json()["turns"]) == 1


def test_history_limit_must_be_1_to_100(api):
    token = api.session()["token"]
    for bad in ("0", "101", "abc", "-1", "1.5", ""):
        response = api.rest("GET", "/api/history", token=token, query={"limit": bad})
        assert response.status == 400, bad
    assert api.rest("GET", "/api/history", token=token, query={"limit": "100"}).status == 200
