"""TurnStarter on AWS Lambda: an asynchronous invoke of the chat function.

The transcripts function answers its device at once (202); the preemptive turn runs in the chat
function like any other turn, under that function's own timeout and concurrency.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ..contract.wire import PreemptiveTurn
from ..errors import ServiceUnavailable

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=2, read_timeout=5)


class LambdaTurnStarter:
    def __init__(self, function_name: str) -> None:
        self._function = function_name
        self._client: Any = boto3.client("lambda", config=_CONFIG)

    def _invoke(self, payload: bytes) -> None:
        try:
            self._client.invoke(
                FunctionName=self._function, InvocationType="Event", Payload=payload
            )
        except (BotoCoreError, ClientError) as exc:
            raise ServiceUnavailable("The chat function could not be invoked.") from exc

    async def start(self, user_id: str, answer_id: str, text: str) -> None:
        request = PreemptiveTurn(userId=user_id, answerId=answer_id, text=text)
        payload = json.dumps(request.invocation_event()).encode()
        await asyncio.to_thread(self._invoke, payload)
