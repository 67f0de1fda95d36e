"""Pre-signed Amazon Transcribe streaming URLs, signed with botocore's own SigV4 query signer.

The page opens Transcribe's WebSocket API (``StartStreamTranscriptionWebSocket``) with the URL,
so its audio never passes through a Lambda. The URL carries the function's own temporary
credentials' signature (and session token), scoped by its role to that one action; it opens a
stream until it expires, and a stream already open outlives it.
"""

from __future__ import annotations

import time
from functools import cached_property
from urllib.parse import urlsplit, urlunsplit

from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, ReadOnlyCredentials
from botocore.session import Session

from ..errors import ServiceUnavailable

SERVICE = "transcribe"
PATH = "/stream-transcription-websocket"
PORT = 8443


def default_endpoint(region: str) -> str:
    return f"wss://transcribestreaming.{region}.amazonaws.com:{PORT}"


class TranscribeUrlSigner:
    """Signs one URL per call; credentials come from botocore's default chain (on Lambda, the
    function's role), refreshed by botocore before they expire."""

    def __init__(
        self,
        region: str | None,
        endpoint: str | None,
        *,
        sample_rate: int,
        credentials: Credentials | None = None,
    ) -> None:
        self._sample_rate = sample_rate
        self._region = region
        self._endpoint = endpoint
        self._credentials = credentials

    @cached_property
    def _session(self) -> Session:
        return Session()

    @property
    def region(self) -> str:
        region = self._region or self._session.get_config_variable("region")
        if not region:
            raise RuntimeError("Set TRANSCRIBE_REGION or AWS_REGION.")
        return str(region)

    def _frozen_credentials(self) -> ReadOnlyCredentials:
        credentials = self._credentials or self._session.get_credentials()
        if credentials is None:
            raise ServiceUnavailable("no AWS credentials to sign a Transcribe URL with")
        return credentials.get_frozen_credentials()

    def sign(self, language: str, stability: str | None, expires_in: int) -> tuple[str, int]:
        """The ``ws(s)://`` URL of one PCM16 stream and its expiry (epoch seconds); ``stability``
        None: no partial-results stabilization."""
        endpoint = urlsplit(self._endpoint or default_endpoint(self.region))
        secure = endpoint.scheme != "ws"
        query: dict[str, str] = {
            "language-code": language,
            "media-encoding": "pcm",
            "sample-rate": str(self._sample_rate),
        }
        if stability:
            query["enable-partial-results-stabilization"] = "true"
            query["partial-results-stability"] = stability
        # SigV4 covers the host, path and query, not the scheme: sign the https form (botocore
        # then hashes the empty payload, as Transcribe expects) and hand out the WebSocket one.
        request = AWSRequest(
            method="GET", url=urlunsplit(("https", endpoint.netloc, PATH, "", "")), params=query
        )
        credentials = self._frozen_credentials()
        now = time.time()
        SigV4QueryAuth(credentials, SERVICE, self.region, expires=expires_in).add_auth(request)
        signed = urlsplit(request.url)
        url = urlunsplit(("wss" if secure else "ws", *signed[1:]))
        return url, int(now) + expires_in
