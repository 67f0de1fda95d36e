"""The records the benchmarks write: the keys, their order and their values in the result files."""

from __future__ import annotations

import json

from bench._stats import fields_as_json
from bench._turns import TurnRecord
from bench._v2v_page import VoiceTurn
from bench.segmentation import Counts


def test_fields_are_written_under_their_camel_case_names_in_the_order_given() -> None:
    turn = VoiceTurn("c", 1, "t", "u", turn_id="id", final_text="f")
    assert fields_as_json(turn, "turn_id final_text index") == {
        "turnId": "id",
        "finalText": "f",
        "index": 1,
    }


def test_a_voice_turn_record() -> None:
    turn = VoiceTurn("cfg", 3, "안녕", "u1", eos=12.5, turn_id="t1", final_text="안녕하세요")
    turn.marks, turn.device, turn.ledger = {"a": 1.0}, {"b": 2.0}, {"c": 3.0}
    turn.transcripts = [(1.0, 0, False, "안"), (2.0, 1, True, "안녕")]
    turn.errors, turn.segments = ["x"], {1: "b", 0: "a"}
    assert json.dumps(turn.as_dict(), ensure_ascii=False) == (
        '{"config": "cfg", "index": 3, "text": "안녕", "finalText": "안녕하세요", "turnId": "t1", '
        '"eos": 12.5, "device": {"b": 2.0}, "marks": {"a": 1.0}, "ledger": {"c": 3.0}, '
        '"transcriptsAtPage": [{"t": 1.0, "seq": 0, "final": false, "text": "안"}, '
        '{"t": 2.0, "seq": 1, "final": true, "text": "안녕"}], "errors": ["x"], '
        '"segments": ["a", "b"], "playback": {"gapsMs_tone": [], "gapsMs_speech": []}}'
    )


def test_a_turn_record_with_and_without_its_events() -> None:
    record = TurnRecord("old", 2, 1, 0, 5.0, marks={"m": 1.0}, events=[(1.0, "delta", 0)])
    plain = {
        "mode": "old",
        "users": 2,
        "user": 1,
        "turn": 0,
        "t0": 5.0,
        "marks": {"m": 1.0},
        "ledger": {},
        "errors": [],
    }
    assert list(record.as_dict().items()) == list(plain.items())
    assert record.as_dict(with_events=True) == {
        **plain,
        "events": [{"t": 1.0, "type": "delta", "index": 0}],
    }


def test_segmentation_counts() -> None:
    assert list(Counts(3, 1, 2).as_dict().items()) == [
        ("tp", 3),
        ("fp", 1),
        ("fn", 2),
        ("precision", 0.75),
        ("recall", 0.6),
        ("f1", 2 * 0.75 * 0.6 / 1.35),
    ]
