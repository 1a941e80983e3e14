"""Scale-out (DESIGN §6): PostgreSQL, Redis, gunicorn and two `qcluster` processes, set up with the
README's own commands. Every block's effects are counted from the effects themselves: the record's
counter fields and the emails the mail backend wrote, not the engine's block states."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from tests.integration.packages import background, count, delay, email, form_package, sleep, visitor
from tests.workers import wait_until

pytestmark = pytest.mark.integration

SUBMISSIONS = 300

LOAD = form_package("load", [
    background("First", count("first"), count("n"), email("first")),
    background("Second", count("second"), count("n"), email("second")),
    delay("Later", 3, count("later"), count("n"), email("later")),
], counters=("n", "first", "second", "later"))


def test_300_submissions_run_every_block_exactly_once(deploy, postgres_database, redis):
    site = deploy(database_url=postgres_database, redis_url=redis.url)
    site.import_form(LOAD)
    site.start_web()
    site.start_cluster()
    site.start_cluster()

    locations = [site.submit("load", visitor(i)) for i in range(SUBMISSIONS)]

    assert all(location.startswith("/f/load/submitted/") for location in locations)
    wait_until(lambda: site.runs_unfinished() == 0, timeout=300, interval=2,
               describe=lambda: f"{site.runs_unfinished()} runs unfinished\n{site.logs()}")
    # Every delivery has been handed over when the clusters have stopped gracefully: a
    # duplicate would be in the mail folder by then.
    wait_until(lambda: sum(site.sent_subjects().values()) >= 3 * SUBMISSIONS, timeout=60,
               describe=site.logs)
    site.stop_clusters()

    records = site.records("load")
    assert len(records) == SUBMISSIONS
    assert {(r["first"], r["second"], r["later"], r["n"]) for r in records} == {(1, 1, 1, 3)}
    assert site.sent_subjects() == Counter(
        f"{tag} v{i}" for i in range(SUBMISSIONS) for tag in ("first", "second", "later"))
    assert Counter(state for _, state, _ in site.blocks()) == {"done": 3 * SUBMISSIONS}
    assert site.status(locations[-1])["status"] == "done"


def test_redis_down_for_a_while_loses_no_block(deploy, postgres_database, redis):
    # A wake-up still in Redis when it stops is lost with it (no persistence): the sweeper sends
    # it again once it is older than the task retry time, here 30 s rather than 180 s.
    site = deploy(database_url=postgres_database, redis_url=redis.url,
                  env={"EVENTTREE_TASK_RETRY": "30", "EVENTTREE_TASK_TIMEOUT": "20"})
    site.import_form(form_package("steady", [background("Work", count("n"), email("work"))]))
    site.start_web()
    site.start_cluster()
    site.start_cluster()
    before = [site.submit("steady", visitor(i, "before")) for i in range(5)]

    redis.stop()
    try:
        during = [site.submit("steady", visitor(i, "during")) for i in range(5)]
        # The visitor notices nothing: the submit succeeds and the page follows the work.
        assert all(location.startswith("/f/steady/submitted/") for location in during)
        assert {site.status(location)["status"] for location in during} == {"running"}
        time.sleep(3)
    finally:
        redis.start()

    after = [site.submit("steady", visitor(i, "after")) for i in range(5)]
    # The wake-ups refused while Redis was down, and any it lost, are sent again by the sweeper.
    site.sweep_soon()
    wait_until(lambda: site.runs_unfinished() == 0, timeout=180, interval=2,
               describe=lambda: f"{site.blocks()}\n{site.logs()}")
    site.stop_clusters()

    assert [r["n"] for r in site.records("steady")] == [1] * 15
    assert site.sent_subjects() == Counter(
        f"work {when}{i}" for when in ("before", "during", "after") for i in range(5))
    assert {site.status(location)["status"] for location in before + during + after} == {"done"}


def test_a_running_block_does_not_hold_up_submits_of_its_form(deploy, postgres_database, redis):
    site = deploy(database_url=postgres_database, redis_url=redis.url)
    site.import_form(form_package("busy", [background("Slow", count("n"), sleep(8))]))
    site.start_web()
    site.start_cluster()
    site.submit("busy", visitor(0))
    wait_until(site.sleeping_workers, timeout=60, interval=0.2, describe=site.logs)

    site.submit("busy", visitor(1))  # while the first record's block holds its row lock

    assert site.sleeping_workers(), "the second submit waited for the first block to finish"
    assert len(site.records("busy")) == 2


CONCURRENT_BLOCKS = """
import threading
from django.db import connection
from eventtree.engine.blocks import block_run
from eventtree.models import Block, Form
from eventtree.services.records import record_submit

form = Form.objects.get(slug="pair")
for i in range(100):
    record_submit(form=form, values={"name": f"c{i}", "email": f"c{i}@example.com"})
    ids = list(Block.objects.filter(run__record__values__name=f"c{i}").values_list("id", flat=True))
    assert len(ids) == 2, ids
    start = threading.Barrier(len(ids))

    def run(block_id):
        start.wait()
        try:
            block_run(block_id)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(block_id,)) for block_id in ids]
    [thread.start() for thread in threads]
    [thread.join() for thread in threads]
"""


def test_two_blocks_updating_one_record_at_once_lose_no_update(deploy, postgres_database):
    site = deploy(database_url=postgres_database)
    site.import_form(form_package("pair", [
        background("Left", count("left")),
        background("Right", count("right")),
    ], counters=("left", "right")))

    # Both blocks of each record start at the same moment, each on its own connection.
    site.manage("shell", "-c", CONCURRENT_BLOCKS)

    records = site.records("pair")
    assert len(records) == 100
    assert Counter((r["left"], r["right"]) for r in records) == {(1, 1): 100}
    # Each run's two blocks finished together: the second to commit finished the run.
    assert site.sql("SELECT status, COUNT(*) FROM eventtree_run GROUP BY status") == [("done", 100)]


CONCURRENT_EDITS = """
import threading
from django.db import connection
from eventtree.models import EventTree, Node
from eventtree.services.trees import node_add

tree = EventTree.objects.get(form__slug="edits")
together = threading.Barrier(2)
errors = []

def builder(name):
    try:
        for i in range(40):
            together.wait()  # both add a node to the top of the same list at the same moment
            node = node_add(tree=tree, kind="action", action="log", index=0)
            Node.objects.filter(pk=node.pk).update(label=f"{name}{i}")
    except Exception as error:
        errors.append(repr(error))
        together.abort()
    finally:
        connection.close()

threads = [threading.Thread(target=builder, args=(name,)) for name in "ab"]
[thread.start() for thread in threads]
[thread.join() for thread in threads]
assert not errors, errors
"""


def test_two_builders_editing_one_tree_at_once_lose_neither_edit(deploy, postgres_database):
    site = deploy(database_url=postgres_database)
    site.import_form(form_package("edits", []))

    # Two staff members add nodes to the same list at the same moment, 40 times each.
    site.manage("shell", "-c", CONCURRENT_EDITS)

    nodes = site.sql("SELECT n.label, n.position FROM eventtree_node n JOIN eventtree_eventtree t "
                     "ON t.id = n.tree_id JOIN eventtree_form f ON f.id = t.form_id "
                     "WHERE f.slug = 'edits' AND n.parent_id IS NULL ORDER BY n.position")
    assert sorted(label for label, _ in nodes) == sorted(f"{name}{i}" for name in "ab" for i in range(40))
    assert [position for _, position in nodes] == list(range(80))  # one order, no two nodes in one place
