"""Sessions: issue a server-chosen user id with a client token and a device token."""

from __future__ import annotations

import hmac
from typing import Any

from ..errors import ApiError
from ..tokens import Claims, TokenSigner, new_user_id


class SessionService:
    def __init__(self, signer: TokenSigner, access_code: str | None) -> None:
        self._signer = signer
        self._access_code = access_code

    def create(self, access_code: str | None) -> dict[str, Any]:
        if self._access_code and not hmac.compare_digest(
            (access_code or "").encode(), self._access_code.encode()
        ):
            raise ApiError(401, "invalid_access_code", "The access code is wrong.")
        return self._issue(new_user_id())

    def refresh(self, claims: Claims) -> dict[str, Any]:
        return self._issue(claims.user_id)

    def _issue(self, user_id: str) -> dict[str, Any]:
        token, expires_at = self._signer.issue(user_id, "client")
        device_token, _ = self._signer.issue(user_id, "device")
        return {
            "userId": user_id,
            "token": token,
            "deviceToken": device_token,
            "expiresAt": expires_at,
        }
