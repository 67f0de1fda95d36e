"""The soak's counts of lost and duplicated events, in memory that does not grow with the run.

Each device numbers its posts (1, 2, 3, ...; the number rides at the head of the text) and keeps
the numbers that were stored as ranges (``PublishedLog``): one range while nothing fails, one more
per failed post. Each page keeps a ``DeliveryCounter``: the numbers it got in a window above a
floor; below the floor every number is settled, received or (published and not received) kept
in ``missing`` until it arrives late. Stream ids are not numbered densely, so a gap cannot be seen
from them alone: the device's numbers are what is counted; the page still keeps the highest stream
id it got, to resume from.
"""

from __future__ import annotations

from bisect import bisect_right


class PublishedLog:
    """The numbers of one device's posts that were stored, in increasing order, as ranges."""

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        self.count = 0

    def add(self, number: int) -> None:
        if self._ends and number <= self._ends[-1]:
            raise ValueError(f"published numbers must increase: {number} after {self._ends[-1]}")
        if self._ends and self._ends[-1] == number - 1:
            self._ends[-1] = number
        else:
            self._starts.append(number)
            self._ends.append(number)
        self.count += 1

    def __contains__(self, number: object) -> bool:
        if not isinstance(number, int):
            return False
        i = bisect_right(self._starts, number) - 1
        return i >= 0 and number <= self._ends[i]

    @property
    def last(self) -> int:
        return self._ends[-1] if self._ends else 0

    @property
    def ranges(self) -> int:
        return len(self._starts)


class DeliveryCounter:
    """What one page got of its user's published events: counts, and a bounded window.

    Events may arrive out of order (a resume's replay races the live posts), so the last
    ``span`` to ``2 * span`` numbers below the highest one stay open; older ones are settled.
    One that arrives after its number was settled still counts (as ``late``), so ``span``
    bounds memory only; it should exceed how far back an event usually arrives (what was
    published while a page was away).
    """

    def __init__(self, published: PublishedLog, span: int = 250) -> None:
        self.published = published
        self.span = span
        self.floor = 0  # every number up to here is settled
        self.high = 0
        self.window: set[int] = set()  # received numbers above the floor
        self.missing: set[int] = set()  # published numbers up to the floor not received (yet)
        self.received = 0  # distinct events received
        self.duplicated = 0
        self.late = 0  # settled as missing, then received (counted once in received)
        self.unexpected = 0  # received, never published (stored after the device saw an error)

    def got(self, number: int) -> None:
        if number <= self.floor:
            if number in self.missing:
                self.missing.discard(number)
                self.received += 1
                self.late += 1
            else:
                self.duplicated += 1
            return
        if number in self.window:
            self.duplicated += 1
            return
        self.window.add(number)
        self.received += 1
        self.high = max(self.high, number)
        if self.high - self.floor > 2 * self.span:
            self.settle(self.high - self.span)

    def settle(self, upto: int) -> None:
        for number in range(self.floor + 1, upto + 1):
            if number in self.window:
                self.window.discard(number)
                if number not in self.published:
                    self.unexpected += 1
            elif number in self.published:
                self.missing.add(number)
        self.floor = max(self.floor, upto)

    def finish(self) -> int:
        """Settle everything (after the last resume has landed); return how many were lost."""
        self.settle(max(self.published.last, self.high))
        return len(self.missing)

    @property
    def lost(self) -> int:
        return len(self.missing)

    def size(self) -> int:
        """Numbers held (the window and the missing ones): bounded by 2 * span + losses."""
        return len(self.window) + len(self.missing)
