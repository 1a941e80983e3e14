"""The delay kind: its editor form, its limits and when its block is due (eventtree/kinds/delay.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from eventtree.kinds.delay import DelayKind

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.timezone.utc)


def test_a_duration_is_due_that_long_after_now() -> None:
    assert DelayKind.due_at({"seconds": 0}, {}, NOW) == (NOW, "")
    assert DelayKind.due_at({"seconds": 3600}, {}, NOW) == (NOW + dt.timedelta(hours=1), "")


def test_a_moment_relative_to_a_date_field() -> None:
    due, note = DelayKind.due_at({"field": "day", "offset_seconds": -86400}, {"day": "2026-12-24"}, NOW)
    assert due == timezone.make_aware(dt.datetime(2026, 12, 23)) and note == ""


def test_a_moment_already_past_is_due_now() -> None:
    assert DelayKind.due_at({"field": "day", "offset_seconds": 0}, {"day": "2020-01-01"}, NOW) == (NOW, "")
    assert DelayKind.due_at({"field": "day", "offset_seconds": -86400}, {"day": "0001-01-01"}, NOW) == (NOW, "")


@pytest.mark.parametrize("value", [None, "", "not a date"])
def test_an_empty_date_field_is_never_due(value) -> None:
    assert DelayKind.due_at({"field": "day", "offset_seconds": 0}, {"day": value}, NOW) == (
        None, "not scheduled: day holds no date")


def test_a_moment_past_the_end_of_the_calendar_is_never_due() -> None:
    # On the old walker this raised OverflowError and every submit failed.
    due, note = DelayKind.due_at({"field": "day", "offset_seconds": 86400}, {"day": "9999-12-31"}, NOW)
    assert due is None
    assert note.startswith("never: ") and note.endswith("is past the end of the calendar")
    due, note = DelayKind.due_at({"seconds": 10**12}, {}, NOW)  # stored before the limit existed
    assert due is None and note.endswith("is past the end of the calendar")
