"""How many one-action Background blocks a worker cluster runs a second, next to bare django-q2.

A throw-away deployment set up by the README's commands (tests/integration/deployment.py), with
the baselines installed (`bench.settings`). In turn, `--rounds` times:

- product: `--blocks` visitors submit a form whose tree is one Background holding one set_field
  (their wake-ups wait in the broker), then one `qcluster` with `--workers` workers starts and
  runs them all; the rate is taken from the blocks' own finish times;
- baseline: `manage.py bench_enqueue N` queues N bare `async_task`s, each one UPDATE of a row
  (bench/baseline/tasks.py), then the same cluster runs them; the rate from the rows' times;
- a block's work by hand: `manage.py bench_enqueue N --unit-of-work` queues N bare tasks, each
  doing with plain ORM calls the statements any block must make (its claim, then its record, step,
  end, flag and run's end in one transaction), without the engine; the rate from the jobs' times.

`--clusters N` starts N clusters side by side (each of `--workers`), as N worker machines would.

    .venv/bin/python bench/blocks.py [--blocks 400] [--workers 2] [--clusters 1] [--rounds 2]
    .venv/bin/python bench/blocks.py --broker redis    # PostgreSQL + Redis (tests/servers.py)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.environment import KINDS, cores_busy, cpu_snapshot, environment  # noqa: E402
from tests.integration.deployment import Deployment  # noqa: E402
from bench.deployments import bench_deployment  # noqa: E402
from tests.workers import process_group_stop  # noqa: E402

PACKAGE = {
    "form": {"slug": "one-block", "name": "One block", "fields": [
        {"name": "name", "type": "text", "required": True},
        {"name": "done", "type": "text", "internal": True}]},
    "trees": [{"name": "On submit", "event": "submitted", "nodes": [
        {"kind": "background", "label": "One action", "children": [
            {"kind": "action", "action": "set_field", "config": {"field": "done", "value": "yes"}}]}]}],
}


BASELINE = "baseline: bare django-q2 async_task"
BY_HAND = "a block's statements by hand"
PRODUCT = "one-action blocks"


def moment(value) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def rate(moments: list) -> float:
    ordered = sorted(moment(value) for value in moments)
    return (len(ordered) - 1) / (ordered[-1] - ordered[0]).total_seconds()


# The cores each kind of process used during each round, by row: where the limit is.
CORES: dict[str, list[dict[str, float]]] = defaultdict(list)


def run_cluster_until(deployment: Deployment, clusters: int, finished: str, count: int, row: str,
                      timeout: float = 600) -> None:
    """Start the clusters and wait until `finished` (SQL counting the round's finished tasks)
    reaches `count`. The cores used are taken from the first finished task to the last, so that
    the clusters' start-up is left out."""
    # Every block is due, and woken, at its commit: no timers.
    processes = [deployment.start_cluster(timers=False) for _ in range(clusters)]
    deadline = time.monotonic() + timeout
    before = first = None
    try:
        while (done := deployment.sql(finished)[0][0]) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"not finished in {timeout} s:\n{deployment.logs()}")
            if done and before is None:
                before, first = cpu_snapshot(deployment.server_pids), time.monotonic()
            time.sleep(0.05)
        if before is not None:  # before they end
            CORES[row].append(cores_busy(before, cpu_snapshot(deployment.server_pids), time.monotonic() - first))
    finally:
        for process in processes:
            process_group_stop(process)


def product_round(deployment: Deployment, count: int, clusters: int) -> float:
    start = deployment.sql("SELECT COALESCE(MAX(id), 0) FROM eventtree_block")[0][0]
    for number in range(count):
        deployment.submit("one-block", {"name": f"visitor {number}"})
    run_cluster_until(deployment, clusters, f"SELECT COUNT(*) FROM eventtree_block WHERE id > {start} "
                      "AND state = 'done'", count, PRODUCT)
    return rate([row[0] for row in deployment.sql(f"SELECT finished_at FROM eventtree_block WHERE id > {start}")])


def baseline_round(deployment: Deployment, count: int, clusters: int) -> float:
    start = deployment.sql("SELECT COALESCE(MAX(id), 0) FROM bench_baseline_counter")[0][0]
    deployment.manage("bench_enqueue", str(count))
    run_cluster_until(deployment, clusters, f"SELECT COUNT(*) FROM bench_baseline_counter WHERE id > {start} "
                      "AND done_at IS NOT NULL", count, BASELINE)
    return rate([row[0] for row in deployment.sql(f"SELECT done_at FROM bench_baseline_counter WHERE id > {start}")])


def unit_of_work_round(deployment: Deployment, count: int, clusters: int) -> float:
    start = deployment.sql("SELECT COALESCE(MAX(id), 0) FROM bench_baseline_job")[0][0]
    deployment.manage("bench_enqueue", str(count), "--unit-of-work")
    run_cluster_until(deployment, clusters, f"SELECT COUNT(*) FROM bench_baseline_job WHERE id > {start} "
                      "AND state = 'done'", count, BY_HAND)
    return rate([row[0] for row in deployment.sql(f"SELECT finished_at FROM bench_baseline_job WHERE id > {start}")])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=400)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clusters", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--broker", choices=["orm", "redis"], default="orm")
    options = parser.parse_args()
    workers = {"EVENTTREE_WORKERS": str(options.workers)}
    with bench_deployment(broker=options.broker, package=PACKAGE, env=workers) as deployment:
        deployment.start_web()
        rates: dict[str, list[float]] = {BASELINE: [], BY_HAND: [], PRODUCT: []}
        for _ in range(options.rounds):
            rates[BASELINE].append(baseline_round(deployment, options.blocks, options.clusters))
            rates[BY_HAND].append(unit_of_work_round(deployment, options.blocks, options.clusters))
            rates[PRODUCT].append(product_round(deployment, options.blocks, options.clusters))
    print(environment())
    clusters = "one qcluster" if options.clusters == 1 else f"{options.clusters} qclusters"
    print(f"set-up: {'PostgreSQL + Redis' if options.broker == 'redis' else 'SQLite + ORM broker'}, {clusters} "
          f"of {options.workers} workers each; {options.blocks} tasks a round, queued before the cluster starts; "
          f"{options.rounds} rounds in turn")
    baseline = statistics.median(rates[BASELINE])
    print(f"{'':<38}{'per second (each round)':>26}{'median':>9}  ratio")
    for name, values in rates.items():
        median = statistics.median(values)
        print(f"{name:<38}{', '.join(f'{value:.1f}' for value in values):>26}{median:>9.1f}  {median / baseline:.2f}x")
    kinds = KINDS
    print(f"\ncores kept busy while the clusters ran, by kind of process (median of rounds; {os.cpu_count()} "
          f"on this machine; a single process at 1.00 is the limit)")
    print(f"{'':<38}" + "".join(f"{kind:>23}" for kind in kinds))
    for name in rates:
        print(f"{name:<38}" + "".join(f"{statistics.median(r[kind] for r in CORES[name]):>23.2f}" for kind in kinds))


if __name__ == "__main__":
    main()
