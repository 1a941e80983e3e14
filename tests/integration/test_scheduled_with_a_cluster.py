"""A scheduled tree with a real cluster (DESIGN §3.8): django-q2's scheduler fires the tree's
cron schedule, and each tick runs each matching record once, even when the same tick's task is
handed to two workers at once."""

from __future__ import annotations

import pytest
from django.db.models import Count
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task

from eventtree.engine.dispatch import SCHEDULED_TICK, tree_schedule_name
from eventtree.models import BlockState, Event, EventTree, Record, Run, RunStatus
from tests.factories import form_create, set_field, tree_create
from tests.workers import wait_until

pytestmark = pytest.mark.integration

WON, LOST = 6, 4


@pytest.mark.django_db(transaction=True)
def test_a_real_cluster_runs_each_matching_record_once_a_tick(qcluster):
    form = form_create("deals", fields=[{"name": "name"}, {"name": "status"},
                                        {"name": "visits", "type": "number", "internal": True, "default": 0}])
    for i in range(WON + LOST):
        Record.objects.create(form=form, values={"name": f"deal {i}", "status": "Won" if i < WON else "Lost",
                                                 "visits": 0})
    # Published as it is created: the schedule is made when that commits (autocommit here).
    tree = tree_create(form, [{"kind": "background", "label": "Count the visit",
                               "children": [set_field("visits", "{{ record.visits|add:1 }}")]}],
                       name="Every minute", event=Event.SCHEDULED, cron="* * * * *",
                       filter={"field": "status", "op": "eq", "value": "Won"})
    schedule = Schedule.objects.get(name=tree_schedule_name(tree.pk))
    assert (schedule.func, schedule.cron, schedule.schedule_type) == (SCHEDULED_TICK, "* * * * *", Schedule.CRON)
    # Due now rather than at the next minute: the scheduler's next look (every 30 s) fires it,
    # for the tick of this minute; django-q2 then schedules the next fire time after that look
    # (the next minute's, or the one after if the look came after it).
    Schedule.objects.filter(pk=schedule.pk).update(next_run=timezone.now())

    def ticks() -> dict:
        return dict(Run.objects.filter(tree=tree).values_list("tick_at").annotate(Count("id")).order_by("tick_at"))

    def describe() -> str:
        return f"{ticks()}\n{list(Schedule.objects.values())}\n{qcluster.output()[-3000:]}"

    first = wait_until(lambda: list(ticks()), timeout=75, interval=0.5, describe=describe)[0]
    # The same tick's task twice more, at once (a re-delivered task; a second cluster's scheduler):
    # two workers take them together.
    for _ in range(2):
        async_task(SCHEDULED_TICK, tree.pk, tick=first.isoformat())
    counted = wait_until(lambda: len(ticks()) >= 2 and ticks(), timeout=100, interval=0.5, describe=describe)
    EventTree.objects.filter(pk=tree.pk).update(active=False)  # no third tick while the test looks
    wait_until(lambda: not Run.objects.filter(tree=tree, status=RunStatus.RUNNING).exists(), timeout=60,
               describe=describe)

    second = list(counted)[1]
    assert first.second == second.second == 0 and second > first  # the fire times of the cron
    assert counted[first] == WON and counted[second] == WON  # each matching record once a tick
    per_record = Run.objects.filter(tree=tree, tick_at__in=[first, second]).values("record_id", "tick_at") \
        .annotate(runs=Count("id"))
    assert {item["runs"] for item in per_record} == {1} and len(per_record) == 2 * WON
    assert not Run.objects.filter(tree=tree, record__values__status="Lost").exists()
    assert set(Run.objects.filter(tree=tree).values_list("blocks__state", flat=True)) == {BlockState.DONE}
    runs_of = dict(Run.objects.filter(tree=tree).values_list("record_id").annotate(Count("id")))
    visits = {record.pk: record.values["visits"] for record in Record.objects.filter(form=form)}
    assert {pk: visits[pk] for pk in runs_of} == runs_of  # each run's Background ran once
