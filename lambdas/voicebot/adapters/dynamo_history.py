"""HistoryStore on DynamoDB.

Keys: partition ``userId``; sort ``turnKey`` = zero-padded epoch milliseconds + ``#`` + turn id,
so two turns in the same second (or millisecond) never collide and a Query lists them in time
order. Items expire through the table's TTL attribute ``expiresAt``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from boto3.dynamodb.conditions import Key
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ..errors import ServiceUnavailable
from ..ports import Turn

# One container serves one turn at a time on Lambda, but the local stack runs dozens at once
# through this client: a larger pool than botocore's 10 avoids reconnecting under load.
_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=2,
    read_timeout=5,
    max_pool_connections=50,
)
_UNAVAILABLE = ("ResourceNotFoundException", "ServiceUnavailable", "InternalServerError")


class DynamoHistoryStore:
    def __init__(self, table_name: str, *, endpoint_url: str | None, ttl_days: int) -> None:
        resource = boto3.resource("dynamodb", endpoint_url=endpoint_url, config=_CONFIG)
        self._table = resource.Table(table_name)
        self._ttl_seconds = ttl_days * 86400

    async def recent(self, user_id: str, limit: int) -> list[Turn]:
        if limit <= 0:
            return []
        return await asyncio.to_thread(self._recent_sync, user_id, limit)

    async def save(self, turn: Turn) -> None:
        await asyncio.to_thread(self._save_sync, turn)

    async def mark_heard(self, user_id: str, turn_id: str, heard: int) -> bool:
        return await asyncio.to_thread(self._mark_heard_sync, user_id, turn_id, heard)

    async def clear(self, user_id: str) -> None:
        await asyncio.to_thread(self._clear_sync, user_id)

    def _mark_heard_sync(self, user_id: str, turn_id: str, heard: int) -> bool:
        # A late cancel is about a turn that just finished: it is among the newest few.
        with _unavailable_on_failure():
            response = self._table.query(
                KeyConditionExpression=Key("userId").eq(user_id), ScanIndexForward=False, Limit=5
            )
        item = next((i for i in response.get("Items", []) if i.get("turnId") == turn_id), None)
        if item is None:
            return False
        stored = _to_turn(item)
        if stored.interrupted:
            return False
        said = " ".join(stored.sentences[:heard])
        with _unavailable_on_failure():
            self._table.update_item(
                Key={"userId": user_id, "turnKey": item["turnKey"]},
                UpdateExpression="SET assistant = :heard, interrupted = :yes",
                ExpressionAttributeValues={":heard": said, ":yes": True},
            )
        return True

    def _recent_sync(self, user_id: str, limit: int) -> list[Turn]:
        with _unavailable_on_failure():
            response = self._table.query(
                KeyConditionExpression=Key("userId").eq(user_id),
                ScanIndexForward=False,
                Limit=limit,
            )
        return [_to_turn(item) for item in reversed(response.get("Items", []))]

    def _save_sync(self, turn: Turn) -> None:
        item: dict[str, Any] = {
            "userId": turn.user_id,
            "turnKey": f"{turn.at_ms:015d}#{turn.turn_id}",
            "turnId": turn.turn_id,
            "user": turn.user_text,
            "assistant": turn.assistant_text,
            "interrupted": turn.interrupted,
            "at": turn.at_ms,
            "sentences": turn.sentences,
            "expiresAt": int(time.time()) + self._ttl_seconds,
        }
        with _unavailable_on_failure():
            self._table.put_item(Item=item)

    def _clear_sync(self, user_id: str) -> None:
        with _unavailable_on_failure():
            kwargs: dict[str, Any] = {
                "KeyConditionExpression": Key("userId").eq(user_id),
                "ProjectionExpression": "userId, turnKey",
            }
            with self._table.batch_writer() as batch:
                while True:
                    page = self._table.query(**kwargs)
                    for item in page.get("Items", []):
                        key = {"userId": item["userId"], "turnKey": item["turnKey"]}
                        batch.delete_item(Key=key)
                    if "LastEvaluatedKey" not in page:
                        break
                    kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@contextmanager
def _unavailable_on_failure() -> Iterator[None]:
    """Turn "DynamoDB cannot be reached" into ServiceUnavailable; other errors stay errors."""
    try:
        yield
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in _UNAVAILABLE or code.endswith("ThroughputExceededException"):
            raise ServiceUnavailable(f"DynamoDB: {code}") from exc
        raise
    except (BotoCoreError, OSError) as exc:
        raise ServiceUnavailable("DynamoDB is unreachable.") from exc


def _to_turn(item: dict[str, Any]) -> Turn:
    return Turn(
        user_id=str(item["userId"]),
        turn_id=str(item["turnId"]),
        user_text=str(item.get("user", "")),
        assistant_text=str(item.get("assistant", "")),
        interrupted=bool(item.get("interrupted", False)),
        at_ms=int(item.get("at", 0)),
        sentences=[str(s) for s in item.get("sentences", [])],
    )
