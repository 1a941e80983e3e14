"""The timer loop (DESIGN §3.12) as a process of its own: `manage.py timers`.

`serve` runs it next to the worker cluster; in scale-out run it on one machine or more (each
block is woken once, whichever loop finds it). SIGTERM or Ctrl-C stops it within a second.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from eventtree.engine.timers import timers_run


class Command(BaseCommand):
    help = ("Wake Delays and retries at their due time (within about a second). Safe to run on "
            "several machines at once.")

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda signum, frame: stop.set())
        max_sleep = settings.EVENTTREE["TIMER_MAX_SLEEP_SECONDS"]
        self.stdout.write(f"Timers started: a look for due blocks at least every {max_sleep:g} s.")
        timers_run(stop=stop, max_sleep=max_sleep)
        self.stdout.write("Timers stopped.")
