"""What every benchmark prints first: when, where and what was measured."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def environment() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    changed = " with local changes" if git("status", "--porcelain", "--untracked-files=no") else ""
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (f"date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} UTC · nproc: {os.cpu_count()} · "
            f"load: {load} · Python {platform.python_version()} · commit {git('rev-parse', '--short', 'HEAD')}"
            f"{changed}\ncommand: {' '.join([Path(sys.executable).name, *sys.argv])}")


KINDS = ["workers", "busiest worker process", "PostgreSQL", "Redis", "web and benchmark", "rest of the machine"]


def cpu_snapshot(roots: set[int] = frozenset()) -> dict[int, tuple[str, float]]:
    """Each live process with its kind and the CPU seconds (user + system) it used so far: the
    worker clusters (`qcluster`), PostgreSQL, Redis and the rest of this benchmark (itself, the web
    server), all descendants of this process or of `roots` (servers that detached); then
    everything else on the machine."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents, used, commands = {}, {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue  # ended meanwhile
        pid = int(stat.parent.name)
        parents[pid], used[pid], commands[pid] = int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks, command
    ours, grew = {os.getpid(), *roots}, True
    while grew:  # a child may have a lower pid than its parent: look again until nothing is added
        grew = False
        for pid, parent in parents.items():
            if parent in ours and pid not in ours:
                ours.add(pid)
                grew = True
    snapshot = {}
    for pid, seconds in used.items():
        command = commands[pid]
        if pid not in ours:
            kind = "rest of the machine"
        elif b"qcluster" in command:
            kind = "workers"
        elif b"postgres" in command:
            kind = "PostgreSQL"
        elif b"redis-server" in command:
            kind = "Redis"
        else:
            kind = "web and benchmark"
        snapshot[pid] = (kind, seconds)
    return snapshot


def cores_busy(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]],
               wall: float) -> dict[str, float]:
    """How many cores each kind of process kept busy between two snapshots `wall` seconds apart
    (a process that ended in between is left out), and the busiest single cluster process: a
    process at 1.0 is the limit, whatever the number of cores."""
    busy = dict.fromkeys(KINDS, 0.0)
    for pid, (kind, seconds) in after.items():
        cores = (seconds - (before[pid][1] if pid in before else 0.0)) / wall
        busy[kind] += cores
        if kind == "workers":
            busy["busiest worker process"] = max(busy["busiest worker process"], cores)
    return busy
