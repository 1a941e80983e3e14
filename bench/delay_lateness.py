"""How late does a Delay fire? A benchmark on a throw-away deployment of eventtree.

A Delay node's block gets an exact `due_at`; the timer loop (`manage.py timers`,
eventtree/engine/timers.py) hands it to django-q2 when the database's clock reaches it, and a
worker claims it. This script measures the gap on real processes configured by environment, as
the README's deployment does, and what the loop costs while nothing is due:

1. a temporary folder; SQLite + the ORM broker (default), or with `--broker redis` a throw-away
   PostgreSQL + Redis (tests/servers.py);
2. the README's scale-out set-up commands (tests/integration/deployment.py runs them as written),
   and `import_form` of a form whose one tree is a Delay of `--delay` seconds whose child sets an
   internal number field;
3. one `manage.py qcluster` with its `manage.py timers`, and one gunicorn, each in its own
   process group, as the README starts them;
4. `--submissions` visitors post the public form over HTTP, one every `--interval` seconds;
5. once every block has finished, per block from the database: started_at - due_at (lateness),
   finished_at - due_at, and what woke it (woken_by);
6. the idle cost: `--idle-waiting` more Delays due in a day, then the timer loop itself
   (eventtree.engine.timers.timers_run, in `manage.py shell` with the deployment's settings) for
   `--idle-seconds`, counting its queries, and the database's plan of its one query.

Run from the repository root: `.venv/bin/python bench/delay_lateness.py [options]`.
Everything lives in a temporary folder; the default data folder and the test database are not
touched. Every process started here is stopped on exit, also after an error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The deployment and the servers are the integration tests' own: the README's commands, run as
# written there, on throw-away servers.
from tests.integration.deployment import Deployment  # noqa: E402
from tests.servers import PostgresServer, RedisServer, ServerUnavailable  # noqa: E402
FORM_SLUG = "bench-delay"
IDLE_SLUG = "bench-idle"
IDLE_DELAY = 86400  # the Delays waiting while the idle cost is measured: due in a day

# Run by `manage.py shell -c` in the deployment: the timer loop in this process's main thread for
# a while, with its queries counted; prints JSON.
IDLE_PROBE = """
import json, threading, time
from django.db import connection
from django.test.utils import CaptureQueriesContext
from eventtree.engine import timers
seconds = {seconds}
stop = threading.Event()
threading.Timer(seconds, stop.set).start()
started = time.monotonic()
with CaptureQueriesContext(connection) as queries:
    timers.timers_run(stop=stop)
elapsed = time.monotonic() - started
look = timers.next_due_query()[:1]
sql, params = look.query.sql_with_params()
with connection.cursor() as cursor:
    explain = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
    cursor.execute(explain + sql, params)
    plan = [" ".join(str(part) for part in row) for row in cursor.fetchall()]
distinct = {{q["sql"] for q in queries.captured_queries}}
started = time.perf_counter()
for _ in range(200):
    timers.timers_next_due()
look_ms = (time.perf_counter() - started) / 200 * 1000
print(json.dumps({{"elapsed": elapsed, "queries": len(queries), "statements": len(distinct),
                  "sql": sql % tuple(repr(str(p)) for p in params), "plan": plan, "look_ms": look_ms}}))
"""


class BenchError(RuntimeError):
    """The benchmark could not complete; the message says why."""


# -- the form package (DESIGN §5) ----------------------------------------------------------------


def form_package(delay: int, slug: str = FORM_SLUG) -> dict[str, Any]:
    """One tree: a Delay whose child adds one to the internal number field `n` (0 by default),
    so a record with n == 1 shows that the child ran exactly once."""
    return {
        "form": {
            "slug": slug,
            "name": f"Delay lateness benchmark ({slug})",
            "fields": [
                {"name": "name", "type": "text", "required": True},
                {"name": "n", "type": "number", "internal": True, "default": 0},
            ],
        },
        "trees": [{
            "name": "On submit",
            "event": "submitted",
            "mode": "sync",
            "active": True,
            "max_attempts": 3,
            "nodes": [{
                "kind": "delay",
                "label": f"Wait {delay} s",
                "seconds": delay,
                "children": [{"kind": "action", "action": "set_field",
                              "config": {"field": "n", "value": "{{ record.n|add:1 }}"}}],
            }],
        }],
    }


# -- the deployment ------------------------------------------------------------------------------


def timings(deployment: Deployment) -> list[dict[str, Any]]:
    rows = deployment.sql("SELECT b.id, b.state, b.attempts, b.due_at, b.started_at, b.finished_at, "
                          "b.woken_by FROM eventtree_block b JOIN eventtree_run r ON r.id = b.run_id "
                          "JOIN eventtree_eventtree t ON t.id = r.tree_id JOIN eventtree_form f "
                          "ON f.id = t.form_id WHERE f.slug = %s ORDER BY b.id", FORM_SLUG)
    return [{"id": id, "state": state, "attempts": attempts, "due_at": moment(due_at),
             "started_at": moment(started_at), "finished_at": moment(finished_at),
             "woken_by": woken_by}
            for id, state, attempts, due_at, started_at, finished_at, woken_by in rows]


def idle_cost(deployment: Deployment, options: argparse.Namespace) -> dict[str, Any]:
    """The timer loop's queries while nothing is due, with `--idle-waiting` Delays due in a day."""
    deployment.import_form(form_package(IDLE_DELAY, IDLE_SLUG))
    for i in range(options.idle_waiting):
        deployment.submit(IDLE_SLUG, {"name": f"waiting {i + 1}"})
    output = deployment.manage("shell", "-c", IDLE_PROBE.format(seconds=options.idle_seconds),
                               timeout=options.idle_seconds + 120)
    return json.loads(output.strip().splitlines()[-1])


def dead(deployment: Deployment) -> list[str]:
    return [name for name, process, _ in deployment.processes if process.poll() is not None]


def moment(value: Any) -> datetime | None:
    """A stored datetime as an aware UTC datetime (SQLite gives text, PostgreSQL datetimes)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


# -- the benchmark -------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def summary_table(rows: list[tuple[str, list[float]]]) -> str:
    lines = [f"{'per block, seconds':<28}{'n':>4}{'min':>9}{'median':>9}{'p95':>9}{'max':>9}"]
    for label, values in rows:
        lines.append(f"{label:<28}{len(values):>4}{min(values):>9.2f}"
                     f"{statistics.median(values):>9.2f}{percentile(values, 0.95):>9.2f}"
                     f"{max(values):>9.2f}")
    return "\n".join(lines)


def command_line() -> str:
    interpreter = Path(sys.executable)
    try:
        interpreter = interpreter.relative_to(Path.cwd())
    except ValueError:
        pass
    return shlex.join([str(interpreter), *sys.argv])


def code_version() -> str:
    """The checkout measured: its commit, and whether it has local changes."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=30).stdout.strip()
    try:
        commit = git("rev-parse", "--short", "HEAD")
        changed = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"
    return f"git {commit}{' with local changes' if changed else ''}" if commit else "unknown"


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(options: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    postgres = redis = None
    deployment: Deployment | None = None
    try:
        if options.broker == "redis":
            try:
                log("starting a throw-away PostgreSQL and Redis")
                postgres = PostgresServer().start()
                database_url = postgres.database_create("eventtree_bench")
                redis = RedisServer().start()
            except ServerUnavailable as exc:
                raise BenchError(str(exc)) from exc
            redis_url = redis.url
        else:
            database_url, redis_url = f"sqlite:///{workdir / 'db.sqlite3'}", ""
        deployment = Deployment(workdir=workdir, database_url=database_url, redis_url=redis_url,
                                env={"EVENTTREE_WORKERS": str(options.workers)})
        log(f"the README's set-up commands and import_form in {workdir}")
        try:
            deployment.install()
            deployment.import_form(form_package(options.delay))
        except AssertionError as exc:
            raise BenchError(str(exc)) from exc

        log("starting qcluster with its timers, and gunicorn")
        deployment.start_cluster()
        deployment.start_web()

        log(f"{options.submissions} submissions, one every {options.interval} s")
        started = time.monotonic()
        for i in range(options.submissions):
            next_at = started + i * options.interval
            time.sleep(max(0.0, next_at - time.monotonic()))
            deployment.submit(FORM_SLUG, {"name": f"visitor {i + 1}"})
            if dead(deployment):
                raise BenchError(f"{', '.join(dead(deployment))} stopped:\n{deployment.logs()}")
        last_due = time.monotonic() + options.delay

        log("waiting for every block to finish")
        deadline = last_due + options.timeout
        while True:
            blocks = timings(deployment)
            finished = [b for b in blocks if b["finished_at"] is not None
                        and b["state"] in ("done", "failed", "cancelled")]
            if len(blocks) == options.submissions and len(finished) == len(blocks):
                break
            if dead(deployment):
                raise BenchError(f"{', '.join(dead(deployment))} stopped:\n{deployment.logs()}")
            if time.monotonic() > deadline:
                raise BenchError(
                    f"{len(blocks) - len(finished)} of {len(blocks)} blocks "
                    f"(expected {options.submissions}) did not finish within "
                    f"{options.timeout:.0f} s after the last one was due. States: "
                    f"{sorted({b['state'] for b in blocks})}.\n{deployment.logs()}"
                )
            time.sleep(1)
        counters = [r["n"] for r in deployment.records(FORM_SLUG)]
        log(f"idle cost: {options.idle_waiting} Delays due in a day, then the timer loop for "
            f"{options.idle_seconds} s")
        try:
            idle = idle_cost(deployment, options)
        except (AssertionError, ValueError) as exc:
            raise BenchError(f"the idle measurement failed: {exc}") from exc
        return {"blocks": blocks, "counters": counters, "idle": idle}
    finally:
        if deployment is not None:
            deployment.stop()
        if redis is not None:
            redis.close()
        if postgres is not None:
            postgres.stop()


def report(options: argparse.Namespace, outcome: dict[str, Any], started_at: datetime,
           load: str, load_end: str) -> str:
    blocks = outcome["blocks"]
    done = [b for b in blocks if b["state"] == "done"]
    # A cancelled block never started; every other finished block has both moments. A retried
    # block's due_at is its last retry's, so its lateness is that wake-up's.
    ran = [b for b in blocks if b["started_at"] is not None]
    if not ran:
        raise BenchError(f"no block ran: states {sorted({b['state'] for b in blocks})}")
    late = [(b["started_at"] - b["due_at"]).total_seconds() for b in ran]
    finish = [(b["finished_at"] - b["due_at"]).total_seconds() for b in ran]
    runtime = [(b["finished_at"] - b["started_at"]).total_seconds() for b in ran]
    ran_once = sum(1 for n in outcome["counters"] if str(n) in ("1", "1.0"))
    retried = sum(1 for b in blocks if b["attempts"] > 1)
    woken_by = Counter(b["woken_by"] or "(none)" for b in blocks)
    idle = outcome["idle"]
    try:
        from importlib.metadata import version

        versions = f"Django {version('django')}, django-q2 {version('django-q2')}"
    except Exception:  # noqa: BLE001 - informative only
        versions = ""
    database = "PostgreSQL" if options.broker == "redis" else "SQLite (WAL)"
    broker = "Redis" if options.broker == "redis" else "ORM"
    return "\n".join([
        "Delay lateness benchmark (eventtree)",
        f"command:    {command_line()}",
        f"date:       {started_at:%Y-%m-%d %H:%M:%S} UTC",
        f"machine:    {platform.system()} {platform.release()} {platform.machine()}, "
        f"nproc {len(os.sched_getaffinity(0))}, Python {platform.python_version()}, {versions}; "
        f"load average at start {load}, at the end {load_end}",
        f"code:       {code_version()}",
        f"settings:   broker={broker} database={database} delay={options.delay} s "
        f"submissions={options.submissions} interval={options.interval} s "
        f"EVENTTREE_WORKERS={options.workers}",
        f"outcome:    {len(done)}/{len(blocks)} blocks done, {retried} retried; "
        f"the Delay's child ran exactly once for {ran_once}/{len(outcome['counters'])} records; "
        f"woken by: {', '.join(f'{name} {n}' for name, n in woken_by.most_common())}",
        "",
        summary_table([
            ("started_at - due_at (late)", late),
            ("finished_at - due_at", finish),
            ("finished_at - started_at", runtime),
        ]),
        "",
        f"idle cost:  the timer loop made {idle['queries']} queries ({idle['statements']} distinct "
        f"statement) in {idle['elapsed']:.1f} s = {idle['queries'] / idle['elapsed']:.2f} "
        f"queries/s with nothing due ({options.idle_waiting} Delays due in a day waiting); one "
        f"look takes {idle['look_ms']:.2f} ms (mean of 200)",
        f"the look:   {idle['sql']}",
        f"its plan:   {' | '.join(idle['plan'])}",
        "",
        "(p95 is nearest-rank. The timer loop sleeps until the earliest due time it has seen, at "
        "most 1 s; then a worker takes the task from the broker.)",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench/delay_lateness.py",
        description="Measure how late a Delay node fires on a throw-away deployment of eventtree: "
        "migrate, import a one-Delay form, run one real `manage.py qcluster` with `manage.py "
        "timers`, and gunicorn, post the public form SUBMISSIONS times, then read each block's "
        "started_at - due_at and finished_at - due_at from the database and print min / median / "
        "p95 / max, and the timer loop's queries per second while nothing is due. "
        "Run from anywhere with the project's virtualenv: .venv/bin/python bench/delay_lateness.py",
        epilog="Everything runs in a temporary folder (removed afterwards unless --keep); "
        "the project's data folder and test database are not touched. Exit status: 0 on success, "
        "1 when the deployment failed or the blocks did not finish within --timeout, "
        "2 on bad options.",
    )
    parser.add_argument("--broker", choices=("orm", "redis"), default="orm",
                        help="orm: SQLite and django-q2's ORM broker (the embedded default); "
                        "redis: a throw-away PostgreSQL and Redis (scale-out). Default: orm.")
    parser.add_argument("--delay", type=int, default=5, metavar="SECONDS",
                        help="the Delay node's seconds (2 or more, so that the timers wake the "
                        "block, not the commit that made it). Default: 5.")
    parser.add_argument("--submissions", type=int, default=30, metavar="N",
                        help="how many records to submit, hence blocks to measure. Default: 30.")
    parser.add_argument("--interval", type=float, default=2.0, metavar="SECONDS",
                        help="seconds between two submissions, so that due times fall at every "
                        "phase of the timer loop's sleep. Default: 2.")
    parser.add_argument("--workers", type=int, default=2, metavar="N",
                        help="EVENTTREE_WORKERS, worker processes of the one qcluster. Default: 2.")
    parser.add_argument("--timeout", type=float, default=180, metavar="SECONDS",
                        help="how long to wait, after the last block is due, for every block to "
                        "finish before giving up with exit status 1. Default: 180.")
    parser.add_argument("--idle-seconds", type=float, default=30, metavar="SECONDS",
                        help="how long the timer loop's idle queries are counted. Default: 30.")
    parser.add_argument("--idle-waiting", type=int, default=50, metavar="N",
                        help="Delays due in a day, waiting while the idle cost is measured. "
                        "Default: 50.")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary folder (logs, package, SQLite database).")
    options = parser.parse_args(argv)
    if options.delay < 2:
        parser.error("--delay must be 2 or more (a shorter Delay may be woken by its commit)")
    if options.submissions < 1 or options.workers < 1:
        parser.error("--submissions and --workers must be 1 or more")
    if options.idle_seconds <= 0 or options.idle_waiting < 0:
        parser.error("--idle-seconds must be more than 0 and --idle-waiting 0 or more")
    if options.interval < 0 or options.timeout <= 0:
        parser.error("--interval must be 0 or more and --timeout more than 0")
    if not (ROOT / "manage.py").exists():
        parser.error(f"no manage.py in {ROOT}")

    # SIGTERM ends the run through `finally`, which stops every process started here.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    started_at = datetime.now(timezone.utc)
    load = load_average()
    workdir = Path(tempfile.mkdtemp(prefix="eventtree-bench-"))
    ok = False
    try:
        outcome = run(options, workdir)
        print(report(options, outcome, started_at, load, load_average()), flush=True)
        ok = True
        return 0
    except BenchError as exc:
        print(f"delay_lateness: FAILED: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("delay_lateness: interrupted; every process started here was stopped",
              file=sys.stderr)
        return 130
    finally:
        if options.keep or not ok:
            print(f"delay_lateness: files kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
