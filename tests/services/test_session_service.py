"""SessionService with a real TokenSigner: ids are the server's, tokens carry their scope."""

from __future__ import annotations

import re

import pytest

from voicebot.errors import ApiError
from voicebot.services.sessions import SessionService
from voicebot.tokens import TokenSigner

SIGNER = TokenSigner(b"a-test-secret-of-enough-bytes", ttl_seconds=3600)


def test_create_issues_a_new_user_id_with_a_client_and_a_device_token() -> None:
    session = SessionService(SIGNER, access_code=None).create(None)

    assert set(session) == {"userId", "token", "deviceToken", "expiresAt"}
    assert re.fullmatch(r"u_[A-Za-z0-9_-]{16,}", session["userId"])
    client = SIGNER.verify(session["token"], "client")
    device = SIGNER.verify(session["deviceToken"], "device")
    assert client.user_id == device.user_id == session["userId"]
    assert client.expires_at == session["expiresAt"]


def test_each_session_gets_its_own_user_id() -> None:
    service = SessionService(SIGNER, access_code=None)

    assert len({service.create(None)["userId"] for _ in range(20)}) == 20


def test_the_two_tokens_are_not_interchangeable() -> None:
    session = SessionService(SIGNER, access_code=None).create(None)

    with pytest.raises(ApiError) as as_client:
        SIGNER.verify(session["deviceToken"], "client")
    with pytest.raises(ApiError) as as_device:
        SIGNER.verify(session["token"], "device")
    assert as_client.value.status == as_device.value.status == 401


def test_tokens_from_another_secret_are_refused() -> None:
    other = TokenSigner(b"another-secret-of-enough-bytes", ttl_seconds=3600)
    session = SessionService(other, access_code=None).create(None)

    with pytest.raises(ApiError) as raised:
        SIGNER.verify(session["token"], "client")
    assert raised.value.status == 401


@pytest.mark.parametrize("given", [None, "", "wrong", "letmein "])
def test_a_wrong_or_missing_access_code_is_401_invalid_access_code(given: str | None) -> None:
    service = SessionService(SIGNER, access_code="letmein")

    with pytest.raises(ApiError) as raised:
        service.create(given)

    assert (raised.value.status, raised.value.code) == (401, "invalid_access_code")


def test_the_right_access_code_opens_a_session() -> None:
    session = SessionService(SIGNER, access_code="열려라 참깨").create("열려라 참깨")

    assert SIGNER.verify(session["token"], "client").user_id == session["userId"]


def test_without_a_configured_code_any_code_is_accepted() -> None:
    assert SessionService(SIGNER, access_code="").create("anything")["userId"]


def test_refresh_keeps_the_user_id_and_issues_fresh_tokens() -> None:
    service = SessionService(SIGNER, access_code="letmein")
    first = service.create("letmein")
    claims = SIGNER.verify(first["token"], "client")

    refreshed = service.refresh(claims)  # no access code is asked for again

    assert refreshed["userId"] == first["userId"]
    assert SIGNER.verify(refreshed["token"], "client").user_id == first["userId"]
    assert SIGNER.verify(refreshed["deviceToken"], "device").user_id == first["userId"]
    assert refreshed["expiresAt"] >= first["expiresAt"]
