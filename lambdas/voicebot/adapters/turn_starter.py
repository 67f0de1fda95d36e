"""TurnStarter on AWS Lambda: an asynchronous invoke of the chat function.

The chat route's function answers API Gateway at once (a turn outlives its 29-second integration
timeout) and the transcripts function answers its device at once (202); either turn runs in the
chat function under that function's own timeout and concurrency.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ..contract.wire import TurnInvocation
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

    async def start(self, turn: TurnInvocation) -> None:
        payload = json.dumps(turn.invocation_event()).encode()
        await asyncio.to_thread(self._invoke, payload)
