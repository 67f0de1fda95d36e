"""Key rotation against moto's Secrets Manager: a warm container that read the old signing key
accepts tokens signed with the new one without a redeploy, keeps accepting the previous key's
tokens during the grace window only, and starts signing with the new key on its schedule.
Also: a token whose signature holds a non-ASCII character is a 401, not a 500."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from handlers import sessions
from local.apigw import LambdaContext, response_body, rest_event
from voicebot import wiring
from voicebot.contract.settings import KeyRotationSettings, TokenSettings
from voicebot.tokens import TokenSigner

OLD_KEY = "the-old-signing-key-0123456789abcdef"
NEW_KEY = "the-new-signing-key-0123456789abcdef"
NEWER_KEY = "the-newest-signing-key-0123456789abc"


def call(path: str, *, token: str | None = None) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    result = sessions.handler(rest_event("POST", path, headers=headers), LambdaContext())
    return int(result["statusCode"]), json.loads(response_body(result) or b"{}")


class Deployment:
    """A signing-key secret in (moto's) Secrets Manager and a warm sessions container."""

    def __init__(self, **settings: object) -> None:
        # The suite's moto server, not moto's in-process mock: starting and stopping that resets
        # every moto backend of the process, the server's DynamoDB tables included.
        self.client = boto3.client("secretsmanager", region_name="us-east-1")
        name = f"voicebot-signing-key-{uuid.uuid4().hex}"
        self.arn = self.client.create_secret(Name=name, SecretString=OLD_KEY)["ARN"]
        wiring.configure(TokenSettings.environment(token_secret_arn=self.arn, **settings))

    def rotate(self, key: str) -> None:
        """What the README tells an operator to do: put-secret-value (AWSPREVIOUS is kept)."""
        self.client.put_secret_value(SecretId=self.arn, SecretString=key)

    @staticmethod
    def token_signed_with(key: str, scope: str = "client") -> str:
        """A token another (fresh) container signed with ``key``."""
        token, _ = TokenSigner(key.encode(), 3600).issue("u_rotation", scope)  # type: ignore[arg-type]
        return token


@pytest.fixture(autouse=True)
def secrets_manager(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # boto3 (the test's and the function's) reaches Secrets Manager at the moto server.
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto_url)


@pytest.fixture
def deployment() -> Iterator[Deployment]:
    yield Deployment()
    wiring.configure(None)


def test_a_warm_container_accepts_a_token_signed_with_the_rotated_key(
    deployment: Deployment,
) -> None:
    session = call("/api/sessions")[1]  # the container has read the old key
    assert call("/api/sessions/refresh", token=session["token"])[0] == 200

    deployment.rotate(NEW_KEY)
    fresh = deployment.token_signed_with(NEW_KEY)

    status, body = call("/api/sessions/refresh", token=fresh)
    assert status == 200, body
    assert body["userId"] == "u_rotation"


def test_the_previous_keys_tokens_still_work_after_a_rotation_and_the_new_key_signs(
    deployment: Deployment,
) -> None:
    before = call("/api/sessions")[1]
    deployment.rotate(NEW_KEY)
    call("/api/sessions/refresh", token=deployment.token_signed_with(NEW_KEY))  # re-reads

    status, refreshed = call("/api/sessions/refresh", token=before["token"])
    assert status == 200, refreshed
    assert refreshed["userId"] == before["userId"]
    # What it signs now verifies with the new key alone.
    TokenSigner(NEW_KEY.encode(), 3600).verify(refreshed["token"], "client")


def test_a_key_two_rotations_old_is_refused(deployment: Deployment) -> None:
    before = call("/api/sessions")[1]
    deployment.rotate(NEW_KEY)
    deployment.rotate(NEWER_KEY)
    call("/api/sessions/refresh", token=deployment.token_signed_with(NEWER_KEY))

    status, body = call("/api/sessions/refresh", token=before["token"])
    assert (status, body["error"]["code"]) == (401, "unauthorized")


def test_the_previous_key_is_refused_once_the_grace_window_is_over() -> None:
    deployment = Deployment(token_previous_key_grace_seconds=0)
    try:
        before = call("/api/sessions")[1]
        deployment.rotate(NEW_KEY)
        fresh = deployment.token_signed_with(NEW_KEY)
        assert call("/api/sessions/refresh", token=fresh)[0] == 200

        status, body = call("/api/sessions/refresh", token=before["token"])
        assert (status, body["error"]["code"]) == (401, "unauthorized")
        assert "retired" in body["error"]["message"]
    finally:
        wiring.configure(None)


def test_the_key_is_reread_on_schedule_without_any_failed_signature() -> None:
    deployment = Deployment(token_key_reload_seconds=1)
    try:
        call("/api/sessions")
        deployment.rotate(NEW_KEY)
        time.sleep(1.1)

        issued = call("/api/sessions")[1]
        TokenSigner(NEW_KEY.encode(), 3600).verify(issued["token"], "client")
    finally:
        wiring.configure(None)


def test_forged_tokens_do_not_make_every_request_read_the_secret() -> None:
    reads: list[bool] = []
    clock = [0.0]

    def load(force: bool) -> Any:
        from voicebot.tokens import SigningKeys

        reads.append(force)
        return SigningKeys(OLD_KEY.encode())

    signer = TokenSigner(
        load,
        3600,
        rotation=KeyRotationSettings(token_key_retry_seconds=10, token_key_reload_seconds=300),
        clock=lambda: clock[0],
    )
    forged = Deployment.token_signed_with("someone-elses-key-0123456789abcdef")
    for _ in range(200):  # 20 s of forged tokens, ten a second
        clock[0] += 0.1
        with pytest.raises(Exception, match="signature"):
            signer.verify(forged, "client")
    # The first read, then one forced re-read per retry interval (at 0.1 s, 10.1 s; 20 s is not
    # past the third).
    assert reads == [False, True, True]


@pytest.mark.parametrize("odd", ["é", "한", "\udcff", "\u00a0"])
def test_a_token_with_a_non_ascii_signature_is_401(odd: str) -> None:
    wiring.configure(TokenSettings.environment(token_secret=OLD_KEY))
    try:
        token = Deployment.token_signed_with(OLD_KEY)
        forged = token[:-1] + odd
        with pytest.raises(Exception) as raised:
            wiring.signer().verify(forged, "client")
        assert getattr(raised.value, "status", None) == 401, repr(raised.value)
        if odd != "\udcff":  # a lone surrogate cannot travel in a real HTTP header
            status, body = call("/api/sessions/refresh", token=forged)
            assert (status, body["error"]["code"]) == (401, "unauthorized")
    finally:
        wiring.configure(None)
