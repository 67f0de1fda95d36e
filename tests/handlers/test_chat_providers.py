"""The chat handler answers through an OpenAI-compatible server and through NVIDIA NIM.

The same adapters the CDK app deploys (``-c chatProvider=openai|nvidia``): the chat function reads
the endpoint's API key from Secrets Manager by ARN (moto's server), and streams the answer from a
loopback peer speaking the chat-completions SSE protocol (tests/fakes/openai_server.py), which
refuses any request whose bearer key is not the secret's. Speech is the Polly wire fake, as in
test_chat.py.
"""

from __future__ import annotations

import base64
import io
import uuid
from collections.abc import Iterator

import boto3
import pytest
import soundfile

from tests.fakes.openai_server import OpenAiCompatibleServer
from voicebot.contract.settings import ChatSettings

KEY = "sk-test-" + uuid.uuid4().hex
MODEL = "test/voicebot-model"
ANSWER = "첫째 문장입니다. 둘째 문장은 조금 더 깁니다."
PROVIDERS = ["openai", "nvidia"]


@pytest.fixture(scope="module")
def peer() -> Iterator[OpenAiCompatibleServer]:
    with OpenAiCompatibleServer(api_key=KEY, model=MODEL) as server:
        yield server


@pytest.fixture
def secrets(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """moto's Secrets Manager, as the chat function's Powertools client reaches it."""
    from aws_lambda_powertools.utilities.parameters import base

    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto_url)
    base.DEFAULT_PROVIDERS.clear()  # its client is made at first use, with this endpoint
    yield boto3.client("secretsmanager", endpoint_url=moto_url, region_name="us-east-1")
    base.DEFAULT_PROVIDERS.clear()


def _secret(secrets: object, value: str | None) -> str:
    options = {} if value is None else {"SecretString": value}
    created = secrets.create_secret(Name=f"chat-key-{uuid.uuid4().hex}", **options)  # type: ignore[attr-defined]
    return str(created["ARN"])


def _use(environment, peer: OpenAiCompatibleServer, provider: str, key_arn: str) -> None:
    # The variables the CDK app writes for this provider (tests/infra/test_chat_providers.py);
    # NIM's client takes the deployment root and adds /v1 itself.
    endpoint = peer.base_url if provider == "openai" else peer.url
    environment.set(
        **ChatSettings.environment(
            chat_provider=provider,
            chat_endpoint=endpoint,
            chat_model_id=MODEL,
            chat_api_key_arn=key_arn,
        )
    )


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_turn_streams_from_the_peer_with_the_key_from_secrets_manager(
    provider, api, environment, peer, secrets
):
    _use(environment, peer, provider, _secret(secrets, KEY))
    peer.answer, peer.tokenize, peer.token_interval = ANSWER, 2, 0.01
    session = api.session()
    page = api.page(session["token"])
    api.send(page, {"action": "chat", "turnId": "t1", "text": "두 문장으로 답해 줘"})
    events = api.wait_done(page, "t1")

    request = peer.last_request
    assert request.outcome == "streamed" and request.chunks_sent == len(peer.pieces()) > 1
    assert request.path.endswith("/v1/chat/completions")
    assert request.bearer == KEY
    assert request.body["model"] == MODEL and request.body["stream"] is True
    assert request.body["messages"][0]["role"] == "system"
    assert request.body["messages"][-1] == {"role": "user", "content": "두 문장으로 답해 줘"}
    if provider == "nvidia":
        assert request.headers["accept"] == "text/event-stream"
        assert request.headers["user-agent"].startswith("langchain-nvidia-ai-endpoints")

    kinds = [e["type"] for e in events]
    assert "error" not in kinds and kinds[-1] == "done" and kinds.count("done") == 1
    deltas = [e["text"] for e in events if e["type"] == "delta"]
    assert len(deltas) >= 2 and "".join(deltas) == ANSWER  # streamed, not one answer at the end
    sentences = [e for e in events if e["type"] == "sentence"]
    assert [s["index"] for s in sentences] == [0, 1]
    assert sentences[0]["text"] == "첫째 문장입니다."
    for index in (0, 1):
        parts = [e for e in events if e["type"] == "audio" and e["index"] == index]
        assert parts and parts[-1]["last"]
        ogg = b"".join(base64.b64decode(p["data"]) for p in parts)
        samples, rate = soundfile.read(io.BytesIO(ogg))
        assert rate > 0 and len(samples) > 0
    assert events[-1]["text"] == ANSWER and events[-1]["interrupted"] is False
    turns = api.rest("GET", "/api/history", token=session["token"]).json()["turns"]
    assert turns[-1]["user"] == "두 문장으로 답해 줘" and turns[-1]["assistant"] == ANSWER


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_wrong_key_is_refused_by_the_peer_and_the_turn_ends_with_an_error(
    provider, api, environment, peer, secrets
):
    _use(environment, peer, provider, _secret(secrets, "sk-not-the-key"))
    page = api.page(api.session()["token"])
    api.send(page, {"action": "chat", "turnId": "t1", "text": "안녕?"})
    events = api.wait_done(page, "t1")

    assert peer.last_request.outcome == "unauthorized"
    (error,) = [e for e in events if e["type"] == "error"]
    assert error["code"] == "provider_error" and "sk-not-the-key" not in error["message"]
    assert events[-1]["type"] == "done"


def test_a_key_secret_still_empty_ends_the_turn_with_an_error_not_a_request(
    api, environment, peer, secrets
):
    # What a stack that created the secret answers until the deployer puts the key in it.
    _use(environment, peer, "openai", _secret(secrets, None))
    before = len(peer.requests)
    page = api.page(api.session()["token"])
    api.send(page, {"action": "chat", "turnId": "t1", "text": "안녕?"})
    events = api.wait_done(page, "t1")

    assert [e["type"] for e in events][-2:] == ["error", "done"]
    assert events[-2]["code"] == "service_unavailable"
    assert len(peer.requests) == before  # nothing was sent without a key
    # The next turn, once the key is there, is answered (nothing cached the failure).
    put = secrets.put_secret_value  # type: ignore[attr-defined]
    put(SecretId=environment[ChatSettings.variable("chat_api_key_arn")], SecretString=KEY)
    api.send(page, {"action": "chat", "turnId": "t2", "text": "안녕?"})
    assert api.wait_done(page, "t2")[-1]["text"] == peer.answer
