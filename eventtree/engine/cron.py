"""Cron expressions of scheduled trees (DESIGN §3.8), read in the project's time zone
(`settings.TIME_ZONE`, from `DJANGO_TIME_ZONE`), as django-q2's scheduler reads them.

Only five fields (minute hour day-of-month month day-of-week): croniter would also take a sixth
(seconds), which means nothing to a scheduler that looks for due schedules every 30 s.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from croniter import CroniterBadDateError, croniter
from django.utils import timezone

from eventtree.models import Event, EventTree

CRON_EXAMPLE = "0 3 * * *"


def cron_problem(expression: str) -> str | None:
    """Why `expression` cannot schedule a tree, in the builder's words; None when it can."""
    text = (expression or "").strip()
    if not text:
        return "a scheduled tree needs a cron expression"
    if not croniter.is_valid(text):
        return f"{text!r} is not a valid cron expression"
    if len(text.split()) != 5:
        return f"{text!r} has {len(text.split())} fields; use five: minute hour day month weekday (e.g. {CRON_EXAMPLE!r})"
    try:
        croniter(text, project_time()).get_next(datetime)
    except CroniterBadDateError:
        return f"{text!r} never fires (no such date)"
    return None


def tree_is_scheduled(tree: EventTree) -> bool:
    """Whether the tree fires on its cron ticks: active, published, of event `scheduled`, with a
    valid cron expression. A tree that does not has no django-q2 schedule."""
    return bool(tree.active and tree.published_id and tree.event == Event.SCHEDULED and not cron_problem(tree.cron))


def cron_times(expression: str, *, count: int, after: datetime | None = None) -> list[datetime]:
    """The next `count` times `expression` fires after `after` (default: now), in the project's
    time zone. Call with a valid expression (`cron_problem` is None)."""
    start = project_time(after)
    fires = croniter(expression.strip(), start)
    return [fires.get_next(datetime) for _ in range(count)]


def cron_tick_at(expression: str, moment: datetime) -> datetime:
    """The tick `moment` belongs to: the latest time `expression` fires at or before it, in the
    project's time zone. Call with a valid expression.

    croniter's previous fire time is strictly before its start, and a five-field expression
    fires on whole minutes: starting one second after the moment's whole second counts a moment
    exactly on a fire time as that tick, and a moment a fraction of a second before it as the
    tick before.
    """
    start = project_time(moment).replace(microsecond=0) + timedelta(seconds=1)
    return croniter(expression.strip(), start).get_prev(datetime)


def project_time(moment: datetime | None = None) -> datetime:
    """`moment` (default: now) in the project's time zone, whatever zone a request activated."""
    return timezone.localtime(moment or timezone.now(), timezone.get_default_timezone())
