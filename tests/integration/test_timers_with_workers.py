"""Timers with real processes (DESIGN §3.12): a Delay is woken by the timer loop, not by the
sweeper or django-q2's scheduler, and several loops on PostgreSQL wake each block once."""

from __future__ import annotations

import pytest
from django.test import Client
from django_q.models import Schedule
from redis import Redis

from eventtree.engine.dispatch import RUN_BLOCK
from eventtree.models import Block, BlockState, Record, WokenBy
from tests.factories import form_create, set_field, tree_create
from tests.integration.deployment import README_SCALE_OUT
from tests.integration.packages import count, delay, form_package, visitor
from tests.workers import wait_until

pytestmark = pytest.mark.integration


@pytest.mark.django_db(transaction=True)
def test_a_delay_of_2_s_is_woken_by_the_timers_and_finishes_in_a_real_worker(qcluster):
    form = form_create("later", fields=[{"name": "name"}, {"name": "out", "internal": True}])
    tree_create(form, [{"kind": "delay", "seconds": 2, "label": "Two seconds later",
                        "children": [set_field("out", "ran")]}])

    location = Client().post("/f/later/", {"name": "Ada"})["Location"]

    assert location.startswith("/f/later/submitted/")
    block = wait_until(lambda: Block.objects.filter(state=BlockState.DONE).first(), timeout=60,
                       describe=lambda: f"{list(Block.objects.values())}\n{qcluster.output()[-3000:]}")
    # What woke it is recorded when the wake-up is sent: neither the sweeper (which waits until a
    # block is 20 s overdue) nor a django-q2 schedule (there is none: its scheduler looks every 30 s).
    assert block.woken_by == WokenBy.TIMER
    assert not Schedule.objects.filter(func=RUN_BLOCK).exists()
    assert Record.objects.get().values["out"] == "ran"


SUBMISSIONS = 40
LATER = form_package("later", [delay("Later", 2, count("n"))])


def test_two_timer_loops_on_postgresql_wake_each_block_once(deploy, postgres_database, redis):
    site = deploy(database_url=postgres_database, redis_url=redis.url)
    site.import_form(LATER)
    site.start_web()
    # Two machines' timers and no worker yet: every wake-up stays in Redis, where it is counted.
    site.spawn("timers", README_SCALE_OUT.timers)
    site.spawn("timers", README_SCALE_OUT.timers)

    for i in range(SUBMISSIONS):
        site.submit("later", visitor(i))

    def woken() -> list[tuple[str, int]]:
        return site.sql("SELECT woken_by, count(*) FROM eventtree_block GROUP BY woken_by")

    wait_until(lambda: woken() == [("timer", SUBMISSIONS)], timeout=60, interval=0.5,
               describe=lambda: f"{woken()}\n{site.logs()}")
    queued = Redis.from_url(redis.url).llen("django_q:eventtree:q")  # the cluster's name: its queue
    assert queued == SUBMISSIONS  # one task a block: no block was woken twice

    site.start_cluster(timers=False)
    wait_until(lambda: site.runs_unfinished() == 0, timeout=120, interval=1, describe=site.logs)
    assert [record["n"] for record in site.records("later")] == [1] * SUBMISSIONS
