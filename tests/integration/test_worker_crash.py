"""A worker killed with SIGKILL in the middle of a block (DESIGN §3.3): the block's transaction
dies with it, the sweeper hands the block to another worker once its lease has expired, and its
effects happen once — on the ORM broker, which re-delivers, and on Redis, which loses the task."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

import pytest

from tests.integration.packages import background, count, email, form_package, sleep, visitor
from tests.workers import wait_until

pytestmark = pytest.mark.integration

LEASE_SECONDS = 15
# Short lease and task limits, so that a killed worker's block is taken over within a minute;
# the task timeout stays under the lease and the ORM broker's retry (see automations/settings.py).
CRASH_ENV = {
    "EVENTTREE_BLOCK_LEASE_SECONDS": str(LEASE_SECONDS),
    "EVENTTREE_TASK_TIMEOUT": "12",
    "EVENTTREE_TASK_RETRY": "20",
}
SUBMISSIONS = 6  # more than the four workers, so two blocks can be caught sleeping

SLOW = form_package("slow", [background("Slow part", count("n"), sleep(2), email("slow"))])


@pytest.fixture
def site(deploy_each_setup):
    return deploy_each_setup(env=CRASH_ENV)


def test_a_worker_killed_mid_block_loses_nothing_and_repeats_nothing(site):
    site.import_form(SLOW)
    site.start_web()
    # Every block is waiting before a worker starts: on SQLite a running block holds the write
    # lock, so submits in between would let the blocks finish one by one before a second victim.
    for i in range(SUBMISSIONS):
        site.submit("slow", visitor(i))
    site.start_cluster()
    site.start_cluster()

    # Kill two workers while they are inside a block (after `n` was counted, before the email),
    # each in a different block. On SQLite the blocks take turns, so the second victim is found
    # once the first is gone.
    killed: dict[str, int] = {}  # block: pid
    for _ in range(2):
        pid, block = wait_until(lambda: next(
            ((pid, block) for pid, block in site.sleeping_workers().items() if block not in killed),
            None), timeout=60, interval=0.1, describe=lambda: f"{site.blocks()}\n{site.logs()}")
        os.kill(pid, signal.SIGKILL)
        killed[block] = pid
    last_kill = time.monotonic()

    # The killed blocks stay `running` until their lease expires; then the sweeper takes over.
    time.sleep(max(0.0, last_kill + LEASE_SECONDS + 1 - time.monotonic()))
    site.sweep_soon()
    wait_until(lambda: site.runs_unfinished() == 0, timeout=120, interval=1,
               describe=lambda: f"{site.blocks()}\n{site.logs()}")
    site.stop_clusters()

    assert [r["n"] for r in site.records("slow")] == [1] * SUBMISSIONS
    assert site.sent_subjects() == Counter(f"slow v{i}" for i in range(SUBMISSIONS))
    attempts = {f"block-{id}": (state, attempts) for id, state, attempts in
                site.sql("SELECT id, state, attempts FROM eventtree_block")}
    assert {state for state, _ in attempts.values()} == {"done"}
    assert all(attempts[block][1] >= 2 for block in killed), (killed, attempts)
