"""Where the token signing keys come from: inline settings, or a Secrets Manager secret.

On AWS a rotation is ``put-secret-value`` on the signing-key secret: Secrets Manager moves the
old value to the ``AWSPREVIOUS`` stage, which is read as the previous key (accepted for tokens
issued within the grace window, see ``voicebot.tokens``).
"""

from __future__ import annotations

import contextlib
from typing import Any

from ..contract.settings import TokenSettings
from ..tokens import KeyLoader, SigningKeys


def inline_keys(settings: TokenSettings) -> KeyLoader | None:
    """The keys given in the environment (local stack, tests), or None without TOKEN_SECRET."""
    if settings.token_secret is None:
        return None
    previous = settings.token_secret_previous
    keys = SigningKeys(
        settings.token_secret.get_secret_value().encode(),
        previous.get_secret_value().encode() if previous is not None else None,
    )
    return lambda force: keys


class SecretsManagerKeys:
    """Reads ``AWSCURRENT`` and ``AWSPREVIOUS`` of one secret, each time it is called.

    The signer decides when (on its reload schedule, or after a signature failed); this reader
    keeps no cache of its own, so ``force`` needs no handling here.
    """

    def __init__(self, secret_arn: str, client: Any | None = None) -> None:
        self._arn = secret_arn
        self._client = client

    def _secrets_manager(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("secretsmanager")
        return self._client

    def __call__(self, force: bool) -> SigningKeys:
        client = self._secrets_manager()
        current = client.get_secret_value(SecretId=self._arn)["SecretString"]
        previous: str | None = None
        with contextlib.suppress(client.exceptions.ResourceNotFoundException):  # never rotated
            answer = client.get_secret_value(SecretId=self._arn, VersionStage="AWSPREVIOUS")
            previous = answer["SecretString"]
        return SigningKeys(current.encode(), previous.encode() if previous else None)
