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
