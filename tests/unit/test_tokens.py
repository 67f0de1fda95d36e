import pytest

from voicebot.errors import ApiError
from voicebot.tokens import TokenSigner, bearer, new_user_id

SIGNER = TokenSigner(b"0123456789abcdef0123456789abcdef", ttl_seconds=3600)


def test_a_token_carries_user_scope_and_expiry():
    token, expires_at = SIGNER.issue("u_1", "client", now=1000)
    claims = SIGNER.verify(token, "client", now=1001)
    assert (claims.user_id, claims.scope, claims.expires_at) == ("u_1", "client", expires_at)
    assert expires_at == 4600


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # signature
        lambda t: (
            t.split(".")[0] + ".eyJzdWIiOiJ1XzIiLCJzY3AiOiJjbGllbnQiLCJleHAiOjl9." + t.split(".")[2]
        ),
        lambda t: "v2" + t[2:],
        lambda t: t.replace(".", "", 1),
        lambda t: "",
        lambda t: "x" * 2000,
    ],
    ids=["signature", "payload", "version", "shape", "empty", "huge"],
)
def test_tampered_tokens_are_refused(mutate):
    token, _ = SIGNER.issue("u_1", "client", now=1000)
    with pytest.raises(ApiError) as err:
        SIGNER.verify(mutate(token), "client", now=1001)
    assert err.value.status == 401


def test_expired_tokens_are_refused():
    token, _ = SIGNER.issue("u_1", "client", now=1000)
    with pytest.raises(ApiError, match="expired"):
        SIGNER.verify(token, "client", now=4600)


def test_a_device_token_is_not_a_client_token():
    token, _ = SIGNER.issue("u_1", "device", now=1000)
    with pytest.raises(ApiError) as err:
        SIGNER.verify(token, "client", now=1001)
    assert err.value.status == 401


def test_another_deployments_secret_does_not_verify():
    token, _ = TokenSigner(b"another-secret-another-secret!!", 3600).issue("u_1", "client")
    with pytest.raises(ApiError):
        SIGNER.verify(token, "client")


def test_user_ids_are_unguessable_protocol_ids():
    ids = {new_user_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(0 < len(i) <= 64 and i.replace("_", "").replace("-", "").isalnum() for i in ids)


def test_bearer_header_parsing():
    assert bearer("Bearer abc") == "abc"
    assert bearer("bearer  abc ") == "abc"
    assert bearer("Basic abc") is None
    assert bearer(None) is None
    assert bearer("Bearer") is None
