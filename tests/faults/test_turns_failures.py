"""Every turn ends with ``done`` (after an ``error`` when something failed), whatever failed:
a history error that is not "unavailable", a Redis that refuses writes, DynamoDB down; and a
failed turn's id may be asked again instead of being refused as ``duplicate_turn``."""

from __future__ import annotations

import boto3
import pytest
import redis

from local.redis_server import free_port
from tests.faults.relay_harness import *  # noqa: F403

WRONG_TABLE = "voicebot-history-wrong-schema"


@pytest.fixture(scope="module")
def wrong_table(moto_url: str) -> str:
    """A table whose key schema is not the history's: every query is a ValidationException."""
    dynamodb = boto3.client("dynamodb", endpoint_url=moto_url, region_name="us-east-1")
    dynamodb.create_table(
        TableName=WRONG_TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return WRONG_TABLE


def chat(api, page, turn_id, *, nth=1):
    """Ask, and the (type, code) of the events of the turn's ``nth`` run, up to its done."""
    api.send(page, {"action": "chat", "turnId": turn_id, "text": "안녕하세요"})

    def ended(messages):
        return sum(m["type"] == "done" and m.get("turnId") == turn_id for m in messages) >= nth

    events = [m for m in api.wait_for(page, ended, timeout=10) if m.get("turnId") == turn_id]
    runs, current = [], []
    for event in events:
        current.append(event)
        if event["type"] == "done":
            runs.append(current)
            current = []
    return [(e["type"], e.get("code") or e.get("text")) for e in runs[nth - 1]]


ANSWERED = ("done", "네. 알겠습니다.")


def test_a_history_error_that_is_not_unavailable_ends_the_turn_and_its_id_may_be_retried(
    api, fault_env, wrong_table, history_table
):
    page = api.page(api.session()["token"])
    fault_env.set(HISTORY_TABLE=wrong_table)

    assert chat(api, page, "t1") == [("error", "internal_error"), ("done", "")]

    fault_env.set(HISTORY_TABLE=history_table)
    retried = chat(api, page, "t1", nth=2)
    assert retried[-1] == ANSWERED and ("error", "duplicate_turn") not in retried


def test_a_redis_that_refuses_writes_ends_the_turn_with_an_error_and_done(api, faulty_redis):
    page = api.page(api.session()["token"])
    direct = redis.Redis.from_url(faulty_redis.url)
    direct.config_set("maxmemory", "1")  # every write is refused: OOM, not "unreachable"
    try:
        assert chat(api, page, "t1") == [("error", "internal_error"), ("done", "")]
    finally:
        direct.config_set("maxmemory", "0")

    assert chat(api, page, "t1", nth=2)[-1] == ANSWERED


def test_a_turn_failed_by_dynamodb_being_down_may_be_asked_again(api, fault_env, moto_url):
    page = api.page(api.session()["token"])
    fault_env.set(DYNAMODB_ENDPOINT=f"http://127.0.0.1:{free_port()}")

    assert chat(api, page, "t1") == [("error", "service_unavailable"), ("done", "")]

    fault_env.set(DYNAMODB_ENDPOINT=moto_url)
    assert chat(api, page, "t1", nth=2)[-1] == ANSWERED
