"""Real worker processes for integration and browser tests (`manage.py qcluster`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


class QCluster:
    """A `manage.py qcluster` process on the test database, with the `manage.py timers` that wake
    Delays and retries at their due time (as `serve` runs them), both stopped with SIGTERM."""

    def __init__(self, *, workdir: Path, env: dict[str, str] | None = None, workers: int = 2) -> None:
        self.workdir = workdir
        self.mail_dir = workdir / "mail"
        self.mail_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / f"qcluster-{time.monotonic_ns()}.log"
        database = connection.settings_dict
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "automations.test_settings",
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(self.mail_dir),
            "EVENTTREE_WORKERS": str(workers),
            "EVENTTREE_RETRY_BASE_SECONDS": "1",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        if database["ENGINE"].endswith("sqlite3") and "DATABASE_URL" not in (env or {}):
            self.env["DATABASE_URL"] = f"sqlite:///{database['NAME']}"
        self.process: subprocess.Popen | None = None
        self.timers: subprocess.Popen | None = None

    def start(self, *, timers: bool = True) -> QCluster:
        self.log = open(self.log_path, "wb")
        self.process = self.spawn("qcluster")
        if timers:
            self.timers = self.spawn("timers")
        return self

    def spawn(self, command: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "manage.py", command],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self) -> None:
        for process in (self.timers, self.process):
            if process:
                process_group_stop(process)
        self.log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def sent_mail(self) -> list[str]:
        return [path.read_text(errors="replace") for path in sorted(self.mail_dir.glob("*.log"))]


def process_group_stop(process: subprocess.Popen, *, timeout: float = 20) -> None:
    """Stop a process started with `start_new_session=True`, and everything it started.

    SIGTERM goes to the leader only: qcluster and gunicorn then stop their children in order
    (signalling the whole group at once makes qcluster's shutdown hang until its timeout).
    Whatever is left in the group afterwards is killed.
    """
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait(timeout=10)


def process_ancestors(pid: int) -> list[int]:
    """The parent, grandparent, … of a live process (Linux /proc), nearest first."""
    ancestors = []
    while pid > 1:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            break
        # The command name, in parentheses, may contain spaces: the fields follow the last ")".
        pid = int(stat.rsplit(")", 1)[1].split()[1])
        ancestors.append(pid)
    return ancestors


def wait_until(condition: Callable[[], Any], *, timeout: float, interval: float = 0.25,
               describe: Callable[[], str] | None = None) -> Any:
    """Poll `condition` until it returns a truthy value; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = describe() if describe else ""
            raise AssertionError(f"condition not met within {timeout} s. {detail}")
        time.sleep(interval)


def test_database_is_a_file() -> bool:
    name = str(settings.DATABASES["default"]["NAME"])
    return "memory" not in name
