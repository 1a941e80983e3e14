"""A CSV import run by real workers (DESIGN §3.7), deployed as the README says: 10,000 rows in
chunks of 100, one worker killed with SIGKILL in the middle of a chunk and another cluster
started; every row becomes one record, none twice — on the ORM broker (SQLite), which re-delivers
the killed worker's task, and on Redis (PostgreSQL), which loses it and leaves it to the sweeper.
And `manage.py import_records` waiting for the workers, as a person runs it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.integration.deployment import ROOT
from tests.integration.packages import set_field, sleep
from tests.workers import wait_until

pytestmark = pytest.mark.integration

ROWS = 10_000
SLOW_ROW = 2_050  # in chunk 21: its worker sleeps in the chunk's transaction, to be killed there
RETRY_SECONDS = 20
# The ORM broker re-delivers a task after EVENTTREE_TASK_RETRY; the sweeper presumes a wake-up
# lost after as long. The task timeout stays under both (see automations/settings.py).
CRASH_ENV = {"EVENTTREE_TASK_TIMEOUT": "15", "EVENTTREE_TASK_RETRY": str(RETRY_SECONDS),
             "EVENTTREE_IMPORT_CHUNK_ROWS": "100"}

PEOPLE = {
    "form": {"slug": "people", "name": "People", "fields": [
        {"name": "n", "type": "number", "required": True},
        {"name": "name", "type": "text", "required": True},
        {"name": "email", "type": "email", "required": True},
        {"name": "slow", "type": "text"},
        {"name": "source", "type": "text", "internal": True},
    ]},
    "trees": [{"name": "On import", "event": "imported", "mode": "sync", "active": True, "nodes": [
        set_field("source", "import"),
        {"kind": "condition", "field": "slow", "op": "eq", "value": "yes", "children": [sleep(4)]},
    ]}],
}


def people_csv(path, rows: int, *, slow_row: int | None = None, bad_rows: tuple[int, ...] = ()) -> str:
    with open(path, "w", encoding="utf-8", newline="") as file:
        file.write("n,name,email,slow\r\n")
        for n in range(1, rows + 1):
            email = "not an address" if n in bad_rows else f"p{n}@example.com"
            file.write(f"{n},Person {n},{email},{'yes' if n == slow_row else ''}\r\n")
    return str(path)


@pytest.fixture
def site(deploy_each_setup):
    return deploy_each_setup(env=CRASH_ENV)


def import_state(site) -> tuple:
    return site.sql("SELECT state, chunks_finished, chunk_count, created, refused FROM eventtree_import")[0]


def test_a_worker_killed_in_a_chunk_leaves_every_row_imported_once(site, tmp_path):
    site.import_form(PEOPLE)
    path = people_csv(tmp_path / "people.csv", ROWS, slow_row=SLOW_ROW)
    out = site.manage("import_records", "people", path, "--no-wait")
    assert f"{ROWS} rows in 100 chunks of up to 100" in out
    site.start_cluster()

    # The worker of chunk 21 sleeps inside its transaction, with the records of earlier chunks committed.
    pid = wait_until(lambda: next(iter(site.sleeping_workers()), None), timeout=240, interval=0.1,
                     describe=lambda: f"{import_state(site)}\n{site.logs()}")
    before_kill = import_state(site)
    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    site.start_cluster()  # another machine's workers

    # On Redis the killed worker's task is gone: the sweeper sends it again once it is presumed lost.
    time.sleep(max(0.0, killed_at + RETRY_SECONDS + 1 - time.monotonic()))
    site.sweep_soon()
    wait_until(lambda: import_state(site)[0] in ("done", "failed"), timeout=400, interval=1,
               describe=lambda: f"{import_state(site)}\n{site.logs()}")
    site.stop_clusters()

    assert before_kill[0] == "running" and 10 <= before_kill[1] < 100, before_kill  # most of chunks 1 to 20 finished
    assert import_state(site) == ("done", 100, 100, ROWS, 0)
    records = site.records("people")
    assert len(records) == ROWS
    assert sorted(int(float(r["n"])) for r in records) == list(range(1, ROWS + 1))  # each row once
    assert {r["source"] for r in records} == {"import"}
    slow_chunk = site.sql("SELECT state, attempts, created, first_line FROM eventtree_importchunk WHERE number = 21")
    assert slow_chunk == [("done", 2, 100, 2002)]
    assert site.sql("SELECT count(*) FROM eventtree_run WHERE event = 'imported'") == [(ROWS,)]


def test_the_command_waits_for_the_workers_and_prints_the_refused_rows(deploy, sqlite_database, tmp_path):
    site = deploy(database_url=sqlite_database, env={"EVENTTREE_IMPORT_CHUNK_ROWS": "100"})
    site.import_form(PEOPLE)
    site.start_cluster()
    path = people_csv(tmp_path / "people.csv", 250, bad_rows=(7, 180))

    result = subprocess.run([sys.executable, "manage.py", "import_records", "people", path], cwd=ROOT,
                            env=site.env, capture_output=True, text=True, timeout=180)

    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert "250 rows in 3 chunks of up to 100" in lines[0]
    assert lines[-3:] == ["line 8: email: Enter a valid email address.",
                          "line 181: email: Enter a valid email address.",
                          "Done: 248 records created, 2 rows refused."]
    assert "chunks 3/3 · 248 created · 2 refused" in lines
    assert "2 rows refused: see the lines above." in result.stderr
    assert len(site.records("people")) == 248
