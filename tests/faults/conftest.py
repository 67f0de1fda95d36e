"""Fixtures shared by the fault files."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.redis_server import EmbeddedRedis


@pytest.fixture(scope="module")
def redis_server() -> Iterator[EmbeddedRedis]:
    """A Redis server of the module's own, which its tests may stop, restart or flush."""
    with EmbeddedRedis() as server:
        yield server
