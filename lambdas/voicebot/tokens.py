"""HMAC-signed bearer tokens bound to a server-issued user id, a scope and an expiry.

Format: ``v1.<base64url(json claims)>.<base64url(hmac-sha256)>``. Small, dependency-free and
constant-time to verify; the signing secret is the deployment's (Secrets Manager on AWS).

Claims: ``sub`` (user id), ``scp`` (scope), ``exp`` (expiry), ``iat`` (issued at) and ``ses``
(when the session began: a refresh keeps it, and no token outlives ``ses`` + the maximum session
age). Tokens issued before ``iat``/``ses`` existed still verify; their session is taken to have
begun when they were issued.

Key rotation: the keys come from a loader (:class:`SigningKeys`: the current key and, during a
rotation, the previous one). They are re-read every ``token_key_reload_seconds`` and at once (at
most every ``token_key_retry_seconds``) when a signature fails with the keys held, so a key rotated
in Secrets Manager is used without a deploy, even by a warm container that has not reached its next
reload. A token signed with the previous key is accepted only if it was issued at most
``token_previous_key_grace_seconds`` ago, so the old key stops working that long after a rotation
at the latest (:class:`KeyRotationSettings`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from .contract.settings import KeyRotationSettings
from .errors import unauthorized

Scope = Literal["client", "device"]
_VERSION = "v1"
_MIN_SECRET_BYTES = 16

log = logging.getLogger(__name__)


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
    issued_at: int = 0
    session_started_at: int = 0


@dataclass(frozen=True)
class SigningKeys:
    """The key that signs, and the one it replaced while a rotation's grace window lasts."""

    current: bytes
    previous: bytes | None = None

    def __post_init__(self) -> None:
        for key in (self.current, self.previous):
            if key is not None and len(key) < _MIN_SECRET_BYTES:
                raise ValueError(f"The token secret must be at least {_MIN_SECRET_BYTES} bytes.")


# Called with force=True when a signature failed: bypass any cache on the way to the store.
KeyLoader = Callable[[bool], SigningKeys]


class TokenSigner:
    def __init__(
        self,
        secret: bytes | KeyLoader,
        ttl_seconds: int,
        *,
        max_session_seconds: int | None = None,
        rotation: KeyRotationSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if isinstance(secret, bytes):
            keys = SigningKeys(secret)
            self._load: KeyLoader | None = None
        else:
            self._load = secret
            keys = secret(False)
        self._keys = keys
        self._ttl = ttl_seconds
        self._max_session = max_session_seconds
        # The deployed defaults unless told otherwise (wiring passes the function's settings).
        self._rotation = rotation or KeyRotationSettings()
        self._clock = clock
        self._loaded_at = clock()
        self._forced_at = -float("inf")  # the last re-read that a failed signature asked for
        self._lock = threading.Lock()

    # ---- keys ---------------------------------------------------------------------------------

    def _current_keys(self) -> SigningKeys:
        if (
            self._load is not None
            and self._clock() - self._loaded_at >= self._rotation.token_key_reload_seconds
        ):
            self._reload_keys(force=False)
        return self._keys

    def _reload_keys(self, *, force: bool) -> bool:
        """Read the keys again; True if they changed. A store that fails keeps the keys held."""
        if self._load is None:
            return False
        with self._lock:
            self._loaded_at = self._clock()
            try:
                keys = self._load(force)
            except Exception:
                log.exception("could not re-read the token signing key; keeping the one held")
                return False
            changed = keys != self._keys
            if changed:
                log.info("token signing key changed (rotation)")
            self._keys = keys
            return changed

    @staticmethod
    def _mac(key: bytes, payload: str) -> str:
        return _b64(hmac.new(key, f"{_VERSION}.{payload}".encode(), hashlib.sha256).digest())

    def _signed_with(self, payload: str, signature: str) -> Literal["current", "previous"] | None:
        keys = self._current_keys()
        for attempt in (1, 2):
            if hmac.compare_digest(self._mac(keys.current, payload), signature):
                return "current"
            if keys.previous is not None and hmac.compare_digest(
                self._mac(keys.previous, payload), signature
            ):
                return "previous"
            # Perhaps the key was rotated since it was read: read it once more, but not for
            # every forged token (that would let anyone hammer the secret store).
            if (
                attempt == 2
                or self._clock() - self._forced_at < self._rotation.token_key_retry_seconds
            ):
                return None
            self._forced_at = self._clock()
            if not self._reload_keys(force=True):
                return None
            keys = self._keys
        return None

    # ---- tokens -------------------------------------------------------------------------------

    def issue(
        self,
        user_id: str,
        scope: Scope,
        now: float | None = None,
        *,
        session_started_at: int | None = None,
    ) -> tuple[str, int]:
        issued_at = int(now if now is not None else time.time())
        started = issued_at if session_started_at is None else session_started_at
        expires_at = issued_at + self._ttl
        if self._max_session is not None:
            expires_at = min(expires_at, started + self._max_session)
        claims = {"sub": user_id, "scp": scope, "exp": expires_at, "iat": issued_at, "ses": started}
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        signature = self._mac(self._current_keys().current, payload)
        return f"{_VERSION}.{payload}.{signature}", expires_at

    def session_ends_at(self, session_started_at: int) -> int | None:
        """When a session that began then can no longer be refreshed (None: never)."""
        if self._max_session is None:
            return None
        return session_started_at + self._max_session

    def verify(
        self,
        token: str | None,
        scope: Scope,
        now: float | None = None,
        *,
        allow_expired: bool = False,
    ) -> Claims:
        """The claims of a valid token; ``allow_expired`` for renewals bounded by session age."""
        if not token or len(token) > 1024:
            raise unauthorized()
        # Anything outside ASCII cannot be base64url or a signature; refuse it before hashing.
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != _VERSION or not token.isascii():
            raise unauthorized("The token is malformed.")
        payload, signature = parts[1], parts[2]
        signed_with = self._signed_with(payload, signature)
        if signed_with is None:
            raise unauthorized("The token signature is invalid.")
        try:
            claims = json.loads(_unb64(payload))
            user_id, token_scope, expires_at = claims["sub"], claims["scp"], int(claims["exp"])
            issued_at = int(claims.get("iat", 0))
            started = int(claims.get("ses", issued_at))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise unauthorized("The token is malformed.") from None
        current_time = int(now if now is not None else time.time())
        if expires_at <= current_time and not allow_expired:
            raise unauthorized("The token has expired.")
        if (
            signed_with == "previous"
            and issued_at
            and issued_at + self._rotation.token_previous_key_grace_seconds <= current_time
        ):
            raise unauthorized("The token was signed with a retired key.")
        if token_scope != scope:
            raise unauthorized(f"This route needs a {scope} token.")
        if not started:  # a token from before sessions had a start: it began when issued
            started = expires_at - self._ttl
        return Claims(
            user_id=str(user_id),
            scope=token_scope,
            expires_at=expires_at,
            issued_at=issued_at,
            session_started_at=started,
        )


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer …`` header, or None."""
    if not authorization:
        return None
    kind, _, value = authorization.strip().partition(" ")
    return value.strip() or None if kind.lower() == "bearer" else None
