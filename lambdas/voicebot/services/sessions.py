"""Sessions: issue a server-chosen user id with a client token and a device token.

A session begins at ``create``; refreshing keeps its user id and its start, and no token outlives
the start plus the maximum session age (the signer caps each expiry). A page refreshes both of
its tokens; a device refreshes only its device token, which never becomes a client token.
"""

from __future__ import annotations

import hmac
import time
from typing import Any

from ..errors import ApiError
from ..tokens import Claims, TokenSigner, new_user_id


def session_expired() -> ApiError:
    return ApiError(
        401,
        "session_expired",
        "The session reached its maximum age; start a new one with POST /api/sessions.",
    )


class SessionService:
    def __init__(self, signer: TokenSigner, access_code: str | None) -> None:
        self._signer = signer
        self._access_code = access_code

    def create(self, access_code: str | None) -> dict[str, Any]:
        if self._access_code and not hmac.compare_digest(
            (access_code or "").encode(), self._access_code.encode()
        ):
            raise ApiError(401, "invalid_access_code", "The access code is wrong.")
        now = int(time.time())
        return self._issue(new_user_id(), now, now)

    def refresh(self, claims: Claims, now: float | None = None) -> dict[str, Any]:
        """New client and device tokens for a page's session (same user, same session)."""
        current = self._check_age(claims, now)
        return self._issue(claims.user_id, current, claims.session_started_at)

    def refresh_device(self, claims: Claims, now: float | None = None) -> dict[str, Any]:
        """A new device token for a device's session: a long-running device stays connected."""
        current = self._check_age(claims, now)
        token, expires_at = self._signer.issue(
            claims.user_id, "device", current, session_started_at=claims.session_started_at
        )
        return {
            "userId": claims.user_id,
            "deviceToken": token,
            "expiresAt": expires_at,
            **self._session_end(claims.session_started_at),
        }

    def _check_age(self, claims: Claims, now: float | None) -> int:
        current = int(now if now is not None else time.time())
        ends_at = self._signer.session_ends_at(claims.session_started_at)
        if ends_at is not None and current >= ends_at:
            raise session_expired()
        return current

    def _session_end(self, started_at: int) -> dict[str, int]:
        ends_at = self._signer.session_ends_at(started_at)
        return {} if ends_at is None else {"sessionExpiresAt": ends_at}

    def _issue(self, user_id: str, now: int, started_at: int) -> dict[str, Any]:
        token, expires_at = self._signer.issue(
            user_id, "client", now, session_started_at=started_at
        )
        device_token, _ = self._signer.issue(user_id, "device", now, session_started_at=started_at)
        return {
            "userId": user_id,
            "token": token,
            "deviceToken": device_token,
            "expiresAt": expires_at,
            **self._session_end(started_at),
        }
