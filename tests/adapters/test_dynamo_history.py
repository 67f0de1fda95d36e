"""DynamoHistoryStore against a DynamoDB endpoint (moto's server): keys, order, corrections."""

from __future__ import annotations

import asyncio
import time
import uuid

import boto3
import pytest

from local.redis_server import free_port
from voicebot.adapters.dynamo_history import DynamoHistoryStore
from voicebot.errors import ServiceUnavailable
from voicebot.ports import Turn

TTL_DAYS = 7


@pytest.fixture
def store(moto_url: str, history_table: str) -> DynamoHistoryStore:
    return DynamoHistoryStore(history_table, endpoint_url=moto_url, ttl_days=TTL_DAYS)


def uid() -> str:
    return f"u_{uuid.uuid4().hex}"


def turn(user: str, turn_id: str, at_ms: int, sentences: list[str] | None = None) -> Turn:
    sentences = sentences if sentences is not None else [f"{turn_id}의 답입니다."]
    return Turn(
        user_id=user,
        turn_id=turn_id,
        user_text=f"{turn_id}의 질문",
        assistant_text=" ".join(sentences),
        interrupted=False,
        at_ms=at_ms,
        sentences=sentences,
    )


async def test_a_saved_turn_reads_back_with_every_field(store: DynamoHistoryStore) -> None:
    user = uid()
    saved = turn(user, "t1", 1_700_000_000_123, ["첫 문장입니다.", "둘째 문장입니다."])

    await store.save(saved)

    assert await store.recent(user, 10) == [saved]


async def test_recent_lists_the_newest_turns_oldest_first(store: DynamoHistoryStore) -> None:
    user = uid()
    for at in (3000, 1000, 4000, 2000):  # saved out of order
        await store.save(turn(user, f"t{at}", at))

    assert [t.turn_id for t in await store.recent(user, 10)] == ["t1000", "t2000", "t3000", "t4000"]
    assert [t.turn_id for t in await store.recent(user, 2)] == ["t3000", "t4000"]
    assert await store.recent(user, 0) == []
    assert await store.recent(uid(), 10) == []


async def test_turns_in_the_same_millisecond_do_not_overwrite_each_other(
    store: DynamoHistoryStore,
) -> None:
    user = uid()
    await store.save(turn(user, "a", 5000))
    await store.save(turn(user, "b", 5000))

    assert sorted(t.turn_id for t in await store.recent(user, 10)) == ["a", "b"]


async def test_saved_turns_expire_through_the_ttl_attribute(
    store: DynamoHistoryStore, moto_url: str, history_table: str
) -> None:
    user = uid()
    before = int(time.time())
    await store.save(turn(user, "t1", 1000))

    table = boto3.resource("dynamodb", endpoint_url=moto_url).Table(history_table)
    (item,) = table.query(
        KeyConditionExpression="userId = :u", ExpressionAttributeValues={":u": user}
    )["Items"]

    expires = int(str(item["expiresAt"]))
    assert before + TTL_DAYS * 86400 <= expires <= int(time.time()) + TTL_DAYS * 86400
    assert item["turnKey"] == "000000000001000#t1"


async def test_mark_heard_keeps_the_first_heard_sentences_and_marks_interrupted(
    store: DynamoHistoryStore,
) -> None:
    user = uid()
    await store.save(turn(user, "t1", 1000, ["하나.", "둘.", "셋."]))
    await store.save(turn(user, "t2", 2000, ["넷."]))

    assert await store.mark_heard(user, "t1", 2) is True

    first, second = await store.recent(user, 10)
    assert (first.assistant_text, first.interrupted) == ("하나. 둘.", True)
    assert first.sentences == ["하나.", "둘.", "셋."]  # what was said stays on record
    assert (second.assistant_text, second.interrupted) == ("넷.", False)


async def test_mark_heard_zero_leaves_an_empty_answer(store: DynamoHistoryStore) -> None:
    user = uid()
    await store.save(turn(user, "t1", 1000, ["하나.", "둘."]))

    assert await store.mark_heard(user, "t1", 0) is True
    assert (await store.recent(user, 1))[0].assistant_text == ""


async def test_mark_heard_refuses_unknown_interrupted_and_old_turns(
    store: DynamoHistoryStore,
) -> None:
    user = uid()
    for at in range(1, 8):  # t1 .. t7; only the newest five are looked at
        await store.save(turn(user, f"t{at}", at * 1000, ["하나.", "둘."]))

    assert await store.mark_heard(user, "nope", 1) is False
    assert await store.mark_heard(uid(), "t7", 1) is False  # another user's turn id
    assert await store.mark_heard(user, "t1", 1) is False  # no longer among the recent
    assert await store.mark_heard(user, "t7", 1) is True
    assert await store.mark_heard(user, "t7", 0) is False  # already cut: the first cut stands
    assert (await store.recent(user, 1))[0].assistant_text == "하나."


async def test_clear_removes_only_that_users_turns(store: DynamoHistoryStore) -> None:
    user, other = uid(), uid()
    for i in range(30):
        await store.save(turn(user, f"t{i}", 1000 + i))
    await store.save(turn(other, "keep", 1000))

    await store.clear(user)

    assert await store.recent(user, 100) == []
    assert [t.turn_id for t in await store.recent(other, 100)] == ["keep"]
    await store.clear(uid())  # clearing an empty history is fine


async def test_a_missing_table_is_service_unavailable(moto_url: str) -> None:
    store = DynamoHistoryStore("no-such-table", endpoint_url=moto_url, ttl_days=1)

    with pytest.raises(ServiceUnavailable):
        await store.recent(uid(), 5)


async def test_an_endpoint_that_is_down_makes_every_call_service_unavailable() -> None:
    store = DynamoHistoryStore(
        "voicebot-history", endpoint_url=f"http://127.0.0.1:{free_port()}", ttl_days=1
    )
    user = uid()

    # In parallel: each call first spends botocore's retries on the refused connection.
    results = await asyncio.wait_for(
        asyncio.gather(
            store.recent(user, 5),
            store.save(turn(user, "t1", 1000)),
            store.mark_heard(user, "t1", 1),
            store.clear(user),
            return_exceptions=True,
        ),
        timeout=30,
    )

    assert [type(r) for r in results] == [ServiceUnavailable] * 4, results


async def test_a_request_dynamodb_refuses_stays_an_error_not_service_unavailable(
    store: DynamoHistoryStore,
) -> None:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as raised:
        await store.recent("", 5)  # an empty key value is a ValidationException

    assert not isinstance(raised.value, ServiceUnavailable)
    assert raised.value.response["Error"]["Code"] == "ValidationException"
