"""HMAC-signed bearer tokens bound to a server-issued user id, a scope and an expiry.

Format: ``v1.<base64url(json claims)>.<base64url(hmac-sha256)>``. Small, dependency-free and
constant-time to verify; the signing secret is the deployment's (Secrets Manager on AWS).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Literal

from .errors import unauthorized

Scope = Literal["client", "device"]
_VERSION = "v1"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_user_id() -> str:
    """An unguessable id from ``[A-Za-z0-9_-]`` (128 bits of randomness)."""
    return "u_" + secrets.token_urlsafe(16)


@dataclass(frozen=True)
class Claims:
    user_id: str
    scope: Scope
    expires_at: int


class TokenSigner:
    def __init__(self, secret: bytes, ttl_seconds: int) -> None:
        if len(secret) < 16:
            raise ValueError("The token secret must be at least 16 bytes.")
        self._secret = secret
        self._ttl = ttl_seconds

    def _sign(self, payload: str) -> str:
        mac = hmac.new(self._secret, f"{_VERSION}.{payload}".encode(), hashlib.sha256)
        return _b64(mac.digest())

    def issue(self, user_id: str, scope: Scope, now: float | None = None) -> tuple[str, int]:
        expires_at = int(now if now is not None else time.time()) + self._ttl
        claims = {"sub": user_id, "scp": scope, "exp": expires_at}
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        return f"{_VERSION}.{payload}.{self._sign(payload)}", expires_at

    def verify(self, token: str | None, scope: Scope, now: float | None = None) -> Claims:
        if not token or len(token) > 1024:
            raise unauthorized()
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != _VERSION:
            raise unauthorized("The token is malformed.")
        payload, signature = parts[1], parts[2]
        if not hmac.compare_digest(self._sign(payload), signature):
            raise unauthorized("The token signature is invalid.")
        try:
            claims = json.loads(_unb64(payload))
            user_id, token_scope, expires_at = claims["sub"], claims["scp"], int(claims["exp"])
        except (ValueError, KeyError, TypeError):
            raise unauthorized("The token is malformed.") from None
        if expires_at <= int(now if now is not None else time.time()):
            raise unauthorized("The token has expired.")
        if token_scope != scope:
            raise unauthorized(f"This route needs a {scope} token.")
        return Claims(user_id=str(user_id), scope=token_scope, expires_at=expires_at)


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer …`` header, or None."""
    if not authorization:
        return None
    kind, _, value = authorization.strip().partition(" ")
    return value.strip() or None if kind.lower() == "bearer" else None
