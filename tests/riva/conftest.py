"""Fixtures for the Riva tests: a Riva gRPC server on 127.0.0.1 (see riva_fake_server.py).

Everything runs the real ``nvidia-riva-client`` against it; no GPU and no network beyond loopback.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("riva.client", reason="needs requirements/riva.txt")

from riva_fake_server import FakeRiva, RivaServer

# The interpreter tests' transcripts API and recording are reused, not copied.
INTERPRETER_TESTS = Path(__file__).resolve().parents[1] / "interpreter"
if str(INTERPRETER_TESTS) not in sys.path:
    sys.path.append(str(INTERPRETER_TESTS))


@pytest.fixture
def riva() -> Iterator[RivaServer]:
    server = RivaServer(FakeRiva())
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed key and certificate for ``localhost`` and 127.0.0.1."""
    from tests.selfsigned import make_self_signed_cert

    cert_path, key_path = make_self_signed_cert(tmp_path_factory.mktemp("riva-tls"), "riva")
    return key_path, cert_path
