"""The JSON Schema of the wire, and PROTOCOL.md's message index, generated from the contract.

``docs/wire-schema.json`` is this module's output, checked in so clients in other languages (and
the browser tests) can validate what they send and receive; a test fails when it is stale. The
*Message index* of ``docs/PROTOCOL.md`` (between its ``generated`` markers) lists every page action
with the function its route reaches, and every server event, from the same models: a new action
is documented there by this command, and the prose around it says what it means.

    python -m voicebot.contract.schema            # print the schema
    python -m voicebot.contract.schema --write    # rewrite both
    python -m voicebot.contract.schema --check    # exit 1 if either is stale
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic.json_schema import models_json_schema

from . import wire

# docs/ of a source checkout (the contract lives in lambdas/voicebot/contract/).
SCHEMA_PATH = Path(__file__).resolve().parents[3] / "docs" / "wire-schema.json"
PROTOCOL_PATH = SCHEMA_PATH.with_name("PROTOCOL.md")
INDEX_BEGIN = "<!-- generated: message index (python -m voicebot.contract.schema --write) -->"
INDEX_END = "<!-- end of the generated message index -->"

# Named groups of messages: what crosses each wire, in which direction.
_GROUPS: dict[str, tuple[str, tuple[type[BaseModel], ...]]] = {
    "PageToServer": ("What a page sends on the WebSocket API.", wire.CLIENT_ACTIONS),
    "ServerToPage": ("What the server sends to a page on the WebSocket API.", wire.SERVER_EVENTS),
    "PageToMic": ("The text frame a page sends on the local stack's /mic.", (wire.MicEnd,)),
    "MicToPage": ("What the local stack's /mic sends to the page.", wire.MIC_EVENTS),
}
_REST_BODIES: tuple[type[BaseModel], ...] = (
    wire.SessionRequest,
    wire.TranscriptPost,
    wire.SpeechRequest,
    wire.TranscribeStreamRequest,
    wire.TranscribeStream,
    wire.PageConfig,
)


def build_schema() -> dict[str, Any]:
    models = {m for _, group in _GROUPS.values() for m in group} | set(_REST_BODIES)
    ordered = sorted(models, key=lambda m: m.__name__)
    # Serialization mode: outgoing events as they are written (optional fields may be absent).
    _, schema = models_json_schema(
        [(m, "validation" if issubclass(m, wire._Incoming) else "serialization") for m in ordered],
        ref_template="#/$defs/{model}",
    )
    definitions: dict[str, Any] = schema["$defs"]
    for model in ordered:
        # What is always on the wire, though the model fills it in by default: an event's
        # fields but the optional ones left out when None, an action's name.
        always = [
            name
            for name, info in model.model_fields.items()
            if info.is_required()
            or (issubclass(model, wire.ServerEvent) and info.default is not None)
            or name == "action"
        ]
        if always:
            definitions[model.__name__]["required"] = always
    for name, (description, group) in _GROUPS.items():
        definitions[name] = {
            "description": description,
            "oneOf": [{"$ref": f"#/$defs/{m.__name__}"} for m in group],
        }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Voicebot wire protocol, version 1",
        "description": (
            "Generated from lambdas/voicebot/contract/wire.py by "
            "`python -m voicebot.contract.schema --write`; docs/PROTOCOL.md is the prose. "
            "REST request bodies: SessionRequest, TranscriptPost, SpeechRequest, "
            "TranscribeStreamRequest (answered with TranscribeStream); "
            "GET /config.json: PageConfig."
        ),
        "$defs": dict(sorted(definitions.items())),
    }


def render() -> str:
    return json.dumps(build_schema(), ensure_ascii=False, indent=2) + "\n"


def _fields(model: type[BaseModel], leave_out: str) -> str:
    # "name?" when the field may be absent: in what a page sends, any field with a default; in
    # an event, an optional field (left out when None). As in the schema's "required".
    def always(info: FieldInfo) -> bool:
        sent_by_server = issubclass(model, wire.ServerEvent) and info.default is not None
        return info.is_required() or sent_by_server

    names = [
        f"`{name}`" if always(info) else f"`{name}?`"
        for name, info in model.model_fields.items()
        if name != leave_out
    ]
    return ", ".join(names) or "—"


def render_index() -> str:
    """PROTOCOL.md's message index: every page action and server event, from the models."""
    lines = [
        INDEX_BEGIN,
        "| page → server `action` | served by | fields (`?`: may be absent) |",
        "| --- | --- | --- |",
        *(
            f"| `{a.name()}` | `{a.function}` | {_fields(a, 'action')} |"
            for a in wire.CLIENT_ACTIONS
        ),
        "",
        "| server → page `type` | fields (`?`: may be absent) |",
        "| --- | --- |",
        *(
            f"| `{e.model_fields['type'].default}` | {_fields(e, 'type')} |"
            for e in wire.SERVER_EVENTS
        ),
        INDEX_END,
    ]
    return "\n".join(lines)


def with_index(protocol: str) -> str:
    """``protocol`` (PROTOCOL.md's text) with its message index regenerated."""
    start = protocol.find(INDEX_BEGIN)
    end = protocol.find(INDEX_END, start + 1) if start >= 0 else -1
    if end < 0:
        raise ValueError(f"{PROTOCOL_PATH.name} has no message index markers")
    return protocol[:start] + render_index() + protocol[end + len(INDEX_END) :]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m voicebot.contract.schema", description=__doc__.split("\n")[0]
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help="rewrite both files")
    action.add_argument("--check", action="store_true", help="exit 1 if either is out of date")
    args = parser.parse_args(argv)
    if not (args.write or args.check):
        sys.stdout.write(render())
        return 0
    try:
        wanted = {SCHEMA_PATH: render(), PROTOCOL_PATH: with_index(_read(PROTOCOL_PATH))}
    except ValueError as exc:  # the markers were edited away: say so, not a traceback
        print(f"{exc}: put back {INDEX_BEGIN} and {INDEX_END}", file=sys.stderr)
        return 2
    if args.write:
        for path, text in wanted.items():
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    elif args.check:
        stale = [path for path, text in wanted.items() if _read(path) != text]
        for path in stale:
            print(
                f"{path} is out of date: run python -m voicebot.contract.schema --write",
                file=sys.stderr,
            )
        if stale:
            return 1
        print(f"{SCHEMA_PATH.name} and {PROTOCOL_PATH.name}'s message index are up to date")
    return 0


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""


if __name__ == "__main__":
    sys.exit(main())
