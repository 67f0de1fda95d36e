"""ConnectionPoster over the API Gateway management API (``@connections``).

boto3 is synchronous; posts run in worker threads so one slow connection never stalls the
event loop that is streaming the model.
"""

from __future__ import annotations

import asyncio
from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

# One attempt per call: the callers retry with their own backoff (services/relay.py
# post_with_retry, 4 attempts as botocore's 3 retries made), and only they know whether a
# failed post is still replayable.
_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 1},
    connect_timeout=2,
    read_timeout=5,
    max_pool_connections=50,
)


@lru_cache(maxsize=8)
def _client(endpoint_url: str) -> Any:
    return boto3.client("apigatewaymanagementapi", endpoint_url=endpoint_url, config=_CONFIG)


class ApiGatewayConnectionPoster:
    def __init__(self, endpoint_url: str) -> None:
        self._client = _client(endpoint_url)

    def _post_sync(self, connection_id: str, data: bytes) -> bool:
        try:
            self._client.post_to_connection(ConnectionId=connection_id, Data=data)
            return True
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("GoneException", "ForbiddenException") or status == 410:
                return False
            raise

    async def post(self, connection_id: str, data: bytes) -> bool:
        return await asyncio.to_thread(self._post_sync, connection_id, data)

    def _close_sync(self, connection_id: str) -> None:
        try:
            self._client.delete_connection(ConnectionId=connection_id)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code", "") != "GoneException":
                raise

    async def close(self, connection_id: str) -> None:
        await asyncio.to_thread(self._close_sync, connection_id)


def endpoint_from_request(domain_name: str, stage: str) -> str:
    """The management endpoint of the API a WebSocket event came through."""
    scheme = "http" if domain_name.startswith(("127.0.0.1", "localhost")) else "https"
    return f"{scheme}://{domain_name}/{stage}"
