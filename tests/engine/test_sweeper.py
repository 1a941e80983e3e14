"""The sweeper's wake-ups (DESIGN §3.3): what the timers left, what the broker lost, and nothing
that still waits in the broker's queue."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import OrmQ

from eventtree.engine.sweeper import PENDING_GRACE_SECONDS, sweep
from eventtree.models import Block, BlockState, WokenBy
from eventtree.services.records import record_submit
from tests.factories import form_create, set_field, tree_create

pytestmark = pytest.mark.django_db


def background_blocks(count: int, django_capture_on_commit_callbacks) -> list[Block]:
    """`count` submits of a form with one Background, each woken on commit: a task queued each."""
    form = form_create("now", fields=[{"name": "name"}, {"name": "done", "internal": True}])
    tree_create(form, [{"kind": "background", "children": [set_field("done", "yes")]}])
    for i in range(count):
        with django_capture_on_commit_callbacks(execute=True):
            record_submit(form=form, values={"name": f"visitor {i}"})
    return list(Block.objects.order_by("pk"))


def queued_block_ids() -> list[int]:
    return sorted(queued.task["args"][0] for queued in OrmQ.objects.all())


def woken_long_ago(blocks: list[Block], settings) -> None:
    """Each block's wake-up was sent longer ago than the broker's re-delivery time, the first
    block's earliest."""
    lost = settings.EVENTTREE["WAKE_LOST_SECONDS"] + 10
    for i, block in enumerate(blocks):
        moment = timezone.now() - timedelta(seconds=lost + len(blocks) - i)
        Block.objects.filter(pk=block.pk).update(due_at=moment, woken_at=moment)


def test_under_a_backlog_no_wake_up_still_queued_is_sent_again(settings, django_capture_on_commit_callbacks):
    # Fails on the code that re-sent every wake-up older than the re-delivery time, up to 1,000 a
    # minute, while they all still waited in the queue: useless tasks that lengthened the backlog.
    blocks = background_blocks(30, django_capture_on_commit_callbacks)
    assert queued_block_ids() == [b.pk for b in blocks]
    woken_long_ago(blocks, settings)

    assert sweep().woken == 0
    assert sweep().woken == 0
    assert OrmQ.objects.count() == 30


def test_the_wake_ups_the_broker_no_longer_holds_are_sent_again_the_oldest_first_and_once(
    settings, django_capture_on_commit_callbacks
):
    blocks = background_blocks(30, django_capture_on_commit_callbacks)
    woken_long_ago(blocks, settings)
    # The broker lost 12 tasks (a first in, first out queue: whatever it holds is the most recent).
    for queued in OrmQ.objects.order_by("id")[:12]:
        queued.delete()

    assert sweep().woken == 12
    resent = sorted(Block.objects.filter(woken_by=WokenBy.SWEEPER).values_list("pk", flat=True))
    assert resent == [b.pk for b in blocks[:12]]
    assert sorted(queued_block_ids()) == [b.pk for b in blocks]  # each block's wake-up queued once
    assert sweep().woken == 0


def test_a_block_the_timers_left_is_woken_once_it_is_overdue(django_capture_on_commit_callbacks):
    form = form_create("later", fields=[{"name": "name"}, {"name": "done", "internal": True}])
    tree_create(form, [{"kind": "delay", "seconds": 60, "children": [set_field("done", "yes")]}])
    record_submit(form=form, values={"name": "Ada"})  # no timer loop runs here
    block = Block.objects.get()

    Block.objects.filter(pk=block.pk).update(due_at=timezone.now() - timedelta(seconds=PENDING_GRACE_SECONDS - 5))
    assert sweep().woken == 0  # the timers' to wake, for a while yet

    Block.objects.filter(pk=block.pk).update(due_at=timezone.now() - timedelta(seconds=PENDING_GRACE_SECONDS + 1))
    assert sweep().woken == 1
    assert Block.objects.get().woken_by == WokenBy.SWEEPER
    assert queued_block_ids() == [block.pk]
    assert sweep().woken == 0


def test_a_block_whose_worker_died_is_woken_again_by_the_sweeper(django_capture_on_commit_callbacks):
    [block] = background_blocks(1, django_capture_on_commit_callbacks)
    OrmQ.objects.all().delete()  # a worker took the task, claimed the block, then died
    Block.objects.filter(pk=block.pk).update(
        state=BlockState.RUNNING, attempts=1, woken_at=None,
        lease_until=timezone.now() - timedelta(seconds=1),
    )

    result = sweep()

    assert (result.expired, result.woken) == (1, 1)
    block.refresh_from_db()
    assert (block.state, block.woken_by) == (BlockState.PENDING, WokenBy.SWEEPER)
    assert queued_block_ids() == [block.pk]
    assert sweep().woken == 0
