"""`sleep`: holds a block open, so that a test can kill the worker in the middle of it."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django import forms

from eventtree.actions.base import BaseAction

if TYPE_CHECKING:
    from eventtree.engine.context import RunContext

# A folder where each sleeping worker leaves a file named by its pid while it sleeps, so the test
# knows which process is in the middle of a block.
SLEEPERS_DIR = "EVENTTREE_TEST_SLEEPERS_DIR"


class SleepConfig(forms.Form):
    seconds = forms.FloatField(min_value=0, max_value=60)


class Sleep(BaseAction):
    key = "sleep"
    label = "Sleep (tests only)"
    config_form = SleepConfig

    def run(self, context: RunContext, config: dict[str, Any]) -> str:
        folder = os.environ.get(SLEEPERS_DIR)
        marker = None
        if folder:
            block = context.block.pk if context.block else "sync"
            marker = Path(folder) / f"{os.getpid()}.block-{block}.attempt-{context.attempt}"
            marker.touch()
        time.sleep(config["seconds"])
        if marker:
            marker.unlink(missing_ok=True)
        return f"slept {config['seconds']} s"
