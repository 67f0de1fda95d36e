"""SSML for Polly: user and model text is escaped, never interpreted as markup."""

from __future__ import annotations

from xml.sax.saxutils import escape

_ENTITIES = {'"': "&quot;", "'": "&apos;"}


def without_controls(text: str) -> str:
    """The text less control characters other than tab and newlines: they are invalid in XML
    1.0, and Polly rejects them in plain text too."""
    return "".join(ch for ch in text if ch in "\t\n\r" or ord(ch) >= 0x20)


def escape_ssml(text: str) -> str:
    return escape(without_controls(text), _ENTITIES)


def to_ssml(text: str) -> str:
    return f"<speak>{escape_ssml(text)}</speak>"
