"""HistoryService on an in-memory store: what the page's history shows, and late corrections."""

from __future__ import annotations

from voicebot.ports import Turn
from voicebot.services.history import HistoryService

from .memory_ports import MemoryHistory


def turn(
    user: str, turn_id: str, at: int, sentences: list[str], *, interrupted: bool = False
) -> Turn:
    return Turn(user, turn_id, f"질문 {turn_id}", " ".join(sentences), interrupted, at, sentences)


async def stored(*turns: Turn) -> MemoryHistory:
    history = MemoryHistory()
    for t in turns:
        await history.save(t)
    return history


async def test_list_shows_the_newest_turns_oldest_first_in_the_protocol_shape() -> None:
    history = await stored(
        turn("u1", "t1", 1000, ["하나."]),
        turn("u1", "t2", 2000, ["둘."], interrupted=True),
        turn("u1", "t3", 3000, ["셋."]),
    )

    listed = await HistoryService(history).list("u1", 2)

    assert listed == {
        "turns": [
            {
                "turnId": "t2",
                "user": "질문 t2",
                "assistant": "둘.",
                "interrupted": True,
                "at": 2000,
            },
            {
                "turnId": "t3",
                "user": "질문 t3",
                "assistant": "셋.",
                "interrupted": False,
                "at": 3000,
            },
        ]
    }


async def test_list_shows_only_the_callers_turns() -> None:
    history = await stored(turn("u1", "t1", 1, ["하나."]), turn("u2", "t2", 2, ["둘."]))

    assert [t["turnId"] for t in (await HistoryService(history).list("u2", 10))["turns"]] == ["t2"]
    assert await HistoryService(history).list("u3", 10) == {"turns": []}


async def test_record_heard_cuts_the_stored_answer_to_the_sentences_heard() -> None:
    history = await stored(turn("u1", "t1", 1, ["첫 문장.", "둘째 문장.", "셋째 문장."]))
    service = HistoryService(history)

    assert await service.record_heard("u1", "t1", 2) is True

    (listed,) = (await service.list("u1", 10))["turns"]
    assert listed["assistant"] == "첫 문장. 둘째 문장." and listed["interrupted"] is True


async def test_record_heard_without_heard_changes_nothing() -> None:
    history = await stored(turn("u1", "t1", 1, ["첫 문장.", "둘째 문장."]))

    assert await HistoryService(history).record_heard("u1", "t1", None) is False

    assert history.turns[0].assistant_text == "첫 문장. 둘째 문장."
    assert history.turns[0].interrupted is False


async def test_record_heard_for_an_unknown_or_another_users_turn_is_false() -> None:
    history = await stored(turn("u1", "t1", 1, ["첫 문장."]))
    service = HistoryService(history)

    assert await service.record_heard("u1", "nope", 0) is False
    assert await service.record_heard("u2", "t1", 0) is False
    assert history.turns[0].assistant_text == "첫 문장."


async def test_clear_removes_only_the_callers_turns() -> None:
    history = await stored(turn("u1", "t1", 1, ["하나."]), turn("u2", "t2", 2, ["둘."]))
    service = HistoryService(history)

    await service.clear("u1")

    assert await service.list("u1", 10) == {"turns": []}
    assert [t["turnId"] for t in (await service.list("u2", 10))["turns"]] == ["t2"]
