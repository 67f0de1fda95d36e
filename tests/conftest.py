"""Shared fixtures: a real Redis server, a moto server for DynamoDB and ``@connections``, and the
history table on it (made by ``local.dynamodb.ensure_history_table``, the table the local stack
and the CDK stack define).

Nothing here reaches beyond 127.0.0.1. AWS is imitated at its wire protocol: moto's server for
DynamoDB and the API Gateway management API, and the fakes in ``tests/fakes`` for Bedrock and Polly.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

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


# How the suite is shared between pytest-xdist's workers (scripts/test.sh: --dist loadfile
# --no-loadscope-reorder). A test file is one unit of work, so its module and session fixtures
# are set up once per worker, except for two groups that each stay on one worker: every browser
# test (their timing assertions hold best with one Chromium at a time, and they share one stack
# per worker) and every synth test (each worker that synthesizes starts jsii and synthesizes the
# default stack again). Units go out in this order, longest first, so that no worker is left
# running a long file alone at the end; xdist's own reordering (by test count) is off.
# (Not --dist loadgroup with xdist_group marks: with pytest 9.2 xdist 3.8 cannot rename the
# tests it groups, and every test became a unit of its own.)
_BROWSER_FILES = ("tests/web/", "tests/faults/test_relay_browser.py")
_SLOW_FIRST = ("tests/web/", "tests/faults/test_relay_browser.py", "tests/infra/", "tests/local/")
_SLOW_FIRST += ("tests/interpreter/", "tests/faults/")


def _work_unit(nodeid: str) -> str:
    if nodeid.startswith(_BROWSER_FILES):
        return "browser"
    if nodeid.startswith("tests/infra/"):
        return "infra"
    return nodeid.split("::", 1)[0]


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class WorkUnits(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _work_unit(nodeid)

    return WorkUnits(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid
        return next((i for i, prefix in enumerate(_SLOW_FIRST) if path.startswith(prefix)), 99)

    items.sort(key=rank)
