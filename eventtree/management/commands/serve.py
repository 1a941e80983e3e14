"""Web server, worker cluster and timers together, for the embedded default (one command, one
terminal)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = ("Run the web server, a django-q2 worker cluster and the timers together (development "
            "and demos).")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args: Any, addrport: str, **options: Any) -> None:
        # qcluster must not run under the autoreloader, so it is a child process of its own; the
        # timers (engine/timers.py) are one too, stopped with it.
        children = [self.start_child("qcluster", "Worker cluster"), self.start_child("timers", "Timers")]
        # SIGTERM would end this process without running `finally`, orphaning the children.
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
        try:
            call_command("runserver", addrport, use_reloader=False)
        finally:
            for child in children:
                if child.poll() is None:
                    os.killpg(child.pid, signal.SIGTERM)
            for child in children:
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(child.pid, signal.SIGKILL)

    def start_child(self, command: str, name: str) -> subprocess.Popen:
        child = subprocess.Popen(
            [sys.executable, "manage.py", command], env=os.environ.copy(), start_new_session=True
        )
        self.stdout.write(f"{name} started (pid {child.pid}).")
        return child
