"""The product's settings plus the baselines the benchmarks compare it with (bench/baseline/).

Only the benchmarks use these: `DJANGO_SETTINGS_MODULE=bench.settings`.
"""

from automations.settings import *  # noqa: F403
from automations.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "bench.baseline"]
ROOT_URLCONF = "bench.urls"
