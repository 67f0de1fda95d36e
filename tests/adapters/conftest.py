"""The adapters' real peers that tests/conftest.py does not already give: moto's server.

moto on 127.0.0.1 stands in for DynamoDB (with the history table made by
``local.dynamodb.ensure_history_table``, the table the local stack and the CDK stack define) and
for API Gateway's ``@connections`` API, as in tests/handlers/conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto.server import ThreadedMotoServer

from local.dynamodb import ensure_history_table
from local.redis_server import free_port

HISTORY_TABLE = "voicebot-history-adapter-test"


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="session")
def history_table(moto_url: str) -> str:
    ensure_history_table(moto_url, HISTORY_TABLE, "us-east-1")
    return HISTORY_TABLE
