"""The JSON Schema of the wire, generated from the contract's models.

``docs/wire-schema.json`` is this module's output, checked in so clients in other languages (and
the browser tests) can validate what they send and receive; a test fails when it is stale.

    python -m voicebot.contract.schema            # print it
    python -m voicebot.contract.schema --write    # rewrite docs/wire-schema.json
    python -m voicebot.contract.schema --check    # exit 1 if docs/wire-schema.json is stale
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from . import wire

# docs/ of a source checkout (the contract lives in lambdas/voicebot/contract/).
SCHEMA_PATH = Path(__file__).resolve().parents[3] / "docs" / "wire-schema.json"

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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m voicebot.contract.schema", description=__doc__.split("\n")[0]
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help=f"rewrite {SCHEMA_PATH.name}")
    action.add_argument("--check", action="store_true", help="exit 1 if it is out of date")
    args = parser.parse_args(argv)
    text = render()
    if args.write:
        SCHEMA_PATH.write_text(text, encoding="utf-8")
        print(f"wrote {SCHEMA_PATH}")
    elif args.check:
        current = SCHEMA_PATH.read_text(encoding="utf-8") if SCHEMA_PATH.exists() else ""
        if current != text:
            print(
                f"{SCHEMA_PATH} is out of date: run python -m voicebot.contract.schema --write",
                file=sys.stderr,
            )
            return 1
        print(f"{SCHEMA_PATH.name} is up to date")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
