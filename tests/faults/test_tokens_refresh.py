"""Refresh is bounded by a maximum session age, for pages and devices alike, and a device can
renew its own token (never into a client token), through the real sessions handler."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from handlers import sessions
from local.apigw import LambdaContext, response_body, rest_event
from voicebot import wiring
from voicebot.contract import routes
from voicebot.contract.settings import SessionSettings, TokenSettings
from voicebot.tokens import TokenSigner

SECRET = "a-signing-key-for-refresh-tests-0123456789"
MAX_AGE = 3600
TTL = 600


def call(route: routes.RestRoute, token: str | None = None) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    event = rest_event(route.method, route.path, headers=headers)
    result = sessions.handler(event, LambdaContext())
    return int(result["statusCode"]), json.loads(response_body(result) or b"{}")


@pytest.fixture(autouse=True)
def deployment() -> Iterator[None]:
    wiring.configure(
        {
            **TokenSettings.environment(token_secret=SECRET),
            **SessionSettings.environment(max_session_age_seconds=MAX_AGE, token_ttl_seconds=TTL),
        }
    )
    yield
    wiring.configure(None)


def old_session_token(scope: str, age_s: int) -> str:
    """A still-valid token of a session that began ``age_s`` ago (a signer without a bound)."""
    now = int(time.time())
    token, _ = TokenSigner(SECRET.encode(), TTL).issue(
        "u_old",
        scope,
        now=now - 60,
        session_started_at=now - age_s,  # type: ignore[arg-type]
    )
    return token


def test_a_device_renews_its_own_token_and_it_stays_a_device_token() -> None:
    created = call(routes.CREATE_SESSION)[1]
    status, renewed = call(routes.REFRESH_DEVICE_TOKEN, created["deviceToken"])

    assert status == 200, renewed
    assert set(renewed) == {"userId", "deviceToken", "expiresAt", "sessionExpiresAt"}
    assert renewed["userId"] == created["userId"]
    claims = wiring.signer().verify(renewed["deviceToken"], "device")
    assert claims.user_id == created["userId"]
    with pytest.raises(Exception) as raised:
        wiring.signer().verify(renewed["deviceToken"], "client")
    assert getattr(raised.value, "status", None) == 401
    # ... and a client token cannot use the device route.
    assert call(routes.REFRESH_DEVICE_TOKEN, created["token"])[0] == 401


def test_no_token_outlives_the_session_and_each_answer_says_when_it_ends() -> None:
    created = call(routes.CREATE_SESSION)[1]
    ends = created["sessionExpiresAt"]
    assert ends - MAX_AGE <= int(time.time())
    for route, token in (
        (routes.REFRESH_SESSION, created["token"]),
        (routes.REFRESH_DEVICE_TOKEN, created["deviceToken"]),
    ):
        body = call(route, token)[1]
        assert body["sessionExpiresAt"] == ends, "a refresh keeps the session's start"
        assert body["expiresAt"] <= ends


@pytest.mark.parametrize(
    ("route", "scope"),
    [(routes.REFRESH_SESSION, "client"), (routes.REFRESH_DEVICE_TOKEN, "device")],
    ids=["page", "device"],
)
def test_a_session_past_its_maximum_age_cannot_be_refreshed(
    route: routes.RestRoute, scope: str
) -> None:
    status, body = call(route, old_session_token(scope, MAX_AGE + 10))
    assert (status, body["error"]["code"]) == (401, "session_expired")


def test_near_the_end_a_refresh_gives_a_token_that_expires_with_the_session() -> None:
    status, body = call(routes.REFRESH_DEVICE_TOKEN, old_session_token("device", MAX_AGE - 120))
    assert status == 200
    assert body["expiresAt"] == body["sessionExpiresAt"] <= int(time.time()) + 120


def test_a_device_whose_token_expired_overnight_renews_it_within_the_session() -> None:
    now = int(time.time())
    expired, _ = TokenSigner(SECRET.encode(), TTL).issue(
        "u_night", "device", now=now - TTL - 60, session_started_at=now - TTL - 60
    )
    status, body = call(routes.REFRESH_DEVICE_TOKEN, expired)
    assert status == 200, body
    assert wiring.signer().verify(body["deviceToken"], "device").user_id == "u_night"
    # ... but an expired token is no good anywhere else, a page's refresh included.
    expired_client, _ = TokenSigner(SECRET.encode(), TTL).issue(
        "u_night", "client", now=now - TTL - 60, session_started_at=now - TTL - 60
    )
    assert call(routes.REFRESH_SESSION, expired_client)[0] == 401
