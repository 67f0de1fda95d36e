"""The contract layer: one table of routes, events and settings, and everything agrees with it.

The prose contract (docs/PROTOCOL.md) names the routes, actions and events; the generated schema
(docs/wire-schema.json) must be current and must accept what the server really sends; and no
module of the project imports another in a circle.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import jsonschema
import pytest

from voicebot.contract import routes, schema, settings, wire
from voicebot.protocol import audio_events, encode_event

REPO = Path(__file__).resolve().parents[2]
PROTOCOL = (REPO / "docs" / "PROTOCOL.md").read_text(encoding="utf-8")
PACKAGES = {
    "voicebot": REPO / "lambdas" / "voicebot",
    "handlers": REPO / "lambdas" / "handlers",
    "local": REPO / "local",
    "interpreter": REPO / "interpreter",
    "cdk": REPO / "cdk",
    "bench": REPO / "bench",
}


def test_every_rest_route_is_the_one_protocol_md_documents() -> None:
    documented = set(re.findall(r"^\| `(GET|POST|DELETE|PUT) (/api/[a-z/]+)", PROTOCOL, re.M))
    assert documented == {(r.method, r.path) for r in routes.REST_ROUTES}


def test_every_client_action_and_server_event_is_documented() -> None:
    # PROTOCOL.md's message index is generated from the registry, and must be the current one.
    assert schema.with_index(PROTOCOL) == PROTOCOL, "run python -m voicebot.contract.schema --write"
    index = PROTOCOL[PROTOCOL.index(schema.INDEX_BEGIN) : PROTOCOL.index(schema.INDEX_END)]
    action_table, event_table = index.split("\n\n")
    actions = re.findall(r"^\| `(\w+)` \|", action_table, re.M)
    events = re.findall(r"^\| `(\w+)` \|", event_table, re.M)
    assert set(actions) == routes.ACTION_NAMES
    assert set(events) == {m.model_fields["type"].default for m in wire.SERVER_EVENTS}


def test_each_websocket_route_reaches_a_function_and_an_unknown_action_the_default() -> None:
    keys = [r.route_key for r in routes.WEBSOCKET_ROUTES]
    assert len(keys) == len(set(keys))
    assert {r.function for r in routes.WEBSOCKET_ROUTES} <= set(routes.FUNCTION_KEYS)
    assert {r.function for r in routes.REST_ROUTES} <= set(routes.FUNCTION_KEYS)
    assert routes.route_key_for('{"action": "cancel", "turnId": "t"}') == "cancel"
    for body in ('{"action": "nope"}', '{"action": ["chat"]}', "[]", "not json", None):
        assert routes.route_key_for(body) == "$default"


def test_a_setting_is_named_once_across_every_settings_class() -> None:
    names = [name for cls in settings.ALL_SETTINGS for name in cls.model_fields]
    assert len(names) == len(set(names))
    keys = [key for cls in settings.ALL_SETTINGS for key in cls.context_fields().values()]
    assert len(keys) == len(set(keys))


def test_a_settings_environment_rejects_a_name_the_class_does_not_have() -> None:
    assert settings.ChatSettings.environment(chat_max_tokens=99) == {"CHAT_MAX_TOKENS": "99"}
    with pytest.raises(KeyError):
        settings.ChatSettings.environment(chat_max_token=99)


def test_the_checked_in_wire_schema_is_the_generated_one() -> None:
    assert schema.SCHEMA_PATH.read_text(encoding="utf-8") == schema.render(), (
        "run python -m voicebot.contract.schema --write"
    )


def _group(name: str) -> dict[str, object]:
    return {"$ref": f"#/$defs/{name}", "$defs": schema.build_schema()["$defs"]}


def test_the_schema_accepts_what_the_server_sends_and_nothing_else() -> None:
    sent = [
        wire.TranscriptEvent(id="1-0", utteranceId="u1", seq=0, text="안녕", final=False),
        wire.TranscriptEvent(
            id="1-1", utteranceId="u1", seq=1, text="안녕.", final=True, lang="ko"
        ),
        wire.DeltaEvent(turnId="t", text="안"),
        wire.SentenceEvent(turnId="t", index=0, text="안녕하세요."),
        *audio_events("t", 0, b"OggS" * 10),
        wire.DoneEvent(turnId="t", text="안녕하세요.", interrupted=False, ledger={"received": 1}),
        wire.ErrorEvent(code="bad_request", message="text: too long", turnId="t"),
        wire.ErrorEvent(code="unauthorized", message="Sign in."),
        wire.PongEvent(),
    ]
    for event in sent:
        jsonschema.validate(json.loads(encode_event(event)), _group("ServerToPage"))
    for wrong in (
        {"type": "delta", "turnId": "t"},  # a field missing
        {"type": "delta", "turnId": "t", "text": "x", "extra": 1},  # a field the contract lacks
        {"type": "bogus"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(wrong, _group("ServerToPage"))


def test_the_schema_accepts_what_the_page_sends() -> None:
    for message in (
        {"action": "chat", "turnId": "t1", "text": "안녕"},
        {"action": "cancel", "turnId": "t1", "heard": 2},
        {"action": "resume", "after": "0-0"},
        {"action": "ping"},
    ):
        jsonschema.validate(message, _group("PageToServer"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {"action": "chat", "turnId": "t 1", "text": "x"}, _group("PageToServer")
        )


def _module_name(path: Path, package: str, root: Path) -> str:
    parts = [package, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """First-party modules this module imports when it is imported (TYPE_CHECKING left out)."""
    found: set[str] = set()
    base = module if is_package else module.rpartition(".")[0]

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            origin = node.module or ""
            if node.level:
                anchor = base.rsplit(".", node.level - 1)[0] if node.level > 1 else base
                origin = f"{anchor}.{origin}" if origin else anchor
            found.add(origin)
            found.update(f"{origin}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def test_no_module_imports_another_in_a_circle() -> None:
    modules: dict[str, tuple[Path, bool]] = {}
    for package, root in PACKAGES.items():
        for path in root.rglob("*.py"):
            if "__pycache__" not in path.parts:
                modules[_module_name(path, package, root)] = (path, path.name == "__init__.py")
    graph = {
        name: {
            imported
            for imported in _imports(ast.parse(path.read_text(encoding="utf-8")), name, is_pkg)
            if imported in modules and imported != name
        }
        for name, (path, is_pkg) in modules.items()
    }
    circles = []
    for start in graph:  # a depth-first search from each module for a way back to it
        stack, seen = [(start, [start])], set()
        while stack:
            node, trail = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    circles.append(" -> ".join([*trail, start]))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*trail, nxt]))
    assert not circles, circles
