"""What a poll of an unchanged post-submission status costs, next to a constant JSON view.

A throw-away deployment set up by the README's commands (tests/integration/deployment.py), its
web server the README's gunicorn command, with the baselines installed (`bench.settings`); one
visitor submits the reference tree, and no worker runs, so the status does not change. Then
ApacheBench (`apt-get install apache2-utils`) sends `--requests` GETs from `--concurrency`
clients at a time, in turn: to `status.json` with the `If-None-Match` of its last answer (each
a 304), and to a view answering constant JSON (bench/baseline/). Prints the environment,
requests/s, median and p95 of each, and the ratio.

    .venv/bin/python bench/polls.py [--concurrency 200] [--requests 4000] [--rounds 2]
    .venv/bin/python bench/polls.py --broker redis    # PostgreSQL + Redis (tests/servers.py)
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.environment import environment  # noqa: E402
from bench.submit import REFERENCE  # noqa: E402
from eventtree.engine.caching import FORGOTTEN_SECONDS  # noqa: E402
from bench.deployments import bench_deployment  # noqa: E402


def ab(url: str, *, requests: int, concurrency: int, headers: dict[str, str]) -> dict[str, float]:
    command = ["ab", "-q", "-n", str(requests), "-c", str(concurrency), "-s", "60"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    failed = int(re.search(r"Failed requests:\s+(\d+)", output).group(1))
    return {
        "per_second": float(re.search(r"Requests per second:\s+([\d.]+)", output).group(1)),
        "median_ms": float(re.search(r"^\s+50%\s+(\d+)", output, re.M).group(1)),
        "p95_ms": float(re.search(r"^\s+95%\s+(\d+)", output, re.M).group(1)),
        "failed": failed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--broker", choices=["orm", "redis"], default="orm")
    options = parser.parse_args()
    if not shutil.which("ab"):
        sys.exit("ApacheBench is missing: apt-get install apache2-utils")
    with bench_deployment(broker=options.broker, package=REFERENCE, env=None) as deployment:
        deployment.start_web()
        # A form just imported is read from the database, and its submissions' stamps are not
        # cached, for FORGOTTEN_SECONDS (engine/caching.py); a live form was saved long before.
        time.sleep(FORGOTTEN_SECONDS + 1)
        location = deployment.submit("membership", {"name": "Ada", "email": "ada@example.com"})
        status_url = deployment.url(location + "status.json")
        with urllib.request.urlopen(status_url) as response:
            etag = response.headers["ETag"]
        targets = {
            "baseline: constant JSON view": (deployment.url("/bench/constant.json"), {}),
            "status.json, unchanged (304)": (status_url, {"If-None-Match": etag}),
        }
        results: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
        for _ in range(options.rounds):
            for name, (url, headers) in targets.items():
                results[name].append(ab(url, requests=options.requests, concurrency=options.concurrency,
                                        headers=headers))
    print(environment())
    print(f"set-up: {'PostgreSQL + Redis' if options.broker == 'redis' else 'SQLite + ORM broker'}, "
          f"gunicorn as the README starts it; {options.concurrency} concurrent clients, "
          f"{options.requests} requests a round, {options.rounds} rounds in turn (medians of rounds)")
    baseline = statistics.median(r["per_second"] for r in results["baseline: constant JSON view"])
    print(f"{'':<32}{'requests/s':>12}{'median ms':>11}{'p95 ms':>9}{'failed':>8}  ratio")
    for name, rounds in results.items():
        per_second = statistics.median(r["per_second"] for r in rounds)
        print(f"{name:<32}{per_second:>12.0f}{statistics.median(r['median_ms'] for r in rounds):>11.0f}"
              f"{statistics.median(r['p95_ms'] for r in rounds):>9.0f}{sum(r['failed'] for r in rounds):>8}"
              f"  {per_second / baseline:.2f}x")


if __name__ == "__main__":
    main()
