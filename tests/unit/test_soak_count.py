"""The soak's bounded counts (bench._soak_count) still see a lost and a duplicated event."""

from __future__ import annotations

import json

import pytest

from bench._soak_count import DeliveryCounter, PublishedLog
from bench.soak import Page, Pages


def published(*numbers: int) -> PublishedLog:
    log = PublishedLog()
    for number in numbers:
        log.add(number)
    return log


def test_one_lost_and_one_duplicated_event_are_counted() -> None:
    log = published(*range(1, 21))
    counter = DeliveryCounter(log, span=4)
    for number in range(1, 21):
        if number != 6:  # lost
            counter.got(number)
        if number == 13:  # duplicated, while still in the window
            counter.got(number)
    counter.got(2)  # duplicated long after it was settled
    assert counter.finish() == 1
    assert counter.missing == {6}
    assert (counter.received, counter.duplicated, counter.unexpected) == (19, 2, 0)


def test_a_late_event_is_received_not_lost_and_unpublished_numbers_are_no_gap() -> None:
    log = published(1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12)  # post 3 failed: not published
    assert (log.ranges, 3 in log, 4 in log) == (2, False, True)
    counter = DeliveryCounter(log, span=2)
    for number in (1, 2, 5, 6, 7, 8, 9, 10, 11, 12):  # 4 comes after its number was settled
        counter.got(number)
    assert counter.missing == {4}
    counter.got(4)  # the resume's replay
    counter.got(99)  # stored, though its device was told an error: not published
    assert counter.finish() == 0
    assert (counter.late, counter.unexpected, counter.duplicated) == (1, 1, 0)


def test_the_counts_hold_a_bounded_window_however_long_the_run() -> None:
    counter = DeliveryCounter(published(*range(1, 100_001)), span=50)
    for number in range(1, 100_001):
        counter.got(number)
        assert counter.size() <= 2 * 50 + 1
    assert (counter.finish(), counter.received) == (0, 100_000)


def test_published_numbers_must_increase() -> None:
    with pytest.raises(ValueError):
        published(3, 2)


def test_the_pages_count_what_the_services_post_them() -> None:
    log = published(1, 2, 3)
    page = Page("u1", "u1-p0", DeliveryCounter(log, span=10), connection="c1")
    pages = Pages()
    pages.open["c1"] = page

    def event(number: int, stream_id: str) -> str:
        text = f"#{number} 안녕하세요"
        return json.dumps({"type": "transcript", "id": stream_id, "text": text}, ensure_ascii=False)

    assert pages.post("c1", event(1, "5-0")) is True
    assert pages.post("c1", event(3, "7-0")) is True
    assert pages.post("c1", event(3, "7-0")) is True  # a duplicate delivery
    assert pages.post("gone", event(2, "6-0")) is False
    assert page.last_id == "7-0"  # where it resumes from
    assert (page.counter.finish(), page.counter.duplicated) == (1, 1)
