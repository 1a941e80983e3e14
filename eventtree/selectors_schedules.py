"""What the editor shows of a scheduled tree (DESIGN §3.8): its cron, the time zone it is read
in, the records it runs for, whether it fires, and the next five times it will. No query."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from eventtree.engine.conditions import describe
from eventtree.engine.cron import cron_problem, cron_times
from eventtree.models import Event, EventTree

FIRE_TIMES_SHOWN = 5


@dataclass(frozen=True)
class TreeSchedule:
    cron: str
    time_zone: str
    records: str  # which records each tick runs for, in words
    idle: str  # why no tick runs it now ("" when they do)
    next_times: list[datetime]  # in the project's time zone; none when the cron is not valid


def tree_schedule(*, tree: EventTree) -> TreeSchedule | None:
    """The schedule of a tree of event `scheduled` (None for another event)."""
    if tree.event != Event.SCHEDULED:
        return None
    problem = cron_problem(tree.cron)
    if problem:
        idle = f"Not scheduled: {problem}."
    elif not tree.published_id:
        idle = "Not scheduled yet: publish the tree first."
    elif not tree.active:
        idle = "Not scheduled: the tree is inactive."
    else:
        idle = ""
    return TreeSchedule(
        cron=tree.cron,
        time_zone=settings.TIME_ZONE,
        records=f"records where {describe(tree.filter)}" if tree.filter else "every record",
        idle=idle,
        next_times=[] if problem else cron_times(tree.cron, count=FIRE_TIMES_SHOWN),
    )
