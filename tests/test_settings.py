"""Production settings refuse to start without a real secret key and allowed hosts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def start(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL"))}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT, env={**clean, "DJANGO_SETTINGS_MODULE": "automations.settings", **env},
        capture_output=True, text=True, timeout=60,
    )


@pytest.mark.parametrize("env, message", [
    ({}, "DJANGO_SECRET_KEY"),
    ({"DJANGO_SECRET_KEY": "short"}, "DJANGO_SECRET_KEY"),
    ({"DJANGO_SECRET_KEY": "k" * 50}, "DJANGO_ALLOWED_HOSTS"),
])
def test_production_settings_refuse_weak_configuration(env, message, tmp_path):
    result = start(EVENTTREE_DATA_DIR=str(tmp_path), **env)
    assert result.returncode != 0 and message in result.stderr


def test_production_settings_start_with_a_key_and_hosts(tmp_path):
    result = start(DJANGO_SECRET_KEY="k" * 50, DJANGO_ALLOWED_HOSTS="forms.example.com",
                   EVENTTREE_DATA_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr


def test_debug_is_off_unless_asked_for(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")},
             "DJANGO_SETTINGS_MODULE": "automations.settings", "DJANGO_SECRET_KEY": "k" * 50,
             "DJANGO_ALLOWED_HOSTS": "x", "EVENTTREE_DATA_DIR": str(tmp_path)},
    )
    assert result.stdout.strip() == "False"
