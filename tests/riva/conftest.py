"""Fixtures for the Riva tests: a Riva gRPC server on 127.0.0.1 (see riva_fake_server.py).

Everything runs the real ``nvidia-riva-client`` against it; no GPU and no network beyond loopback.
"""

from __future__ import annotations

import datetime
import ipaddress
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
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("riva-tls")
    key_path, cert_path = folder / "key.pem", folder / "cert.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path
