"""The timer loop (DESIGN §3.12): a pending block is woken once, when it is due, by one of any
number of loops, at the cost of one indexed query a look."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.models import OrmQ

from eventtree.engine import dispatch, timers
from eventtree.engine.blocks import block_run
from eventtree.engine.timers import timers_next_due, timers_run, timers_tick
from eventtree.models import Block, BlockState, Record, WokenBy, due_now
from eventtree.services.records import record_submit
from tests.factories import action, form_create, set_field, tree_create

pytestmark = pytest.mark.django_db

MAX_SLEEP = 1.0


def delay_form(*, seconds: int = 3600, fail: bool = False):
    form = form_create("later", fields=[{"name": "name"}, {"name": "done", "internal": True}])
    children = [set_field("done", "yes")] + ([action("fail", message="Refused")] if fail else [])
    tree_create(form, [{"kind": "delay", "seconds": seconds, "label": "Later", "children": children}])
    return form


def delayed_block(*, seconds: int = 3600, fail: bool = False) -> Block:
    """A visitor's submit of a form with one Delay: its block waits, and no wake-up was sent."""
    record_submit(form=delay_form(seconds=seconds, fail=fail), values={"name": "Ada"})
    return Block.objects.get()


def woken_ids() -> list[int]:
    """The blocks whose tasks wait in django-q2's ORM broker, one entry per task."""
    return sorted(queued.task["args"][0] for queued in OrmQ.objects.all())


def make_due(*blocks: Block) -> None:
    Block.objects.filter(pk__in=[b.pk for b in blocks]).update(due_at=due_now() - timedelta(seconds=1))


def test_a_due_block_is_handed_to_django_q2_once_and_marked_woken_by_the_timer():
    block = delayed_block()
    assert timers_tick(max_sleep=MAX_SLEEP) == MAX_SLEEP and woken_ids() == []

    make_due(block)
    assert timers_tick(max_sleep=MAX_SLEEP) == 0  # woke some: look again at once
    assert woken_ids() == [block.pk]
    block.refresh_from_db()
    assert block.woken_by == WokenBy.TIMER and block.woken_at is not None
    assert timers_tick(max_sleep=MAX_SLEEP) == MAX_SLEEP
    assert woken_ids() == [block.pk]  # not a second time

    assert block_run(block.pk) == BlockState.DONE
    block.refresh_from_db()
    assert block.woken_by == WokenBy.TIMER  # what woke the block that ran
    assert Record.objects.get().values["done"] == "yes"


def test_a_block_not_yet_due_is_not_woken_and_the_loop_sleeps_until_it_is_due():
    block = delayed_block()
    Block.objects.filter(pk=block.pk).update(due_at=timezone.now() + timedelta(milliseconds=400))

    pause = timers_tick(max_sleep=MAX_SLEEP)

    assert 0 < pause <= 0.41  # the database's clock may read a millisecond behind
    assert woken_ids() == [] and Block.objects.get().woken_at is None
    Block.objects.filter(pk=block.pk).update(due_at=timezone.now() + timedelta(hours=1))
    assert timers_tick(max_sleep=MAX_SLEEP) == MAX_SLEEP  # never longer than the cap


@pytest.mark.parametrize("state", [BlockState.CANCELLED, BlockState.DONE, BlockState.FAILED,
                                   BlockState.RUNNING])
def test_a_block_that_is_not_pending_is_not_woken(state):
    block = delayed_block()
    make_due(block)
    Block.objects.filter(pk=block.pk).update(state=state)

    assert timers_tick(max_sleep=MAX_SLEEP) == MAX_SLEEP
    assert woken_ids() == []
    assert Block.objects.get().woken_by == ""


def test_a_block_woken_on_commit_is_not_woken_again_by_the_timer(django_capture_on_commit_callbacks):
    form = form_create("now", fields=[{"name": "name"}, {"name": "done", "internal": True}])
    tree_create(form, [{"kind": "background", "children": [set_field("done", "yes")]}])
    with django_capture_on_commit_callbacks(execute=True):
        record_submit(form=form, values={"name": "Ada"})
    block = Block.objects.get()
    assert (block.woken_by, woken_ids()) == (WokenBy.COMMIT, [block.pk])

    assert timers_tick(max_sleep=MAX_SLEEP) == MAX_SLEEP
    assert woken_ids() == [block.pk]


def test_a_retry_waits_for_the_timer_after_its_backoff(django_capture_on_commit_callbacks):
    block = delayed_block(fail=True)
    make_due(block)
    timers_tick(max_sleep=MAX_SLEEP)
    with django_capture_on_commit_callbacks(execute=True):
        assert block_run(block.pk) == BlockState.PENDING  # failed: retried after a backoff
    block.refresh_from_db()
    assert block.woken_at is None and timers_next_due()[0] == block.due_at
    assert woken_ids() == [block.pk]  # only the first attempt's wake-up so far

    make_due(block)
    timers_tick(max_sleep=MAX_SLEEP)
    assert woken_ids() == [block.pk, block.pk]
    assert Block.objects.get().woken_by == WokenBy.TIMER


def test_when_the_broker_refuses_a_task_the_block_stays_unwoken_for_the_next_look(monkeypatch):
    block = delayed_block()
    make_due(block)

    def refuse(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(dispatch, "async_task", refuse)
    assert timers_tick(max_sleep=MAX_SLEEP) == MAX_SLEEP  # no fast loop while the broker is down
    assert Block.objects.get().woken_at is None

    monkeypatch.undo()
    timers_tick(max_sleep=MAX_SLEEP)
    assert woken_ids() == [block.pk]


# Cost: queries, not time ------------------------------------------------------------------------

class CountingStop(threading.Event):
    """A stop event that records the loop's pauses and stops it after `looks` of them."""

    def __init__(self, looks: int) -> None:
        super().__init__()
        self.looks = looks
        self.pauses: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.pauses.append(timeout)
        if len(self.pauses) >= self.looks:
            self.set()
        return self.is_set()


@pytest.mark.parametrize("waiting", ["nothing", "a block due in an hour", "a block already woken"])
def test_an_idle_loop_costs_one_query_per_look_and_looks_once_per_max_sleep(waiting):
    if waiting == "a block due in an hour":
        delayed_block()
    elif waiting == "a block already woken":
        block = delayed_block()
        make_due(block)
        timers_tick(max_sleep=MAX_SLEEP)
    stop = CountingStop(looks=10)

    with CaptureQueriesContext(connection) as queries:
        timers_run(stop=stop, max_sleep=MAX_SLEEP)

    assert stop.pauses == [MAX_SLEEP] * 10
    assert len(queries) == 10  # one query a second when nothing is due


@pytest.mark.skipif(connection.vendor != "sqlite", reason="reads SQLite's query plan")
def test_the_look_uses_the_index_on_state_woken_at_and_due_at():
    sql, params = timers.next_due_query()[:1].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = " ".join(str(row) for row in cursor.fetchall())
    assert "block_wake_due" in plan and "TEMP B-TREE" not in plan  # no sort, no scan


# Several loops at once ---------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_two_loops_at_once_wake_each_due_block_once(monkeypatch):
    monkeypatch.setattr(dispatch, "WAKE_BATCH", 4)  # several batches: the loops take turns
    first = delayed_block()
    blocks = [first] + [
        Block.objects.create(run=first.run, node_key=first.node_key, label=f"Later {i}",
                             due_at=first.due_at)
        for i in range(29)
    ]
    make_due(*blocks)
    # Both loops see the due blocks before either wakes any: then both try to wake all of them.
    both_looked = threading.Barrier(2, timeout=30)
    real_next_due = timers.timers_next_due
    looked = threading.local()

    def look_then_wait():
        due = real_next_due()
        if not getattr(looked, "once", False):
            looked.once = True
            both_looked.wait()
        return due

    errors: list[BaseException] = []

    def loop() -> None:
        try:
            while timers_tick(max_sleep=MAX_SLEEP) == 0:
                pass
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connections.close_all()

    timers.timers_next_due = look_then_wait
    try:
        threads = [threading.Thread(target=loop) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        timers.timers_next_due = real_next_due

    assert errors == []
    assert woken_ids() == sorted(block.pk for block in blocks)  # each once, none twice
    assert set(Block.objects.values_list("woken_by", flat=True)) == {WokenBy.TIMER}
