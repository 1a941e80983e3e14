"""Web server and worker cluster together, for the embedded default (one command, one terminal)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the web server and a django-q2 worker cluster together (development and demos)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args: Any, addrport: str, **options: Any) -> None:
        # qcluster must not run under the autoreloader, so it is a child process of its own.
        cluster = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"], env=os.environ.copy(), start_new_session=True
        )
        self.stdout.write(f"Worker cluster started (pid {cluster.pid}).")
        # SIGTERM would end this process without running `finally`, orphaning the cluster.
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
        try:
            call_command("runserver", addrport, use_reloader=False)
        finally:
            if cluster.poll() is None:
                os.killpg(cluster.pid, signal.SIGTERM)
                try:
                    cluster.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(cluster.pid, signal.SIGKILL)
