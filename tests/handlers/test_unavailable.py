"""When Redis or DynamoDB cannot be reached: 503 with the error body, never a traceback."""

import pytest

from local.redis_server import free_port


@pytest.fixture
def redis_down(api, environment):
    session = api.session()
    environment.set(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    return session


@pytest.fixture
def dynamodb_down(api, environment):
    session = api.session()
    environment.set(DYNAMODB_ENDPOINT=f"http://127.0.0.1:{free_port()}")
    return session


def test_transcripts_answer_503_when_redis_is_down(api, redis_down):
    body = {"utteranceId": "u1", "seq": 0, "text": "hi", "final": True}
    response = api.rest("POST", "/api/transcripts", token=redis_down["deviceToken"], body=body)
    assert response.status == 503
    assert response.json()["error"]["code"] == "service_unavailable"


def test_connect_is_refused_when_redis_is_down(api, redis_down):
    assert api.connect(redis_down["token"])[0] == 503


@pytest.mark.parametrize(("down", "up"), [("redis", "dynamodb"), ("dynamodb", "redis")])
def test_health_answers_503_and_names_the_service_that_is_down(api, request, down, up):
    request.getfixturevalue(f"{down}_down")
    response = api.rest("GET", "/api/health")
    assert response.status == 503
    body = response.json()
    assert body["ok"] is False and body["services"] == {down: "down", up: "up"}
    assert body["error"]["code"] == "service_unavailable" and down in body["error"]["message"]


def test_history_answers_503_when_dynamodb_is_down(api, dynamodb_down):
    response = api.rest("GET", "/api/history", token=dynamodb_down["token"])
    assert response.status == 503
    assert "Traceback" not in response.body.decode()


def test_a_turn_reports_an_unavailable_history_as_an_error_event(api, environment):
    page = api.page(api.session()["token"])
    environment.set(DYNAMODB_ENDPOINT=f"http://127.0.0.1:{free_port()}")
    api.send(page, {"action": "chat", "turnId": "t1", "text": "hi"})
    events = api.wait_done(page, "t1", timeout=30)
    assert [e["type"] for e in events] == ["error", "done"]
    assert events[0]["code"] == "service_unavailable"
