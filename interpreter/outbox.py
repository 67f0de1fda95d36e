"""The device's durable state: final transcripts not yet delivered, and the latest device token.

A SQLite file (``--outbox``; by default ``$XDG_STATE_HOME/voicebot/interpreter-outbox.db``, else
``~/.local/state/…``) that survives a crash (``kill -9``), a power cut and a restart: a final is
written, synchronously, before it is queued, and deleted only once the API has answered for it.
A restart sends what is left first, with its own ``utteranceId`` and ``seq``, so the API's
de-duplication by ``(utteranceId, seq)`` turns a final that did arrive before the crash into a
repeat (``delivered: 0``), never a second copy. Partials are not written: they may be dropped,
and the next partial or the final replaces them anyway.

Rows belong to the user of the device token (its ``sub`` claim; a token that is not a Voicebot
token is keyed by its hash): a device given another user's token never sends the previous
user's words. One interpreter at a time may use a file (an exclusive lock).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import time
from pathlib import Path
from typing import IO

from voicebot.contract.wire import TranscriptPost

from .tokens import token_claims


class OutboxError(RuntimeError):
    """The outbox file cannot be opened (or another interpreter holds it)."""


def default_outbox_path() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "voicebot" / "interpreter-outbox.db"


def user_key(token: str) -> str:
    """Whose rows these are: the token's user id, else a hash of the token."""
    subject = token_claims(token).get("sub")
    if isinstance(subject, str) and subject:
        return subject
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()[:32]


_SCHEMA = """
CREATE TABLE IF NOT EXISTS finals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_key TEXT NOT NULL,
    body TEXT NOT NULL,
    queued_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (user_key TEXT PRIMARY KEY, token TEXT NOT NULL);
"""


class DurableOutbox:
    def __init__(self, path: Path, owner: str) -> None:
        self.path = path
        self._owner = owner
        self._lock_file: IO[str] | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._lock_file = _exclusive_lock(path.with_name(path.name + ".lock"))
            if not path.exists():  # the file holds a token: readable by its owner only
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
            self._db = sqlite3.connect(path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")  # a final survives a power cut too
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            self.close()
            raise OutboxError(f"Cannot open the transcript outbox {path}: {exc}") from exc

    def put(self, post: TranscriptPost) -> int:
        cursor = self._db.execute(
            "INSERT INTO finals (user_key, body, queued_at) VALUES (?, ?, ?)",
            (self._owner, post.model_dump_json(exclude_none=True), time.time()),
        )
        return int(cursor.lastrowid or 0)

    def delete(self, row: int) -> None:
        self._db.execute("DELETE FROM finals WHERE id = ?", (row,))

    def pending(self) -> list[tuple[int, TranscriptPost]]:
        """This user's finals left by an earlier run, oldest first."""
        rows = self._db.execute(
            "SELECT id, body FROM finals WHERE user_key = ? ORDER BY id", (self._owner,)
        ).fetchall()
        return [(int(row), TranscriptPost.model_validate_json(body)) for row, body in rows]

    def others(self) -> int:
        """Finals of other users (other device tokens) that this run will not send."""
        (count,) = self._db.execute(
            "SELECT COUNT(*) FROM finals WHERE user_key != ?", (self._owner,)
        ).fetchone()
        return int(count)

    def saved_token(self) -> str | None:
        row = self._db.execute(
            "SELECT token FROM tokens WHERE user_key = ?", (self._owner,)
        ).fetchone()
        return str(row[0]) if row else None

    def save_token(self, token: str) -> None:
        self._db.execute(
            "INSERT INTO tokens (user_key, token) VALUES (?, ?) "
            "ON CONFLICT(user_key) DO UPDATE SET token = excluded.token",
            (self._owner, token),
        )

    def close(self) -> None:
        with contextlib.suppress(AttributeError, sqlite3.Error):
            self._db.close()
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None


def _exclusive_lock(path: Path) -> IO[str]:
    handle = open(path, "a", encoding="utf-8")  # noqa: SIM115 - held open for the run
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, one interpreter per file is the user's to keep
        return handle
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise OSError(
            "another interpreter is using it; give each one its own --outbox FILE"
        ) from None
    return handle
