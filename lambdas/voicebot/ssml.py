"""SSML for Polly: user and model text is escaped, never interpreted as markup."""

from __future__ import annotations

from xml.sax.saxutils import escape

_ENTITIES = {'"': "&quot;", "'": "&apos;"}


def escape_ssml(text: str) -> str:
    # Control characters other than tab/newline are invalid in XML 1.0; Polly rejects them.
    cleaned = "".join(ch for ch in text if ch in "\t\n\r" or ord(ch) >= 0x20)
    return escape(cleaned, _ENTITIES)


def to_ssml(text: str) -> str:
    return f"<speak>{escape_ssml(text)}</speak>"
