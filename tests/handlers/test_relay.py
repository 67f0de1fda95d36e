"""The transcript relay: device → Redis stream → every page of that user, and nobody else's."""


def post(api, token, utterance="utt1", seq=0, text="안녕", final=False):
    return api.rest(
        "POST",
        "/api/transcripts",
        token=token,
        body={"utteranceId": utterance, "seq": seq, "text": text, "final": final, "lang": "ko-KR"},
    )


def transcripts(messages):
    return [m for m in messages if m["type"] == "transcript"]


def test_a_transcript_reaches_both_pages_of_its_user_and_never_another_user(api):
    alice, bob = api.session(), api.session()
    alice_pages = [api.page(alice["token"]), api.page(alice["token"])]
    bob_page = api.page(bob["token"])

    response = post(api, alice["deviceToken"], text="안녕하세요", final=True)

    assert response.status == 202
    assert response.json()["delivered"] == 2
    for page in alice_pages:
        (event,) = transcripts(api.received(page))
        assert event == {
            "type": "transcript",
            "id": response.json()["id"],
            "utteranceId": "utt1",
            "seq": 0,
            "text": "안녕하세요",
            "final": True,
            "lang": "ko-KR",
        }
    assert api.received(bob_page) == []


def test_a_client_token_cannot_publish_transcripts(api):
    alice = api.session()
    assert post(api, alice["token"]).status == 401


def test_partials_then_final_in_seq_order(api):
    alice = api.session()
    page = api.page(alice["token"])
    for seq, text in enumerate(["안", "안녕", "안녕하세요"]):
        assert post(api, alice["deviceToken"], seq=seq, text=text, final=seq == 2).status == 202
    events = transcripts(api.received(page))
    assert [(e["seq"], e["text"], e["final"]) for e in events] == [
        (0, "안", False),
        (1, "안녕", False),
        (2, "안녕하세요", True),
    ]


def test_a_repeated_post_is_accepted_once_with_the_first_id(api):
    alice = api.session()
    page = api.page(alice["token"])
    first = post(api, alice["deviceToken"], seq=3)
    again = post(api, alice["deviceToken"], seq=3)
    assert again.status == 202
    assert again.json() == {"id": first.json()["id"], "delivered": 0}
    assert len(transcripts(api.received(page))) == 1


def test_a_stale_seq_is_accepted_but_not_relayed(api):
    alice = api.session()
    page = api.page(alice["token"])
    post(api, alice["deviceToken"], seq=5)
    stale = post(api, alice["deviceToken"], seq=4)
    assert stale.status == 202 and stale.json()["delivered"] == 0
    assert [e["seq"] for e in transcripts(api.received(page))] == [5]


def test_after_the_final_an_utterance_is_closed(api):
    alice = api.session()
    post(api, alice["deviceToken"], seq=1, final=True)
    closed = post(api, alice["deviceToken"], seq=2)
    assert closed.status == 409
    assert closed.json()["error"]["code"] == "utterance_closed"
    assert post(api, alice["deviceToken"], seq=1, final=True).status == 202  # a repeat is fine


def test_a_gone_connection_is_dropped_and_the_others_still_get_the_event(api):
    alice = api.session()
    live, gone = api.page(alice["token"]), api.page(alice["token"])
    api.recorder.gone.add(gone)
    assert post(api, alice["deviceToken"], seq=0).json()["delivered"] == 1
    api.recorder.gone.discard(gone)
    assert post(api, alice["deviceToken"], seq=1).json()["delivered"] == 1  # no longer registered
    assert len(transcripts(api.received(live))) == 2
    assert api.received(gone) == []


def test_resume_after_a_disconnect_replays_exactly_the_missed_events_once_in_order(api):
    alice = api.session()
    page = api.page(alice["token"])
    seen = [post(api, alice["deviceToken"], seq=s, text=f"t{s}").json()["id"] for s in (0, 1)]
    api.disconnect(page)
    for seq in (2, 3, 4):  # published while the page was away
        assert post(api, alice["deviceToken"], seq=seq, text=f"t{seq}").json()["delivered"] == 0

    again = api.page(alice["token"])
    api.send(again, {"action": "resume", "after": seen[-1]})
    api.send(again, {"action": "resume", "after": seen[-1]})  # a second resume sends nothing new
    post(api, alice["deviceToken"], seq=5, text="t5")  # live again

    assert [e["text"] for e in transcripts(api.received(again))] == ["t2", "t3", "t4", "t5"]


def test_resume_from_an_unknown_id_replays_everything_retained(api):
    alice = api.session()
    for seq in range(3):
        post(api, alice["deviceToken"], seq=seq, text=f"t{seq}")
    page = api.page(alice["token"])
    api.send(page, {"action": "resume", "after": "not-an-id"})
    assert [e["text"] for e in transcripts(api.received(page))] == ["t0", "t1", "t2"]


def test_resume_only_replays_the_callers_own_stream(api):
    alice, bob = api.session(), api.session()
    post(api, alice["deviceToken"], text="alice secret")
    bob_page = api.page(bob["token"])
    api.send(bob_page, {"action": "resume", "after": "0-0"})
    assert transcripts(api.received(bob_page)) == []


def test_the_stream_is_bounded(api, environment):
    environment.set(TRANSCRIPT_STREAM_MAXLEN="10")
    alice = api.session()
    for seq in range(300):
        post(api, alice["deviceToken"], utterance="long", seq=seq, text=str(seq))
    page = api.page(alice["token"])
    api.send(page, {"action": "resume", "after": "0-0"})
    replayed = transcripts(api.received(page))
    assert 10 <= len(replayed) < 300  # MAXLEN ~ trims whole nodes, never below the bound
    assert replayed[-1]["text"] == "299"
