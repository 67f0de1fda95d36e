"""The device token: read its expiry, renew it before it runs out and after a 401.

A device token lasts ``TOKEN_TTL_SECONDS`` (12 h by default); ``POST /api/sessions/device`` trades
it for a new one, until the session reaches its maximum age (7 days by default), after which the
device needs a new session's token. The interpreter renews at three quarters of the token's
lifetime, and at once when the API answers 401. The latest token is kept in the outbox file, so
a restarted device (Greengrass restarts a component with its configured, perhaps long expired,
token) goes on with it.

The claims are read without checking the signature: only the API can, and the device only needs
to know when to renew.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import Callable
from typing import Any, Literal

import httpx

log = logging.getLogger(__name__)

DEVICE_REFRESH_PATH = "/api/sessions/device"
_RETRY_S = 30.0  # after a renewal that could not reach the API
_MIN_LEAD_S = 30.0

RefreshOutcome = Literal["refreshed", "refused", "unavailable"]


def token_claims(token: str) -> dict[str, Any]:
    """The claims of a ``v1.<claims>.<signature>`` token, or {} for anything else."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != "v1":
        return {}
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return {}
    return claims if isinstance(claims, dict) else {}


def _expiry(token: str) -> int | None:
    exp = token_claims(token).get("exp")
    return exp if isinstance(exp, int) else None


class DeviceCredentials:
    """The current device token; renewed in place (one renewal at a time)."""

    def __init__(
        self,
        token: str,
        *,
        saved: str | None = None,
        save: Callable[[str], None] | None = None,
    ) -> None:
        # A token saved by an earlier run wins when it lasts longer than the configured one.
        configured, kept = _expiry(token), _expiry(saved) if saved else None
        self.token = saved if saved and kept is not None and (configured or 0) < kept else token
        self._save = save
        self._lock = asyncio.Lock()
        self._refused = False
        self.refreshes = 0

    @property
    def expires_at(self) -> int | None:
        return _expiry(self.token)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def refresh(self, client: httpx.AsyncClient, base: str, stale: str) -> RefreshOutcome:
        """Trade ``stale`` (the token a request was refused with) for a new one."""
        async with self._lock:
            if self.token != stale:
                return "refreshed"  # someone renewed it meanwhile
            if self._refused:
                return "refused"
            try:
                response = await client.post(base + DEVICE_REFRESH_PATH, headers=self.headers())
            except httpx.TransportError as exc:
                log.warning("could not renew the device token: %r", exc)
                return "unavailable"
            if response.status_code in (401, 403, 404):  # 404: an API that cannot renew
                self._refused = True
                log.error(
                    "The API will not renew the device token (HTTP %d: %s)",
                    response.status_code,
                    error_text(response),
                )
                return "refused"
            try:
                token = response.json()["deviceToken"]
                if response.status_code != 200 or not isinstance(token, str):
                    raise ValueError(response.status_code)
            except (ValueError, KeyError, TypeError):
                log.warning("could not renew the device token: HTTP %d", response.status_code)
                return "unavailable"
            self.token = token
            self.refreshes += 1
            if self._save is not None:
                self._save(token)
            log.info("device token renewed; it now expires at %s", _when(self.expires_at))
            return "refreshed"

    async def keep_fresh(
        self, client: httpx.AsyncClient, base: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        """Renew the token before it expires, for as long as the session allows."""
        while not self._refused:
            expires_at = self.expires_at
            if expires_at is None:
                return  # not a token whose expiry can be read: renew on a 401 only
            issued_at = token_claims(self.token).get("iat")
            lifetime = expires_at - issued_at if isinstance(issued_at, int) else 3600
            lead = max(_MIN_LEAD_S, lifetime / 4)
            await asyncio.sleep(max(0.0, expires_at - lead - clock()))
            if await self.refresh(client, base, self.token) == "unavailable":
                await asyncio.sleep(_RETRY_S)
            elif self.expires_at == expires_at:
                # Renewed, but the session's end caps it: nothing later to get.
                log.warning(
                    "the device's session ends at %s; give it a new device token by then",
                    _when(expires_at),
                )
                return


def _when(epoch: int | None) -> str:
    if epoch is None:
        return "an unknown time"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def error_text(response: httpx.Response) -> str:
    """The API's error envelope as `code: message`, or the start of the body when it has none."""
    try:
        error = response.json().get("error", {})
        return f"{error.get('code')}: {error.get('message')}"
    except (ValueError, AttributeError):
        return response.text[:200]
