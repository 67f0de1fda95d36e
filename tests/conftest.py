"""Shared fixtures: a real Redis server, a moto server for DynamoDB and ``@connections``, and the
history table on it (made by ``local.dynamodb.ensure_history_table``, the table the local stack
and the CDK stack define).

Nothing here reaches beyond 127.0.0.1. AWS is imitated at its wire protocol: moto's server for
DynamoDB and the API Gateway management API, and the fakes in ``tests/fakes`` for Bedrock and Polly.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# Fake credentials before any boto3 client exists: nothing may ever reach real AWS from tests.
for _key, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}.items():
    os.environ[_key] = _value
os.environ.pop("AWS_PROFILE", None)


HISTORY_TABLE = "voicebot-history-test"


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    from local.redis_server import EmbeddedRedis

    with EmbeddedRedis() as server:
        yield server.url


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    from local.redis_server import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="session")
def history_table(moto_url: str) -> str:
    from local.dynamodb import ensure_history_table

    ensure_history_table(moto_url, HISTORY_TABLE, "us-east-1")
    return HISTORY_TABLE


# The longest files first: pytest-xdist (--dist loadfile) hands files to its workers in collection
# order, and the browser and local-stack files, last in alphabetical order, left one worker
# running them alone for the last two minutes. A stable sort keeps each file's tests together.
_SLOW_FIRST = ("tests/web/", "tests/local/", "tests/faults/", "tests/infra/", "tests/interpreter/")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid
        return next((i for i, prefix in enumerate(_SLOW_FIRST) if path.startswith(prefix)), 99)

    items.sort(key=rank)
