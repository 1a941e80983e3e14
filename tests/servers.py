"""Throw-away PostgreSQL and Redis servers for integration tests and scripts.

Each server runs from the machine's own binaries on a free loopback port, in a temporary folder
that is removed when it stops. Nothing here depends on pytest: `bench/` and `scripts/` use it too.
A missing binary is an error that says how to install it, never a reason to skip.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

INSTALL_HINT = "run `sh scripts/system-deps.sh` (what `make test` does) to install it"


class ServerUnavailable(RuntimeError):
    """A server binary is missing or the server did not start."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_accepts(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def wait_for_port(port: int, *, timeout: float) -> None:
    wait_for(lambda: port_accepts(port), timeout=timeout, what=f"a server on port {port}")


def wait_for(condition, *, timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise ServerUnavailable(f"{what} did not start within {timeout} s.\n{tail}")
        time.sleep(0.1)


class PostgresServer:
    """A PostgreSQL cluster made by `initdb`, run by `pg_ctl`, trusting connections from loopback.

    PostgreSQL refuses to run as root: as root, its commands run as the `postgres` system user
    (created by Debian's package), which then owns the temporary folder.
    """

    def __init__(self) -> None:
        self.bin_dir = self.find_bin_dir()
        self.port = 0
        self.dir: Path | None = None
        self.user = "postgres"
        self.databases = 0

    @staticmethod
    def find_bin_dir() -> Path:
        candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=pg_version)
        on_path = shutil.which("initdb")
        if candidates:
            return Path(candidates[-1]).parent
        if on_path:
            return Path(on_path).parent
        raise ServerUnavailable(f"PostgreSQL's initdb is not installed: {INSTALL_HINT}.")

    def command(self, *args: str) -> list[str]:
        if os.geteuid() != 0:
            return list(args)
        try:
            pwd.getpwnam(self.user)
        except KeyError:
            raise ServerUnavailable(
                f"PostgreSQL cannot run as root and there is no {self.user!r} user: {INSTALL_HINT}."
            ) from None
        return ["runuser", "-u", self.user, "--", *args]

    def start(self) -> PostgresServer:
        self.dir = Path(tempfile.mkdtemp(prefix="eventtree-postgres-"))
        if os.geteuid() == 0:
            shutil.chown(self.dir, user=self.user)
        data, sockets, log = self.dir / "data", self.dir / "sockets", self.dir / "server.log"
        run = lambda *args: subprocess.run(  # noqa: E731
            self.command(*args), check=True, capture_output=True, text=True
        )
        try:
            run("mkdir", str(sockets))
            run(str(self.bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                "--encoding=UTF8", "--no-locale", "--no-sync")
            self.port = free_port()
            # Durability settings are off: the data is thrown away, and the tests run faster.
            options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {sockets} "
                       "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                       "-c max_connections=200")
            run(str(self.bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options,
                "-w", "-t", "60", "start")
        except subprocess.CalledProcessError as exc:
            self.stop()
            raise ServerUnavailable(f"PostgreSQL did not start: {exc.stderr or exc.stdout}") from exc
        return self

    def stop(self) -> None:
        if self.dir is None:
            return
        if (self.dir / "data" / "postmaster.pid").exists():
            subprocess.run(
                self.command(str(self.bin_dir / "pg_ctl"), "-D", str(self.dir / "data"),
                             "-m", "immediate", "-w", "stop"),
                capture_output=True,
            )
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str) -> None:
        """Run one statement outside a transaction (CREATE DATABASE needs that)."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(sql)

    def database_create(self, name: str | None = None, *, template: str | None = None) -> str:
        """Create a database, as a copy of `template` if given; returns its URL."""
        self.databases += 1
        name = name or f"eventtree_{self.databases}"
        clause = f" TEMPLATE {template}" if template else ""
        self.execute(f"CREATE DATABASE {name}{clause}")
        return self.url(name)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def pg_version(path: str) -> int:
    try:
        return int(Path(path).parent.parent.name)
    except ValueError:
        return 0


class RedisServer:
    """A `redis-server` without persistence; `stop()` and `start()` again keep its port."""

    def __init__(self) -> None:
        self.binary = shutil.which("redis-server")
        if not self.binary:
            raise ServerUnavailable(f"redis-server is not installed: {INSTALL_HINT}.")
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="eventtree-redis-"))
        self.process: subprocess.Popen | None = None
        self.log = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.log = open(self.dir / "server.log", "ab")
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for(lambda: self.process.poll() is None and port_accepts(self.port),
                     timeout=20, what="redis-server", log=self.dir / "server.log")
        except ServerUnavailable:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server; what it held is gone, as after a crash without persistence."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
        if self.log:
            self.log.close()
            self.log = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()
