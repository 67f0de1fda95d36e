"""ApiGatewayConnectionPoster against moto's server for ``@connections`` (API Gateway)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError
from moto.apigatewaymanagementapi.models import ApiGatewayManagementApiBackend
from moto.core.exceptions import ServiceException

from tests.fakes.connections import ForbiddenException, GoneException, PayloadTooLargeException
from voicebot.adapters.connections import ApiGatewayConnectionPoster, endpoint_from_request


class Pages:
    """What moto's backend received per connection; connections in ``refuse`` raise instead."""

    def __init__(self) -> None:
        self.received: dict[str, list[bytes]] = {}
        self.refuse: dict[str, ServiceException] = {}


@pytest.fixture
def pages(monkeypatch: pytest.MonkeyPatch) -> Iterator[Pages]:
    state = Pages()

    def post_to_connection(self: object, data: bytes, connection_id: str) -> None:
        if connection_id in state.refuse:
            raise state.refuse[connection_id]
        state.received.setdefault(connection_id, []).append(data)

    # moto's server runs in this process: its backend is patched for the test only.
    monkeypatch.setattr(ApiGatewayManagementApiBackend, "post_to_connection", post_to_connection)
    yield state


async def test_a_post_reaches_the_connection_and_answers_true(moto_url: str, pages: Pages) -> None:
    poster = ApiGatewayConnectionPoster(moto_url)
    message = b'{"type":"pong"}'
    korean = '{"type":"delta","text":"안녕하세요"}'.encode()

    assert await poster.post("conn1", message) is True
    assert await poster.post("conn1", korean) is True

    assert pages.received == {"conn1": [message, korean]}


@pytest.mark.parametrize(
    "refusal", [GoneException(), ForbiddenException()], ids=["gone", "forbidden"]
)
async def test_a_connection_that_is_gone_answers_false(
    moto_url: str, pages: Pages, refusal: ServiceException
) -> None:
    pages.refuse["conn2"] = refusal

    assert await ApiGatewayConnectionPoster(moto_url).post("conn2", b"{}") is False


async def test_other_failures_are_raised_not_taken_for_a_gone_page(
    moto_url: str, pages: Pages
) -> None:
    pages.refuse["conn3"] = PayloadTooLargeException()

    with pytest.raises(ClientError) as raised:
        await ApiGatewayConnectionPoster(moto_url).post("conn3", b"{}")

    assert raised.value.response["Error"]["Code"] == "PayloadTooLargeException"


@pytest.mark.parametrize(
    ("domain", "stage", "expected"),
    [
        (
            "abc123.execute-api.ap-northeast-2.amazonaws.com",
            "prod",
            "https://abc123.execute-api.ap-northeast-2.amazonaws.com/prod",
        ),
        ("127.0.0.1:3001", "local", "http://127.0.0.1:3001/local"),
        ("localhost:3001", "local", "http://localhost:3001/local"),
    ],
)
def test_the_management_endpoint_follows_the_domain_and_stage(
    domain: str, stage: str, expected: str
) -> None:
    assert endpoint_from_request(domain, stage) == expected
