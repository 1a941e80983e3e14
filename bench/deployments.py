"""A throw-away deployment for the benchmarks that run real processes: the README's set-up
commands (tests/integration/deployment.py) on SQLite, or on a throw-away PostgreSQL and Redis,
with the baselines installed (bench/settings.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
import tempfile
from typing import Any

from tests.integration.deployment import Deployment
from tests.servers import PostgresServer, RedisServer


@contextmanager
def bench_deployment(*, broker: str, package: dict[str, Any], env: dict[str, str] | None = None) -> Iterator[Deployment]:
    """Installed, with `package` imported; every process and server stopped on exit."""
    with tempfile.TemporaryDirectory(prefix="bench-") as folder, ExitStack() as stack:
        workdir = Path(folder)
        if broker == "redis":
            postgres = stack.enter_context(PostgresServer())
            redis = stack.enter_context(RedisServer())
            database_url, redis_url = postgres.database_create("bench"), redis.url
        else:
            database_url, redis_url = f"sqlite:///{workdir / 'db.sqlite3'}", ""
        deployment = stack.enter_context(Deployment(
            workdir=workdir / "deployment", database_url=database_url, redis_url=redis_url,
            env={"DJANGO_SETTINGS_MODULE": "bench.settings", **(env or {})}))
        deployment.install()
        deployment.import_form(package)
        # PostgreSQL detaches from this process: its main process, for bench/environment.cpu_snapshot.
        deployment.server_pids = ({int((postgres.dir / "data" / "postmaster.pid").read_text().split()[0])}
                                  if broker == "redis" else set())
        yield deployment
