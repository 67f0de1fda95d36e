"""Shared fixtures: a real Redis server, a moto server for DynamoDB and ``@connections``.

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


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    from local.redis_server import EmbeddedRedis

    with EmbeddedRedis() as server:
        yield server.url
