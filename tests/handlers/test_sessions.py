import pytest


def test_a_session_gets_a_server_chosen_user_and_two_scoped_tokens(api):
    first, second = api.session(), api.session()
    assert first["userId"] != second["userId"]
    assert {"userId", "token", "deviceToken", "expiresAt"} <= first.keys()
    assert first["token"] != first["deviceToken"]


def test_the_caller_cannot_choose_the_user_id(api):
    response = api.rest("POST", "/api/sessions", body={"userId": "u_victim"})
    assert response.status == 201
    assert response.json()["userId"] != "u_victim"


def test_the_body_may_be_omitted_without_an_access_code(api):
    assert api.rest("POST", "/api/sessions", raw="").status == 201


def test_refresh_keeps_the_user_and_needs_a_client_token(api):
    session = api.session()
    refreshed = api.rest("POST", "/api/sessions/refresh", token=session["token"])
    assert refreshed.status == 200
    assert refreshed.json()["userId"] == session["userId"]
    denied = api.rest("POST", "/api/sessions/refresh", token=session["deviceToken"])
    assert denied.status == 401
    assert denied.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(("code", "status"), [("open-sesame", 201), ("wrong", 401), (None, 401)])
def test_an_access_code_gates_sessions_when_configured(api, environment, code, status):
    environment.set(ACCESS_CODE="open-sesame")
    body = {} if code is None else {"accessCode": code}
    response = api.rest("POST", "/api/sessions", body=body)
    assert response.status == status
    if status == 401:
        assert response.json()["error"]["code"] == "invalid_access_code"


def test_health_needs_no_token(api):
    response = api.rest("GET", "/api/health")
    # The handlers here are configured for Redis and DynamoDB: health probes both.
    services = {"redis": "up", "dynamodb": "up"}
    assert (response.status, response.json()) == (200, {"ok": True, "services": services})
